/* DTLS-SRTP with OpenSSL (RFC 5763/5764): the start-up certificate and one association over datagrams. */
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_int.h"

#define DTLS_MTU 1200

struct rtc_dtls_cert {
	SSL_CTX *ctx;
	char fingerprint[8 + 3 * 32];
};

struct rtc_dtls {
	SSL *ssl;
	BIO *rbio; /* incoming datagrams, one at a time */
	rtc_dtls_send_fn send;
	void *arg;
	const EVP_MD *fp_md;
	uint8_t fp[64];
	size_t fp_len;
	bool done;
};

static BIO_METHOD *out_method;
static pthread_once_t out_once = PTHREAD_ONCE_INIT;

/* Every write OpenSSL makes on the outgoing BIO is one datagram. */
static int out_write(BIO *b, const char *buf, int len)
{
	struct rtc_dtls *d = BIO_get_data(b);

	if (len > 0 && d)
		d->send(d->arg, (const uint8_t *)buf, (size_t)len);
	return len;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		return DTLS_MTU;
	case BIO_CTRL_WPENDING:
	case BIO_CTRL_PENDING:
		return 0;
	default:
		return 0;
	}
}

static int out_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void out_method_once(void)
{
	out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rtc_dtls_out");
	if (!out_method)
		return;
	BIO_meth_set_write(out_method, out_write);
	BIO_meth_set_ctrl(out_method, out_ctrl);
	BIO_meth_set_create(out_method, out_create);
}

/* The peer's certificate is self-signed: it is checked against a=fingerprint after the handshake. */
static int accept_any(int ok, X509_STORE_CTX *store)
{
	return 1;
}

static int make_cert(X509 **out_x, EVP_PKEY **out_key)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	uint8_t serial[8];
	int err = ENOMEM;

	if (!key || !x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
		BN_free(bn);
		goto out;
	}
	BN_free(bn);
	X509_set_version(x, 2);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 365L * 86400);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"sipd rtc_player", -1, -1,
				   0);
	X509_set_issuer_name(x, name);
	if (X509_set_pubkey(x, key) != 1 || X509_sign(x, key, EVP_sha256()) == 0) {
		err = EPROTO;
		goto out;
	}
	*out_x = x;
	*out_key = key;
	return 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return err;
}

