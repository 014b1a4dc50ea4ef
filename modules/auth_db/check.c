/* auth_check(): digest authentication of a request (RFC 3261 22, RFC 7616, RFC 8760). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/loop.h>
#include <sipd/module.h>
#include <sipd/msg.h>
#include <sipd/stats.h>

#include "auth_db.h"

static struct sipd_stat *st_ok, *st_challenge, *st_stale, *st_replay, *st_forbidden, *st_identity, *st_bad,
    *st_guard;

int auth_check_init(void)
{
	st_ok = sipd_stat_register("auth_db", "authenticated", "requests with valid credentials");
	st_challenge = sipd_stat_register("auth_db", "challenges", "401/407 challenges sent");
	st_stale = sipd_stat_register("auth_db", "stale", "challenges with stale=true (expired nonce)");
	st_replay = sipd_stat_register("auth_db", "replays", "nonce-count replays refused");
	st_forbidden =
	    sipd_stat_register("auth_db", "forbidden", "403: wrong password, unknown or disabled user");
	st_identity =
	    sipd_stat_register("auth_db", "identity_mismatch",
			       "403: authenticated user differs from the To (REGISTER) or From user");
	st_bad = sipd_stat_register("auth_db", "malformed", "400: malformed or unsupported credentials");
	st_guard = sipd_stat_register("auth_db", "guard_refused",
				      "403: credentials not checked while their user+address backs off");
	return st_ok && st_challenge && st_stale && st_replay && st_forbidden && st_identity && st_bad &&
		       st_guard
		   ? 0
		   : ENOMEM;
}

/* Wall-clock milliseconds: nonces must stay valid across a restart within their TTL. */
static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Appends the strings of parts (up to a NULL) to buf; false when they do not fit with a NUL. */
static bool append(char *buf, size_t size, size_t *used, const char *const *parts)
{
	for (; *parts; parts++) {
		size_t len = strlen(*parts);

		if (len >= size - *used)
			return false;
		memcpy(buf + *used, *parts, len + 1);
		*used += len;
	}
	return true;
}

/* 401 for REGISTER (WWW-Authenticate), 407 otherwise; SHA-256 offered before MD5 (RFC 8760 2.4). */
static enum sipd_result challenge(struct sipd_ctx *ctx, bool reg, bool stale)
{
	const char *hdr = reg ? "WWW-Authenticate" : "Proxy-Authenticate";
	char nonce[AUTH_NONCE_LEN + 1], extra[1024] = "";
	size_t used = 0;
	int err;

	if ((err = auth_nonce_make(nonce, wall_ms()))) {
		SIPD_ERR("cannot make a nonce: %s", strerror(err));
		return SIPD_ERROR;
	}
	/* Every challenge: pieces put together, not a printf format parsed each time. */
	for (unsigned i = 0; i < auth_offered_count; i++) {
		const char *const parts[] = {hdr,
					     ": Digest realm=\"",
					     auth_realm,
					     "\", nonce=\"",
					     nonce,
					     "\", algorithm=",
					     auth_algo_name(auth_offered[i]),
					     ", qop=\"auth\"",
					     stale ? ", stale=true\r\n" : "\r\n",
					     NULL};

		if (!append(extra, sizeof(extra), &used, parts))
			return SIPD_ERROR;
	}
	sipd_stat_inc(st_challenge);
	if (stale)
		sipd_stat_inc(st_stale);
	if ((err = sipd_reply(ctx, reg ? 401 : 407, NULL, extra)))
		SIPD_DBG("challenge not sent: %s", strerror(err));
	return SIPD_STOP;
}

static enum sipd_result refuse(struct sipd_ctx *ctx, int code, const char *reason, struct sipd_stat *st)
{
	int err;

	sipd_stat_inc(st);
	if ((err = sipd_reply(ctx, code, reason, NULL)))
		SIPD_DBG("%d not sent: %s", code, strerror(err));
	return SIPD_STOP;
}

/* A wrong password counts toward the user+address back-off (guard.c). */
static enum sipd_result wrong_password(struct sipd_ctx *ctx, struct sipd_str user)
{
	char ip[64];

	if (auth_guard_failed(user, &ctx->rcv->src, ctx->rcv->time_ms))
		SIPD_NOTICE("auth: repeated wrong passwords for user '%.*s' (last from %s): backing off",
			    (int)(user.len > 64 ? 64 : user.len), user.p,
			    sipd_sockaddr_ip(&ctx->rcv->src, ip, sizeof(ip)));
	return refuse(ctx, 403, "Forbidden", st_forbidden);
}

