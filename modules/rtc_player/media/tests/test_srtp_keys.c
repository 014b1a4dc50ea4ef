/* SRTP keying: the RFC 5764 split of DTLS exporter output, SDES base64 keys, libsrtp2 round trips. */
#include <criterion/criterion.h>
#include <errno.h>
#include <srtp2/srtp.h>
#include <string.h>

#include "media_int.h"

static void material(uint8_t *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m[i] = (uint8_t)i; /* a known "exporter value": byte i = i */
}

Test(srtp_keys, dtls_split_aes_cm_for_server_and_client)
{
	uint8_t m[60];
	struct rtc_srtp_keys srv, cli;

	material(m, sizeof(m));
	cr_assert_eq(rtc_srtp_material_len(RTC_SRTP_AES128_CM_SHA1_80), 60);
	cr_assert_eq(rtc_srtp_keys_from_dtls(&srv, RTC_SRTP_AES128_CM_SHA1_80, m, 60, true), 0);
	cr_assert_eq(srv.key_len, 16);
	cr_assert_eq(srv.salt_len, 14);
	/* server write key = bytes 16..31, server salt = 46..59 */
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(srv.local[i], 16 + i);
	for (unsigned i = 0; i < 14; i++)
		cr_assert_eq(srv.local[16 + i], 46 + i);
	/* client write key = 0..15, client salt = 32..45 */
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(srv.remote[i], i);
	for (unsigned i = 0; i < 14; i++)
		cr_assert_eq(srv.remote[16 + i], 32 + i);
	cr_assert_eq(rtc_srtp_keys_from_dtls(&cli, RTC_SRTP_AES128_CM_SHA1_80, m, 60, false), 0);
	cr_assert_eq(memcmp(cli.local, srv.remote, 30), 0);
	cr_assert_eq(memcmp(cli.remote, srv.local, 30), 0);
	cr_assert_eq(rtc_srtp_keys_from_dtls(&cli, RTC_SRTP_AES128_CM_SHA1_80, m, 56, false), EINVAL);
}

Test(srtp_keys, dtls_split_gcm)
{
	uint8_t m[56];
	struct rtc_srtp_keys srv;

	material(m, sizeof(m));
	cr_assert_eq(rtc_srtp_material_len(RTC_SRTP_AEAD_AES_128_GCM), 56);
	cr_assert_eq(rtc_srtp_keys_from_dtls(&srv, RTC_SRTP_AEAD_AES_128_GCM, m, 56, true), 0);
	cr_assert_eq(srv.salt_len, 12);
	cr_assert_eq(srv.local[0], 16);
	cr_assert_eq(srv.local[16], 44); /* 32 + 12: the server salt follows the client salt */
	cr_assert_eq(srv.remote[16], 32);
}

static void round_trip(enum rtc_srtp_profile profile)
{
	uint8_t m[60], pkt[200], orig[200];
	struct rtc_srtp_keys srv, cli;
	struct rtc_rtp_state st;
	srtp_t tx = NULL, rx = NULL;
	int len;

	cr_assert_eq(rtc_srtp_global_init(), 0);
	material(m, sizeof(m));
	size_t n = rtc_srtp_material_len(profile);
	cr_assert_eq(rtc_srtp_keys_from_dtls(&srv, profile, m, n, true), 0);
	cr_assert_eq(rtc_srtp_keys_from_dtls(&cli, profile, m, n, false), 0);
	cr_assert_eq(rtc_srtp_create(&tx, &srv, false, 0xdecafbad), 0);
	cr_assert_eq(rtc_srtp_create(&rx, &cli, true, 0), 0); /* the client receives with the server's key */
	rtc_rtp_init(&st, 111, 960, 0xdecafbad, 100, 1000);
	for (int k = 0; k < 3; k++) {
		uint8_t payload[60];
		memset(payload, 0x30 + k, sizeof(payload));
		len = (int)rtc_rtp_write(&st, pkt, payload, sizeof(payload));
		memcpy(orig, pkt, (size_t)len);
		cr_assert_eq(srtp_protect(tx, pkt, &len), srtp_err_status_ok);
		cr_assert_gt(len, 72);
		cr_assert_neq(memcmp(pkt + 12, orig + 12, 60), 0, "payload is encrypted");
		cr_assert_eq(srtp_unprotect(rx, pkt, &len), srtp_err_status_ok);
		cr_assert_eq(len, 72);
		cr_assert_eq(memcmp(pkt, orig, 72), 0);
	}
	/* a tampered packet is refused */
	len = (int)rtc_rtp_write(&st, pkt, orig + 12, 60);
	cr_assert_eq(srtp_protect(tx, pkt, &len), srtp_err_status_ok);
	pkt[20] ^= 1;
	cr_assert_neq(srtp_unprotect(rx, pkt, &len), srtp_err_status_ok);
	srtp_dealloc(tx);
	srtp_dealloc(rx);
}

Test(srtp_keys, aes_cm_protect_unprotect)
{
	round_trip(RTC_SRTP_AES128_CM_SHA1_80);
}

Test(srtp_keys, aes_cm_32_protect_unprotect)
{
	round_trip(RTC_SRTP_AES128_CM_SHA1_32);
}

Test(srtp_keys, gcm_protect_unprotect)
{
	round_trip(RTC_SRTP_AEAD_AES_128_GCM);
}

Test(srtp_keys, sdes_base64)
{
	uint8_t key[30];
	char b64[44];

	for (unsigned i = 0; i < 30; i++)
		key[i] = (uint8_t)(i * 7);
	rtc_base64_encode(b64, key, 30);
	cr_assert_eq(strlen(b64), 40);
	uint8_t back[30];
	cr_assert_eq(rtc_base64_decode(back, sizeof(back), b64), 30);
	cr_assert_eq(memcmp(back, key, 30), 0);
	cr_assert_eq(rtc_base64_decode(back, sizeof(back), "QUJD"), 3);
	cr_assert_eq(memcmp(back, "ABC", 3), 0);
	cr_assert_eq(rtc_base64_decode(back, sizeof(back), "QUI="), 2);
	cr_assert_eq(rtc_base64_decode(back, sizeof(back), "QU"), -1);
	cr_assert_eq(rtc_base64_decode(back, sizeof(back), "!!!!"), -1);
	cr_assert_eq(rtc_base64_decode(back, 2, "QUJD"), -1);
	cr_assert(rtc_srtp_suite_supported("AES_CM_128_HMAC_SHA1_80"));
	cr_assert(rtc_srtp_suite_supported("AES_CM_128_HMAC_SHA1_32"));
	cr_assert(!rtc_srtp_suite_supported("AES_256_CM_HMAC_SHA1_80"));
}
