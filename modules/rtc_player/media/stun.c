/* STUN for an ICE-lite agent (RFC 5389/8489, RFC 8445): Binding requests in, success responses out
 * (and requests out, for the tests and the load client that play the browser). */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <zlib.h>

#include "media_int.h"

#define STUN_HDR         20
#define STUN_COOKIE      0x2112A442u
#define STUN_FP_XOR      0x5354554eu
#define ATTR_USERNAME    0x0006
#define ATTR_INTEGRITY   0x0008
#define ATTR_XOR_MAPPED  0x0020
#define ATTR_USE_CAND    0x0025
#define ATTR_SOFTWARE    0x8022
#define ATTR_FINGERPRINT 0x8028
#define STUN_MAX_CHECKED 1280

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

uint32_t rtc_stun_crc32(const uint8_t *buf, size_t len)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)len);
}

/* The header fits and the attributes fill the message exactly. */
static int check_header(const uint8_t *buf, size_t len)
{
	if (len < STUN_HDR || (buf[0] & 0xc0) != 0 || rd32(buf + 4) != STUN_COOKIE)
		return EBADMSG;
	if ((size_t)rd16(buf + 2) + STUN_HDR != len || (len & 3) != 0)
		return EBADMSG;
	return 0;
}

int rtc_stun_parse(struct rtc_stun_req *out, const uint8_t *buf, size_t len)
{
	struct rtc_stun_req r;
	size_t off = STUN_HDR;
	int err;

	if ((err = check_header(buf, len)) != 0)
		return err;
	if (rd16(buf) != 0x0001)
		return ENOTSUP;
	memset(&r, 0, sizeof(r));
	memcpy(r.txid, buf + 8, 12);
	while (off + 4 <= len) {
		uint16_t type = rd16(buf + off), alen = rd16(buf + off + 2);
		const uint8_t *v = buf + off + 4;

		if (off + 4 + alen > len)
			return EBADMSG;
		if (r.has_fingerprint)
			return EBADMSG; /* nothing may follow FINGERPRINT */
		if (r.has_integrity && type != ATTR_FINGERPRINT) {
			/* attributes after MESSAGE-INTEGRITY are ignored (RFC 5389 §15.4) */
		} else if (type == ATTR_USERNAME) {
			r.username = v;
			r.username_len = alen;
		} else if (type == ATTR_USE_CAND) {
			r.use_candidate = true;
		} else if (type == ATTR_INTEGRITY) {
			if (alen != 20)
				return EBADMSG;
			r.has_integrity = true;
		} else if (type == ATTR_FINGERPRINT) {
			if (alen != 4)
				return EBADMSG;
			r.has_fingerprint = true;
		}
		off += 4 + (((size_t)alen + 3) & ~(size_t)3);
	}
	if (off != len)
		return EBADMSG;
	*out = r;
	return 0;
}

bool rtc_stun_username_ok(const struct rtc_stun_req *r, const char *local_ufrag, const char *remote_ufrag)
{
	size_t ours = strlen(local_ufrag), theirs = strlen(remote_ufrag);

	if (r->username_len != ours + 1 + theirs)
		return false;
	return memcmp(r->username, local_ufrag, ours) == 0 && r->username[ours] == ':' &&
	       memcmp(r->username + ours + 1, remote_ufrag, theirs) == 0;
}

int rtc_stun_check(const uint8_t *buf, size_t len, const uint8_t *key, size_t key_len)
{
	uint8_t copy[STUN_MAX_CHECKED], mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	size_t off = STUN_HDR, mi = 0, fp = 0;

	if (check_header(buf, len) != 0 || len > sizeof(copy))
		return EACCES;
	while (off + 4 <= len) {
		uint16_t type = rd16(buf + off), alen = rd16(buf + off + 2);

		if (off + 4 + alen > len)
			return EACCES;
		if (type == ATTR_INTEGRITY && mi == 0) {
			if (alen != 20)
				return EACCES; /* the HMAC must lie inside the message */
			mi = off;
		} else if (type == ATTR_FINGERPRINT)
			fp = off;
		off += 4 + (((size_t)alen + 3) & ~(size_t)3);
	}
	if (mi == 0 || (fp != 0 && (fp < mi || fp + 8 != len)))
		return EACCES;
	if (fp != 0 && (rtc_stun_crc32(buf, fp) ^ STUN_FP_XOR) != rd32(buf + fp + 4))
		return EACCES;
	/* the HMAC covers the header with a length that ends after MESSAGE-INTEGRITY */
	memcpy(copy, buf, mi);
	wr16(copy + 2, (uint16_t)(mi + 24 - STUN_HDR));
	if (!HMAC(EVP_sha1(), key, (int)key_len, copy, mi, mac, &mac_len) || mac_len != 20)
		return EACCES;
	if (CRYPTO_memcmp(mac, buf + mi + 4, 20) != 0)
		return EACCES;
	return 0;
}