/* 403 with Retry-After (RFC 3261 20.33) while the guard makes this user+address wait. */
static enum sipd_result backoff(struct sipd_ctx *ctx, uint64_t wait_ms)
{
	char extra[64];
	int err;

	sipd_stat_inc(st_guard);
	snprintf(extra, sizeof(extra), "Retry-After: %llu\r\n", (unsigned long long)(wait_ms + 999) / 1000);
	if ((err = sipd_reply(ctx, 403, "Too Many Failed Attempts", extra)))
		SIPD_DBG("403 not sent: %s", strerror(err));
	return SIPD_STOP;
}

static bool offered(enum auth_algo a)
{
	for (unsigned i = 0; i < auth_offered_count; i++)
		if (auth_offered[i] == a)
			return true;
	return false;
}

static bool parse_nc(struct sipd_str s, uint32_t *out)
{
	uint32_t v = 0;

	if (s.len != 8)
		return false;
	for (size_t i = 0; i < 8; i++) {
		char c = s.p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;

		if (d < 0)
			return false;
		v = v << 4 | (uint32_t)d;
	}
	*out = v;
	return v != 0;
}

static uint32_t fnv(uint32_t h, struct sipd_str s)
{
	for (size_t i = 0; i < s.len; i++)
		h = (h ^ (unsigned char)s.p[i]) * 16777619u;
	return h;
}

/*
 * What makes a request the same one retransmitted: its top Via branch, method, Request-URI and CSeq
 * number. An nc seen before passes only with all of them (auth_nc_accept), so an old Authorization cannot
 * ride on an altered request whatever digest_uri allows. 0 when there is no branch: never a retransmission.
 */
static uint32_t branch_hash(struct sipd_msg *m)
{
	const struct sipd_via *via;
	const struct sipd_cseq *cseq;
	uint32_t h = 2166136261u;

	if (sipd_msg_via(m, &via) != 0 || !via->branch.len || sipd_msg_cseq(m, &cseq) != 0)
		return 0;
	h = fnv(fnv(fnv(h, via->branch), m->method), m->ruri);
	h = fnv(h, (struct sipd_str){(const char *)&cseq->number, sizeof(cseq->number)});
	return h ? h : 1;
}

/*
 * RFC 2617 3.2.2.5 wants the digest uri to be the Request-URI, but SIPp (uri="sip:HOST:PORT") and some
 * phones put the server's or the domain's URI there. Replay protection does not rest on it (the nonce,
 * the rising nc and branch_hash do), so by default a SIP URI naming us or the Request-URI's host passes.
 */
static bool digest_uri_ok(struct sipd_msg *m, struct sipd_str uri)
{
	const struct sipd_uri *ru;
	struct sipd_uri du;

	if (sipd_str_eq(uri, m->ruri) || auth_uri_mode == AUTH_URI_ANY)
		return true;
	if (auth_uri_mode == AUTH_URI_EXACT || auth_parser->uri_parse(&du, uri) != 0 ||
	    du.scheme == SIPD_URI_TEL)
		return false;
	if (sipd_is_myself(du.host, du.port))
		return true;
	return sipd_msg_ruri(m, &ru) == 0 && ru->scheme != SIPD_URI_TEL &&
	       sipd_str_caseeq(du.host, ru->host) && du.port == ru->port;
}

/* The credentials for our realm among the headers of that type (a request may carry several realms). */
static int find_credentials(struct sipd_msg *m, struct sipd_hdr *h, struct sipd_hdr **hout,
			    const struct sipd_auth **out)
{
	for (; h; h = sipd_msg_hdr_next(m, h)) {
		const struct sipd_auth *a;

		if (sipd_msg_hdr(m, h, (const void **)&a) != 0)
			return EBADMSG;
		if (sipd_str_caseeq_c(a->scheme, "Digest") && sipd_str_eq(a->realm, sipd_str_c(auth_realm))) {
			*hout = h;
			*out = a;
			return 0;
		}
	}
	return ENOENT;
}

/* The user the request speaks for: To in a REGISTER (the AOR, RFC 3261 10.3 step 3), From otherwise. */
static bool identity_matches(struct sipd_msg *m, bool reg, struct sipd_str username)
{
	const struct sipd_nameaddr *na;

	if ((reg ? sipd_msg_to(m, &na) : sipd_msg_from(m, &na)) != 0)
		return false;
	return sipd_str_eq(na->uri.user, username);
}

