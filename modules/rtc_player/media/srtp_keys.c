/* SRTP keying: SDES inline keys (RFC 4568), the DTLS-SRTP key split (RFC 5764), libsrtp2 sessions. */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <string.h>

#include "media_int.h"

int rtc_base64_decode(uint8_t *out, size_t size, const char *b64)
{
	uint8_t tmp[256];
	size_t len = strlen(b64);
	int n, pad = 0;

	/* EVP_DecodeBlock wants whole quanta and counts padding as zero bytes */
	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(tmp))
		return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)b64, (int)len);
	if (n < 0)
		return -1;
	if (b64[len - 1] == '=')
		pad++;
	if (b64[len - 2] == '=')
		pad++;
	n -= pad;
	if ((size_t)n > size)
		return -1;
	memcpy(out, tmp, (size_t)n);
	return n;
}

void rtc_base64_encode(char *out, const uint8_t *in, size_t len)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
}

bool rtc_srtp_suite_supported(const char *suite)
{
	return strcmp(suite, "AES_CM_128_HMAC_SHA1_80") == 0 || strcmp(suite, "AES_CM_128_HMAC_SHA1_32") == 0;
}

static void profile_lengths(enum rtc_srtp_profile profile, unsigned *key, unsigned *salt)
{
	*key = 16;
	*salt = profile == RTC_SRTP_AEAD_AES_128_GCM ? 12 : 14;
}

size_t rtc_srtp_material_len(enum rtc_srtp_profile profile)
{
	unsigned key, salt;

	profile_lengths(profile, &key, &salt);
	return 2 * (size_t)(key + salt);
}

const char *rtc_srtp_profile_name(enum rtc_srtp_profile profile)
{
	switch (profile) {
	case RTC_SRTP_AES128_CM_SHA1_80:
		return "SRTP_AES128_CM_SHA1_80";
	case RTC_SRTP_AES128_CM_SHA1_32:
		return "SRTP_AES128_CM_SHA1_32";
	case RTC_SRTP_AEAD_AES_128_GCM:
		return "SRTP_AEAD_AES_128_GCM";
	}
	return "";
}

int rtc_srtp_profile_from_name(const char *name)
{
	if (strcmp(name, "SRTP_AES128_CM_SHA1_80") == 0)
		return RTC_SRTP_AES128_CM_SHA1_80;
	if (strcmp(name, "SRTP_AES128_CM_SHA1_32") == 0)
		return RTC_SRTP_AES128_CM_SHA1_32;
	if (strcmp(name, "SRTP_AEAD_AES_128_GCM") == 0)
		return RTC_SRTP_AEAD_AES_128_GCM;
	return -1;
}

int rtc_srtp_keys_from_dtls(struct rtc_srtp_keys *out, enum rtc_srtp_profile profile, const uint8_t *material,
			    size_t len, bool server)
{
	struct rtc_srtp_keys k;
	const uint8_t *ckey, *skey, *csalt, *ssalt;

	memset(&k, 0, sizeof(k));
	k.profile = profile;
	profile_lengths(profile, &k.key_len, &k.salt_len);
	if (len != rtc_srtp_material_len(profile))
		return EINVAL;
	/* client_write_key | server_write_key | client_write_salt | server_write_salt */
	ckey = material;
	skey = ckey + k.key_len;
	csalt = skey + k.key_len;
	ssalt = csalt + k.salt_len;
	memcpy(k.local, server ? skey : ckey, k.key_len);
	memcpy(k.local + k.key_len, server ? ssalt : csalt, k.salt_len);
	memcpy(k.remote, server ? ckey : skey, k.key_len);
	memcpy(k.remote + k.key_len, server ? csalt : ssalt, k.salt_len);
	*out = k;
	return 0;
}

static void set_policy(srtp_policy_t *p, enum rtc_srtp_profile profile, const uint8_t *key, bool outbound,
		       uint32_t ssrc)
{
	memset(p, 0, sizeof(*p));
	switch (profile) {
	case RTC_SRTP_AES128_CM_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case RTC_SRTP_AES128_CM_SHA1_32:
		/* RFC 4568 §6.2.2: SRTCP keeps the 80-bit tag */
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case RTC_SRTP_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
		break;
	}
	/* our SSRC is known: a stream of its own, no template to clone on the first packet */
	if (outbound) {
		p->ssrc.type = ssrc_specific;
		p->ssrc.value = ssrc;
	} else {
		p->ssrc.type = ssrc_any_inbound;
	}
	p->key = (unsigned char *)key;
	p->window_size = 1024;
	p->next = NULL;
}

int rtc_srtp_create(struct srtp_ctx_t_ **out, const struct rtc_srtp_keys *keys, bool inbound, uint32_t ssrc)
{
	srtp_policy_t pol;
	srtp_t s = NULL;

	/* one wildcard stream per libsrtp session: a session is either direction */
	set_policy(&pol, keys->profile, inbound ? keys->remote : keys->local, !inbound, ssrc);
	if (srtp_create(&s, &pol) != srtp_err_status_ok)
		return EPROTO;
	*out = s;
	return 0;
}

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static int srtp_init_err;

static void srtp_init_once(void)
{
	srtp_init_err = srtp_init() == srtp_err_status_ok ? 0 : EPROTO;
}

int rtc_srtp_global_init(void)
{
	pthread_once(&srtp_once, srtp_init_once);
	return srtp_init_err;
}
