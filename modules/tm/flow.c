/*
 * Flow tokens (RFC 5626 5.2, as RFC 7118 5 applies it): the user part of our
 * Record-Route toward a WebSocket peer names the connection, so in-dialog
 * requests from the other side reach a browser whose Contact is .invalid.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "tm_int.h"

#define MAC_LEN     8
#define PAYLOAD_MAX (1 + 8 + 2 + 1 + 16)

/* Per process: tokens do not survive a restart, and nor do the connections they name. */
static unsigned char key[32];

int tm_flow_init(void)
{
	return RAND_bytes(key, sizeof(key)) == 1 ? 0 : EIO;
}

bool tm_flow_proto(enum sipd_proto p)
{
	return p == SIPD_PROTO_WS || p == SIPD_PROTO_WSS;
}

/* proto | conn_id | port | family (4 or 6) | address */
static size_t payload(unsigned char *p, const struct sipd_dest *d)
{
	size_t n = 0;
	uint16_t port = sipd_sockaddr_port(&d->addr);

	p[n++] = (unsigned char)d->proto;
	for (int i = 7; i >= 0; i--)
		p[n++] = (unsigned char)(d->conn_id >> (8 * i));
	p[n++] = (unsigned char)(port >> 8);
	p[n++] = (unsigned char)port;
	if (d->addr.sa.sa_family == AF_INET6) {
		p[n++] = 6;
		memcpy(p + n, &d->addr.sin6.sin6_addr, 16);
		return n + 16;
	}
	p[n++] = 4;
	memcpy(p + n, &d->addr.sin.sin_addr, 4);
	return n + 4;
}

static void mac(unsigned char out[MAC_LEN], const unsigned char *p, size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	HMAC(EVP_sha256(), key, sizeof(key), p, n, md, &len);
	memcpy(out, md, MAC_LEN);
}

int tm_flow_encode(char *buf, size_t size, const struct sipd_dest *d)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char p[PAYLOAD_MAX + MAC_LEN];
	size_t n;

	if (!tm_flow_proto(d->proto) || !d->conn_id ||
	    (d->addr.sa.sa_family != AF_INET && d->addr.sa.sa_family != AF_INET6))
		return EINVAL;
	n = payload(p, d);
	mac(p + n, p, n);
	n += MAC_LEN;
	if (size < 2 * n + 1)
		return ENOSPC;
	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = hex[p[i] >> 4];
		buf[2 * i + 1] = hex[p[i] & 15];
	}
	buf[2 * n] = '\0';
	return 0;
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int tm_flow_decode(struct sipd_dest *out, struct sipd_str user)
{
	unsigned char p[PAYLOAD_MAX + MAC_LEN], want[MAC_LEN];
	struct sipd_dest d;
	size_t n = user.len / 2, i = 0;
	uint64_t id = 0;
	uint16_t port;

	if (user.len % 2 || (n != 12 + 4 + MAC_LEN && n != 12 + 16 + MAC_LEN))
		return EINVAL;
	for (size_t k = 0; k < n; k++) {
		int hi = nibble(user.p[2 * k]), lo = nibble(user.p[2 * k + 1]);

		if (hi < 0 || lo < 0)
			return EINVAL;
		p[k] = (unsigned char)(hi << 4 | lo);
	}
	mac(want, p, n - MAC_LEN);
	/* Forged or from before a restart: not ours to follow. */
	if (CRYPTO_memcmp(want, p + n - MAC_LEN, MAC_LEN))
		return EBADMSG;
	memset(&d, 0, sizeof(d));
	d.proto = (enum sipd_proto)p[i++];
	for (int k = 0; k < 8; k++)
		id = id << 8 | p[i++];
	d.conn_id = id;
	port = (uint16_t)(p[i] << 8 | p[i + 1]);
	i += 2;
	if (p[i] == 6 && n == 12 + 16 + MAC_LEN) {
		d.addr.sin6.sin6_family = AF_INET6;
		memcpy(&d.addr.sin6.sin6_addr, p + i + 1, 16);
		d.addr.sin6.sin6_port = htons(port);
	} else if (p[i] == 4 && n == 12 + 4 + MAC_LEN) {
		d.addr.sin.sin_family = AF_INET;
		memcpy(&d.addr.sin.sin_addr, p + i + 1, 4);
		d.addr.sin.sin_port = htons(port);
	} else {
		return EINVAL;
	}
	if (!tm_flow_proto(d.proto) || !d.conn_id)
		return EINVAL;
	d.from = tm_listen_for(d.proto, d.addr.sa.sa_family);
	*out = d;
	return 0;
}