static enum sipd_result auth_check(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct sipd_msg *m = ctx->msg;
	bool reg = m->method_id == SIPD_METHOD_REGISTER;
	const struct sipd_auth *c;
	struct sipd_hdr *h = NULL;
	enum auth_nonce_state ns;
	enum auth_algo algo;
	char ha1[AUTH_HEX_MAX], want[AUTH_HEX_MAX], got[AUTH_HEX_MAX];
	uint64_t issued = 0, wait;
	uint32_t nc;
	int err;

	(void)args;
	/* ACK and CANCEL cannot be challenged (RFC 3261 22.1): they carry no credentials of their own. */
	if (m->method_id == SIPD_METHOD_ACK || m->method_id == SIPD_METHOD_CANCEL)
		return SIPD_TRUE;
	err = find_credentials(m, reg ? m->h_authorization : m->h_proxy_authorization, &h, &c);
	if (err == ENOENT)
		return challenge(ctx, reg, false);
	if (err)
		return refuse(ctx, 400, "Malformed Credentials", st_bad);
	if (!c->username.len || !c->nonce.len || !c->uri.len || !c->response.len)
		return refuse(ctx, 400, "Incomplete Credentials", st_bad);
	if (auth_algo_parse(&algo, c->algorithm) != 0 || !offered(algo))
		return refuse(ctx, 400, "Unsupported Digest Algorithm", st_bad);
	/* qop=auth is required (RFC 7616): without nc and cnonce a captured response could be replayed. */
	if (!sipd_str_eq(c->qop, SIPD_STR("auth")) || !c->cnonce.len || !parse_nc(c->nc, &nc))
		return refuse(ctx, 400, "Credentials Without qop=auth", st_bad);
	if (!digest_uri_ok(m, c->uri))
		return refuse(ctx, 400, "Digest URI Does Not Match Request-URI", st_bad);
	if (c->response.len != auth_hexlen(algo))
		return refuse(ctx, 400, "Malformed Digest Response", st_bad);

	ns = auth_nonce_check(c->nonce, wall_ms(), (uint64_t)auth_nonce_ttl * 1000u, &issued);
	if (ns == AUTH_NONCE_INVALID)
		return challenge(ctx, reg, false);
	/* Backing off: the password is not even looked at, so guessing gains nothing until the wait ends. */
	if ((wait = auth_guard_check(c->username, &ctx->rcv->src, ctx->rcv->time_ms)))
		return backoff(ctx, wait);
	/* Unknown, disabled and wrong password all read the same, so nobody learns which names exist. */
	if (auth_users_ha1(ha1, c->username, c->realm, algo) != 0)
		return wrong_password(ctx, c->username);
	err = auth_response(want, algo, (struct sipd_str){ha1, auth_hexlen(algo)}, c->nonce, c->nc, c->cnonce,
			    c->qop, m->method, c->uri);
	memset(ha1, 0, sizeof(ha1));
	if (err)
		return SIPD_ERROR;
	for (size_t i = 0; i < c->response.len; i++)
		got[i] = (char)(c->response.p[i] >= 'A' && c->response.p[i] <= 'F' ? c->response.p[i] + 32
										   : c->response.p[i]);
	/*
	 * A wrong response to a fresh nonce is a wrong password: 403 and not a new
	 * 401, so a client does not loop resending the same bad credentials (RFC
	 * 3261 22.4 lets a server answer 403 once credentials were tried).
	 */
	if (!auth_equal((struct sipd_str){got, c->response.len}, (struct sipd_str){want, auth_hexlen(algo)}))
		return wrong_password(ctx, c->username);
	/* Right password, old nonce: stale=true lets the client retry without asking its user (RFC 7616 3.3).
	 */
	if (ns == AUTH_NONCE_STALE)
		return challenge(ctx, reg, true);
	if (!auth_nc_accept(c->nonce, issued, nc, branch_hash(m), wall_ms())) {
		sipd_stat_inc(st_replay);
		return challenge(ctx, reg, true);
	}
	if (auth_check_identity && !identity_matches(m, reg, c->username))
		return refuse(ctx, 403,
			      reg ? "Not Allowed To Register This AOR" : "From Does Not Match Credentials",
			      st_identity);
	/* The next hop has no use for our credentials (RFC 3261 22.3 lets a proxy remove its own). */
	if (auth_remove_credentials && h && m->ops->hdr_remove(m, h) != 0)
		SIPD_DBG("credentials could not be removed");
	auth_guard_succeeded(c->username, &ctx->rcv->src, ctx->rcv->time_ms);
	sipd_stat_inc(st_ok);
	return SIPD_TRUE;
}

const struct sipd_script_fn auth_functions[] = {
    {.name = "auth_check",
     .fn = auth_check,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "Digest authentication against the users table: true when the request carries valid "
	     "credentials; otherwise answers 401/407 (challenge, SHA-256 and MD5), 403 (wrong password, "
	     "unknown or disabled user, foreign AOR) or 400 (malformed) and stops."},
    {.name = NULL},
};
