/* STUN MESSAGE-INTEGRITY, FINGERPRINT and XOR-MAPPED-ADDRESS against the RFC 5769 test vectors. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "media_int.h"

/* RFC 5769 §2.1: sample request, short-term credentials. */
static const uint8_t req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* §2.2: IPv4 response, XOR-MAPPED-ADDRESS 192.0.2.1:32853, SOFTWARE "test vector". */
static const uint8_t resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* §2.3: IPv6 response, 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
static const uint8_t resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static const char pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";

Test(stun, rfc5769_request_parses_and_verifies)
{
	struct rtc_stun_req r;

	cr_assert_eq(rtc_stun_parse(&r, req, sizeof(req)), 0);
	cr_assert_eq(memcmp(r.txid, req + 8, 12), 0);
	cr_assert_eq(r.username_len, 9);
	cr_assert_eq(memcmp(r.username, "evtj:h6vY", 9), 0);
	cr_assert(r.has_integrity);
	cr_assert(r.has_fingerprint);
	cr_assert(!r.use_candidate);
	cr_assert_eq(rtc_stun_check(req, sizeof(req), (const uint8_t *)pwd, strlen(pwd)), 0);
}

Test(stun, wrong_password_or_tampering_fails)
{
	uint8_t copy[sizeof(req)];

	cr_assert_eq(rtc_stun_check(req, sizeof(req), (const uint8_t *)"wrong", 5), EACCES);
	memcpy(copy, req, sizeof(req));
	copy[45] ^= 1; /* PRIORITY: both FINGERPRINT and MESSAGE-INTEGRITY break */
	cr_assert_eq(rtc_stun_check(copy, sizeof(copy), (const uint8_t *)pwd, strlen(pwd)), EACCES);
	memcpy(copy, req, sizeof(req));
	copy[sizeof(copy) - 1] ^= 1; /* FINGERPRINT only */
	cr_assert_eq(rtc_stun_check(copy, sizeof(copy), (const uint8_t *)pwd, strlen(pwd)), EACCES);
}

Test(stun, fingerprint_is_crc32_xor_stun)
{
	/* the request's FINGERPRINT covers everything before it */
	uint32_t fp = rtc_stun_crc32(req, sizeof(req) - 8) ^ 0x5354554eu;
	cr_assert_eq(fp, 0xe57a3bcfu);
	cr_assert_eq(rtc_stun_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
}

Test(stun, builds_rfc5769_ipv4_response_byte_for_byte)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(32853)};
	uint8_t out[RTC_STUN_MAX];
	size_t n;

	inet_pton(AF_INET, "192.0.2.1", &in.sin_addr);
	n = rtc_stun_success(out, sizeof(out), req + 8, (struct sockaddr *)&in, "test vector",
			     (const uint8_t *)pwd, strlen(pwd));
	cr_assert_eq(n, sizeof(resp4));
	cr_assert_eq(memcmp(out, resp4, n), 0);
	cr_assert_eq(rtc_stun_check(out, n, (const uint8_t *)pwd, strlen(pwd)), 0);
}

Test(stun, builds_rfc5769_ipv6_response_byte_for_byte)
{
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(32853)};
	uint8_t out[RTC_STUN_MAX];
	size_t n;

	inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &in6.sin6_addr);
	n = rtc_stun_success(out, sizeof(out), req + 8, (struct sockaddr *)&in6, "test vector",
			     (const uint8_t *)pwd, strlen(pwd));
	cr_assert_eq(n, sizeof(resp6));
	cr_assert_eq(memcmp(out, resp6, n), 0);
}

Test(stun, response_without_software_verifies)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(5000)};
	uint8_t out[RTC_STUN_MAX];
	size_t n;

	n = rtc_stun_success(out, sizeof(out), req + 8, (struct sockaddr *)&in, NULL, (const uint8_t *)"k",
			     1);
	cr_assert_eq(n, 20 + 12 + 24 + 8);
	cr_assert_eq(rtc_stun_check(out, n, (const uint8_t *)"k", 1), 0);
	cr_assert_eq(
	    rtc_stun_success(out, 40, req + 8, (struct sockaddr *)&in, NULL, (const uint8_t *)"k", 1), 0);
}

Test(stun, broken_messages_are_refused)
{
	struct rtc_stun_req r;
	uint8_t copy[sizeof(req)];

	cr_assert_eq(rtc_stun_parse(&r, req, 19), EBADMSG);
	cr_assert_eq(rtc_stun_parse(&r, req, sizeof(req) - 4), EBADMSG); /* length field disagrees */
	memcpy(copy, req, sizeof(req));
	copy[4] = 0; /* no magic cookie */
	cr_assert_eq(rtc_stun_parse(&r, copy, sizeof(copy)), EBADMSG);
	cr_assert_eq(rtc_stun_parse(&r, resp4, sizeof(resp4)), ENOTSUP); /* a response, not a request */
	memcpy(copy, req, sizeof(req));
	copy[63] = 0xff; /* USERNAME length runs past the end */
	cr_assert_eq(rtc_stun_parse(&r, copy, sizeof(copy)), EBADMSG);
}

Test(stun, request_builder_round_trip)
{
	uint8_t buf[RTC_STUN_MAX], txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
	struct rtc_stun_req r;
	size_t n =
	    rtc_stun_request(buf, sizeof(buf), txid, "abcd:efgh1", true, (const uint8_t *)pwd, strlen(pwd));

	cr_assert_eq(n, 20 + 4 + 12 + 4 + 24 + 8);
	cr_assert_eq(rtc_stun_parse(&r, buf, n), 0);
	cr_assert(r.use_candidate);
	cr_assert_eq(r.username_len, 10);
	cr_assert_eq(memcmp(r.txid, txid, 12), 0);
	cr_assert_eq(rtc_stun_check(buf, n, (const uint8_t *)pwd, strlen(pwd)), 0);
	cr_assert_eq(rtc_stun_request(buf, 40, txid, "abcd:efgh1", true, (const uint8_t *)pwd, strlen(pwd)),
		     0);
}

/* A MESSAGE-INTEGRITY attribute of length 0 at the end: the 20 bytes after the message are not its HMAC, even
 * when they hold the right one (found by tests/fuzz/fuzz_stun: the check read past the message). */
Test(stun, integrity_must_lie_inside_the_message)
{
	uint8_t buf[24 + 20] = {0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42, 1,    2,    3,    4,
				5,    6,    7,    8,    9,    10,   11,   12,   0x00, 0x08, 0x00, 0x00};
	uint8_t hdr[20];
	unsigned mac_len = 0;

	memcpy(hdr, buf, 20);
	hdr[3] = 24; /* the length the HMAC covers: up to the end of a 20-byte MESSAGE-INTEGRITY */
	cr_assert_not_null(HMAC(EVP_sha1(), pwd, (int)strlen(pwd), hdr, 20, buf + 24, &mac_len));
	cr_assert_eq(rtc_stun_check(buf, 24, (const uint8_t *)pwd, strlen(pwd)), EACCES);
}