static size_t put_xor_mapped(uint8_t *p, const uint8_t *txid, const struct sockaddr *sa)
{
	uint8_t cookie[4];

	wr32(cookie, STUN_COOKIE);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		const uint8_t *a = (const uint8_t *)&in->sin_addr;

		wr16(p, ATTR_XOR_MAPPED);
		wr16(p + 2, 8);
		p[4] = 0;
		p[5] = 1;
		wr16(p + 6, (uint16_t)(ntohs(in->sin_port) ^ (STUN_COOKIE >> 16)));
		for (int i = 0; i < 4; i++)
			p[8 + i] = a[i] ^ cookie[i];
		return 12;
	}
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *a = (const uint8_t *)&in6->sin6_addr;

	wr16(p, ATTR_XOR_MAPPED);
	wr16(p + 2, 20);
	p[4] = 0;
	p[5] = 2;
	wr16(p + 6, (uint16_t)(ntohs(in6->sin6_port) ^ (STUN_COOKIE >> 16)));
	for (int i = 0; i < 16; i++)
		p[8 + i] = a[i] ^ (i < 4 ? cookie[i] : txid[i - 4]);
	return 24;
}

size_t rtc_stun_success(uint8_t *buf, size_t size, const uint8_t txid[12], const struct sockaddr *mapped,
			const char *software, const uint8_t *key, size_t key_len)
{
	size_t off = STUN_HDR, sw_len = software ? strlen(software) : 0;
	size_t need = STUN_HDR + (sw_len ? 4 + ((sw_len + 3) & ~(size_t)3) : 0) + 24 + 24 + 8;
	unsigned mac_len = 0;

	if (size < need || sw_len > 763)
		return 0;
	wr16(buf, 0x0101);
	wr32(buf + 4, STUN_COOKIE);
	memcpy(buf + 8, txid, 12);
	if (sw_len) {
		wr16(buf + off, ATTR_SOFTWARE);
		wr16(buf + off + 2, (uint16_t)sw_len);
		memcpy(buf + off + 4, software, sw_len);
		off += 4 + sw_len;
		while (off & 3)
			buf[off++] = ' '; /* padding may be anything; RFC 5769 uses spaces */
	}
	off += put_xor_mapped(buf + off, txid, mapped);
	wr16(buf + 2, (uint16_t)(off + 24 - STUN_HDR));
	wr16(buf + off, ATTR_INTEGRITY);
	wr16(buf + off + 2, 20);
	if (!HMAC(EVP_sha1(), key, (int)key_len, buf, off, buf + off + 4, &mac_len) || mac_len != 20)
		return 0;
	off += 24;
	wr16(buf + 2, (uint16_t)(off + 8 - STUN_HDR));
	wr16(buf + off, ATTR_FINGERPRINT);
	wr16(buf + off + 2, 4);
	wr32(buf + off + 4, rtc_stun_crc32(buf, off) ^ STUN_FP_XOR);
	return off + 8;
}

size_t rtc_stun_request(uint8_t *buf, size_t size, const uint8_t txid[12], const char *username,
			bool use_candidate, const uint8_t *key, size_t key_len)
{
	size_t ulen = strlen(username), off = STUN_HDR;
	size_t need = STUN_HDR + 4 + ((ulen + 3) & ~(size_t)3) + (use_candidate ? 4 : 0) + 24 + 8;
	unsigned mac_len = 0;

	if (size < need || ulen > 513)
		return 0;
	memset(buf, 0, need);
	wr16(buf, 0x0001);
	wr32(buf + 4, STUN_COOKIE);
	memcpy(buf + 8, txid, 12);
	wr16(buf + off, ATTR_USERNAME);
	wr16(buf + off + 2, (uint16_t)ulen);
	memcpy(buf + off + 4, username, ulen);
	off += 4 + ((ulen + 3) & ~(size_t)3);
	if (use_candidate) {
		wr16(buf + off, ATTR_USE_CAND);
		off += 4;
	}
	wr16(buf + 2, (uint16_t)(off + 24 - STUN_HDR));
	wr16(buf + off, ATTR_INTEGRITY);
	wr16(buf + off + 2, 20);
	if (!HMAC(EVP_sha1(), key, (int)key_len, buf, off, buf + off + 4, &mac_len) || mac_len != 20)
		return 0;
	off += 24;
	wr16(buf + 2, (uint16_t)(off + 8 - STUN_HDR));
	wr16(buf + off, ATTR_FINGERPRINT);
	wr16(buf + off + 2, 4);
	wr32(buf + off + 4, rtc_stun_crc32(buf, off) ^ STUN_FP_XOR);
	return off + 8;
}