int rtc_dtls_cert_create(struct rtc_dtls_cert **out)
{
	struct rtc_dtls_cert *c = calloc(1, sizeof(*c));
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	int err;

	if (!c)
		return ENOMEM;
	pthread_once(&out_once, out_method_once);
	if (!out_method) {
		err = ENOMEM;
		goto out;
	}
	if ((err = make_cert(&x, &key)) != 0)
		goto out;
	err = EPROTO;
	c->ctx = SSL_CTX_new(DTLS_method());
	if (!c->ctx || SSL_CTX_set_min_proto_version(c->ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(c->ctx, x) != 1 || SSL_CTX_use_PrivateKey(c->ctx, key) != 1)
		goto out;
	/* returns 0 on success, unlike the rest of the API */
	if (SSL_CTX_set_tlsext_use_srtp(c->ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0)
		goto out;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_QUERY_MTU);
	if (X509_digest(x, EVP_sha256(), md, &md_len) != 1)
		goto out;
	size_t off = (size_t)snprintf(c->fingerprint, sizeof(c->fingerprint), "sha-256 ");
	for (unsigned i = 0; i < md_len; i++)
		off += (size_t)snprintf(c->fingerprint + off, sizeof(c->fingerprint) - off,
					i ? ":%02X" : "%02X", md[i]);
	*out = c;
	c = NULL;
	err = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	rtc_dtls_cert_free(c);
	return err;
}

void rtc_dtls_cert_free(struct rtc_dtls_cert *cert)
{
	if (!cert)
		return;
	SSL_CTX_free(cert->ctx);
	free(cert);
}

const char *rtc_dtls_cert_fingerprint(const struct rtc_dtls_cert *cert)
{
	return cert->fingerprint;
}

/* "sha-256" (SDP, RFC 8122) to OpenSSL's "sha256". */
static const EVP_MD *md_for_alg(const char *alg)
{
	char name[16];
	size_t n = 0;

	for (const char *p = alg; *p && n + 1 < sizeof(name); p++)
		if (*p != '-')
			name[n++] = *p;
	name[n] = '\0';
	return EVP_get_digestbyname(name);
}

int rtc_dtls_create(struct rtc_dtls **out, const struct rtc_dtls_cert *cert, bool server, const char *fp_alg,
		    const uint8_t *fp, size_t fp_len, rtc_dtls_send_fn send, void *arg)
{
	struct rtc_dtls *d;
	BIO *wbio = NULL;

	if (fp_len > sizeof(d->fp))
		return EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->send = send;
	d->arg = arg;
	d->fp_md = md_for_alg(fp_alg);
	memcpy(d->fp, fp, fp_len);
	d->fp_len = fp_len;
	d->ssl = SSL_new(cert->ctx);
	d->rbio = BIO_new(BIO_s_mem());
	wbio = BIO_new(out_method);
	if (!d->ssl || !d->rbio || !wbio || !d->fp_md) {
		int err = d->fp_md ? ENOMEM : EINVAL;

		BIO_free(wbio);
		BIO_free(d->rbio);
		SSL_free(d->ssl);
		free(d);
		return err;
	}
	BIO_set_mem_eof_return(d->rbio, -1);
	BIO_set_data(wbio, d);
	SSL_set_bio(d->ssl, d->rbio, wbio);
	SSL_set_mtu(d->ssl, DTLS_MTU);
	if (server)
		SSL_set_accept_state(d->ssl);
	else
		SSL_set_connect_state(d->ssl);
	*out = d;
	return 0;
}

void rtc_dtls_free(struct rtc_dtls *d)
{
	if (!d)
		return;
	SSL_free(d->ssl); /* frees both BIOs */
	free(d);
}

static int check_fingerprint(struct rtc_dtls *d, const char **reason)
{
	X509 *peer = SSL_get1_peer_certificate(d->ssl);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned len = 0;
	int ok;

	if (!peer) {
		*reason = "peer sent no certificate";
		return EPROTO;
	}
	ok = X509_digest(peer, d->fp_md, md, &len) == 1 && len == d->fp_len && memcmp(md, d->fp, len) == 0;
	X509_free(peer);
	if (!ok) {
		*reason = "peer certificate does not match a=fingerprint";
		return EPROTO;
	}
	return 0;
}

static int step(struct rtc_dtls *d, const char **reason)
{
	int r;

	if (d->done) {
		uint8_t sink[256];
		/* after the handshake only alerts matter: a close_notify ends the call */
		r = SSL_read(d->ssl, sink, sizeof(sink));
		if (r <= 0 && (SSL_get_shutdown(d->ssl) & SSL_RECEIVED_SHUTDOWN)) {
			*reason = "DTLS close_notify";
			return ECONNRESET;
		}
		ERR_clear_error();
		return 0;
	}
	r = SSL_do_handshake(d->ssl);
	if (r == 1) {
		int err = check_fingerprint(d, reason);
		if (err)
			return err;
		d->done = true;
		return 1;
	}
	switch (SSL_get_error(d->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	default:
		*reason = "DTLS handshake failed";
		ERR_clear_error();
		return EPROTO;
	}
}

int rtc_dtls_input(struct rtc_dtls *d, const uint8_t *buf, size_t len, const char **reason)
{
	if (BIO_write(d->rbio, buf, (int)len) != (int)len) {
		*reason = "out of memory";
		return ENOMEM;
	}
	return step(d, reason);
}

int rtc_dtls_connect(struct rtc_dtls *d, const char **reason)
{
	return step(d, reason);
}

int rtc_dtls_timeout(struct rtc_dtls *d)
{
	if (d->done)
		return 0;
	return DTLSv1_handle_timeout(d->ssl) < 0 ? EPROTO : 0;
}

int rtc_dtls_keys(struct rtc_dtls *d, struct rtc_srtp_keys *out)
{
	SRTP_PROTECTION_PROFILE *prof = SSL_get_selected_srtp_profile(d->ssl);
	uint8_t material[64];
	int profile;
	size_t len;

	if (!prof || (profile = rtc_srtp_profile_from_name(prof->name)) < 0)
		return EPROTO;
	len = rtc_srtp_material_len((enum rtc_srtp_profile)profile);
	if (SSL_export_keying_material(d->ssl, material, len, "EXTRACTOR-dtls_srtp", 19, NULL, 0, 0) != 1)
		return EPROTO;
	return rtc_srtp_keys_from_dtls(out, (enum rtc_srtp_profile)profile, material, len,
				       SSL_is_server(d->ssl));
}
