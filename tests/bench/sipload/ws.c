/* sipload WebSocket client side (RFC 6455): the upgrade with subprotocol sip, masked frames out, frames in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "sipload.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void sl_ws_handshake_request(struct sl_conn *c)
{
	unsigned char nonce[16];
	char req[512];
	int n;

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		memset(nonce, 0x5a, sizeof(nonce));
	EVP_EncodeBlock((unsigned char *)c->ws_key, nonce, sizeof(nonce));
	n = snprintf(req, sizeof(req),
		     "GET / HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n"
		     "Origin: %s\r\n\r\n",
		     sl_cfg.host, sl_cfg.port, c->ws_key, sl_cfg.origin);
	sl_buf_add(&c->out, req, (size_t)n);
}

/* Checks the 101 answer: status, subprotocol sip and Sec-WebSocket-Accept; consumes it. */
int sl_ws_handshake_response(struct sl_conn *c)
{
	unsigned char digest[SHA_DIGEST_LENGTH];
	char src[96], accept[32];
	const char *end, *h;
	size_t hlen;

	end = memmem(c->in.p, c->in.len, "\r\n\r\n", 4);
	if (!end)
		return EAGAIN;
	hlen = (size_t)(end - c->in.p) + 4;
	if (hlen < 12 || memcmp(c->in.p, "HTTP/1.1 101", 12)) {
		fprintf(stderr, "sipload: WebSocket upgrade refused: %.*s\n", (int)strcspn(c->in.p, "\r\n"),
			c->in.p);
		return EPROTO;
	}
	snprintf(src, sizeof(src), "%s%s", c->ws_key, ws_guid);
	SHA1((const unsigned char *)src, strlen(src), digest);
	EVP_EncodeBlock((unsigned char *)accept, digest, sizeof(digest));
	h = memmem(c->in.p, hlen, accept, strlen(accept));
	if (!h || !memmem(c->in.p, hlen, "sip", 3)) {
		fprintf(stderr, "sipload: WebSocket upgrade without the right accept key or subprotocol\n");
		return EPROTO;
	}
	sl_buf_consume(&c->in, hlen);
	return 0;
}

static uint32_t mask_seed = 0x9e3779b9u;

/* xorshift: a fresh masking key per frame without a system call (masking needs no crypto strength
 * from a load tool; RFC 6455 wants it unpredictable to intermediaries, which loopback has none of). */
static uint32_t next_mask(void)
{
	mask_seed ^= mask_seed << 13;
	mask_seed ^= mask_seed >> 17;
	mask_seed ^= mask_seed << 5;
	return mask_seed;
}

void sl_ws_frame(struct sl_buf *out, int opcode, const char *p, size_t len)
{
	unsigned char hdr[14];
	size_t h = 0, i;
	uint32_t m = next_mask();
	uint64_t m8;
	char *dst;

	hdr[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		hdr[h++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		hdr[h++] = 0x80 | 126;
		hdr[h++] = (unsigned char)(len >> 8);
		hdr[h++] = (unsigned char)len;
	} else {
		hdr[h++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			hdr[h++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(hdr + h, &m, 4);
	h += 4;
	sl_buf_reserve(out, h + len);
	memcpy(out->p + out->len, hdr, h);
	dst = out->p + out->len + h;
	m8 = (uint64_t)m << 32 | m;
	for (i = 0; i + 8 <= len; i += 8) {
		uint64_t v;

		memcpy(&v, p + i, 8);
		v ^= m8;
		memcpy(dst + i, &v, 8);
	}
	for (; i < len; i++)
		dst[i] = (char)(p[i] ^ ((const unsigned char *)&m)[i & 3]);
	out->len += h + len;
}

/* Frames from the server: text/binary messages (fragments joined), ping answered, close ends. */
int sl_ws_parse(struct sl_conn *c)
{
	const unsigned char *b;
	size_t off = 0, avail, h, len, i;
	int op, fin;
	char *pl;

	while (c->state == SL_OPEN && (avail = c->in.len - off) >= 2) {
		b = (const unsigned char *)c->in.p + off;
		fin = b[0] & 0x80;
		op = b[0] & 0x0f;
		len = b[1] & 0x7f;
		h = 2;
		if (len == 126) {
			if (avail < 4)
				break;
			len = (size_t)b[2] << 8 | b[3];
			h = 4;
		} else if (len == 127) {
			if (avail < 10)
				break;
			for (len = 0, i = 0; i < 8; i++)
				len = len << 8 | b[2 + i];
			h = 10;
		}
		if (b[1] & 0x80)
			h += 4; /* a masked server frame is wrong but harmless here: unmask it */
		if (avail < h + len)
			break;
		pl = c->in.p + off + h;
		if (b[1] & 0x80)
			for (i = 0; i < len; i++)
				pl[i] ^= b[h - 4 + (i & 3)];
		off += h + len;
		if (op == 8) {
			c->in.len = 0;
			return EPROTO;
		}
		if (op == 9) {
			sl_ws_frame(&c->out, 10, pl, len);
			sl_conn_mark_dirty(c);
			continue;
		}
		if (op == 10)
			continue;
		if (op == 0 || !fin) {
			sl_buf_add(&c->ws_msg, pl, len);
			if (fin) {
				sl_deliver(c, c->ws_msg.p, c->ws_msg.len);
				c->ws_msg.len = 0;
			}
			continue;
		}
		sl_deliver(c, pl, len);
	}
	sl_buf_consume(&c->in, off);
	return 0;
}
