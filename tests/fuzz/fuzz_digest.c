/* libFuzzer target: an Authorization header value through the parser and auth_db's digest checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_db.h"
#include "parser_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* auth_db's settings, which auth_db.c (not linked: it is a module descriptor too) would hold. */
const char *auth_realm = "fuzz";
int auth_guard_failures = 5, auth_guard_user_failures = 20, auth_guard_max_backoff = 300,
    auth_guard_table = 1024;

static const unsigned char secret[32] = "fuzz-secret-fuzz-secret-fuzz-se";
static const char head[] = "REGISTER sip:example.com SIP/2.0\r\n"
			   "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKfuzz\r\n"
			   "From: <sip:alice@example.com>;tag=1\r\n"
			   "To: <sip:alice@example.com>\r\n"
			   "Call-ID: fuzz\r\n"
			   "CSeq: 1 REGISTER\r\n"
			   "Authorization: ";
static const char tail[] = "\r\nContent-Length: 0\r\n\r\n";

static void init_once(void)
{
	static bool done;

	if (done)
		return;
	if (auth_digest_init() || auth_nonce_init(secret, sizeof(secret), 1024) || auth_guard_init(1024))
		abort();
	done = true;
}

/* What auth_check() does with credentials, short of the users table and the reply. */
static void check_credentials(const struct sipd_auth *c)
{
	char want[AUTH_HEX_MAX], nonce[AUTH_NONCE_LEN + 1];
	static const char ha1[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	union sipd_sockaddr from = {.sin = {.sin_family = AF_INET}};
	enum auth_algo algo;
	uint64_t issued = 0;
	uint32_t nc = 0;

	if (auth_algo_parse(&algo, c->algorithm) != 0)
		algo = AUTH_MD5;
	auth_nonce_check(c->nonce, 1700000000000ull, 300000, &issued);
	if (auth_response(want, algo, (struct sipd_str){ha1, auth_hexlen(algo)}, c->nonce, c->nc, c->cnonce,
			  c->qop, SIPD_STR("REGISTER"), c->uri) == 0)
		auth_equal(c->response, (struct sipd_str){want, auth_hexlen(algo)});
	for (size_t i = 0; i < c->nc.len && i < 8; i++)
		nc = nc << 4 | ((unsigned char)c->nc.p[i] & 15u);
	/* A nonce of ours with the fuzzed count, so the replay table sees the counts. */
	if (auth_nonce_make(nonce, 1700000000000ull) == 0)
		auth_nc_accept(sipd_str_c(nonce), 1700000000000ull, nc, (uint32_t)c->cnonce.len,
			       1700000000001ull);
	if (c->username.len && !auth_guard_check(c->username, &from, 1700000000000ull))
		auth_guard_failed(c->username, &from, 1700000000000ull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sipd_auth *c;
	struct sipd_msg *m = NULL;
	const char *why = NULL;
	size_t len;
	char *buf;

	init_once();
	if (size > 4096)
		return 0;
	len = sizeof(head) - 1 + size + sizeof(tail) - 1;
	if (!(buf = malloc(len)))
		return 0;
	memcpy(buf, head, sizeof(head) - 1);
	memcpy(buf + sizeof(head) - 1, data, size);
	memcpy(buf + sizeof(head) - 1 + size, tail, sizeof(tail) - 1);
	if (parser_parse(&m, buf, len, NULL, &why) == 0) {
		if (m->h_authorization && sipd_msg_hdr(m, m->h_authorization, (const void **)&c) == 0)
			check_credentials(c);
		parser_free(m);
	}
	/* The value alone, as Proxy-Authorization and WWW-Authenticate values are parsed. */
	{
		struct sipd_auth a;

		parser_auth_parse(&a, (struct sipd_str){(const char *)data, size});
	}
	free(buf);
	return 0;
}
