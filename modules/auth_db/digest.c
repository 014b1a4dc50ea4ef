/* Digest computations of RFC 2617 / RFC 7616 (MD5, SHA-256) and HMAC, all through OpenSSL EVP. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth_db.h"

/* Fetched once: implicit fetches by name on every hash would take OpenSSL's global locks. */
static EVP_MD *mds[AUTH_ALGO_COUNT];
static EVP_MAC *mac_hmac;

/*
 * A thread's digest and HMAC contexts, made on its first use and kept: a
 * one-shot HMAC() fetches the implementation and allocates its contexts on
 * every call, a quarter of a challenge's CPU. The HMAC context keeps its key and is
 * only restarted (EVP_MAC_init with no key) while the key stays the same.
 * Every context is on one list, freed by auth_digest_fini; the generation
 * tells a thread that its pointer went with them.
 */
struct thread_ctx {
	EVP_MD_CTX *md;
	EVP_MAC_CTX *mac;
	unsigned char key[64];
	size_t keylen;
	struct thread_ctx *next;
};

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static struct thread_ctx *ctx_all;
static atomic_uint ctx_gen = 1;
static __thread struct thread_ctx *tls_ctx;
static __thread unsigned tls_gen;

static struct thread_ctx *thread_ctx(void)
{
	struct thread_ctx *t;
	unsigned gen = atomic_load_explicit(&ctx_gen, memory_order_acquire);

	if (tls_ctx && tls_gen == gen)
		return tls_ctx;
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	if (!(t->md = EVP_MD_CTX_new()) || !(t->mac = EVP_MAC_CTX_new(mac_hmac))) {
		EVP_MD_CTX_free(t->md);
		free(t);
		return NULL;
	}
	pthread_mutex_lock(&ctx_lock);
	t->next = ctx_all;
	ctx_all = t;
	pthread_mutex_unlock(&ctx_lock);
	tls_ctx = t;
	tls_gen = gen;
	return t;
}

static const char *const algo_names[AUTH_ALGO_COUNT] = {
    [AUTH_SHA256] = "SHA-256",
    [AUTH_MD5] = "MD5",
};

int auth_digest_init(void)
{
	mds[AUTH_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
	mds[AUTH_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
	mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (!mds[AUTH_SHA256] || !mds[AUTH_MD5] || !mac_hmac) {
		auth_digest_fini();
		return ENOTSUP;
	}
	return 0;
}

void auth_digest_fini(void)
{
	pthread_mutex_lock(&ctx_lock);
	atomic_fetch_add_explicit(&ctx_gen, 1, memory_order_release);
	while (ctx_all) {
		struct thread_ctx *next = ctx_all->next;

		EVP_MD_CTX_free(ctx_all->md);
		EVP_MAC_CTX_free(ctx_all->mac);
		OPENSSL_cleanse(ctx_all->key, sizeof(ctx_all->key));
		free(ctx_all);
		ctx_all = next;
	}
	pthread_mutex_unlock(&ctx_lock);
	for (int i = 0; i < AUTH_ALGO_COUNT; i++) {
		EVP_MD_free(mds[i]);
		mds[i] = NULL;
	}
	EVP_MAC_free(mac_hmac);
	mac_hmac = NULL;
}

size_t auth_hexlen(enum auth_algo a)
{
	return a == AUTH_MD5 ? 32 : 64;
}

const char *auth_algo_name(enum auth_algo a)
{
	return algo_names[a];
}

int auth_algo_parse(enum auth_algo *out, struct sipd_str name)
{
	if (name.len == 0 || sipd_str_caseeq_c(name, "MD5")) {
		*out = AUTH_MD5;
		return 0;
	}
	if (sipd_str_caseeq_c(name, "SHA-256")) {
		*out = AUTH_SHA256;
		return 0;
	}
	/* -sess variants and SHA-512-256 are never offered, so a client cannot rightly use them. */
	return ENOTSUP;
}

static void to_hex(char *out, const unsigned char *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int auth_hash(char *out, enum auth_algo a, const struct sipd_str *parts, unsigned n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct thread_ctx *t;
	EVP_MD_CTX *ctx;
	int ok;

	if (a >= AUTH_ALGO_COUNT || !mds[a])
		return EINVAL;
	if (!(t = thread_ctx()))
		return ENOMEM;
	ctx = t->md;
	ok = EVP_DigestInit_ex(ctx, mds[a], NULL);
	for (unsigned i = 0; ok && i < n; i++) {
		if (i)
			ok = EVP_DigestUpdate(ctx, ":", 1);
		if (ok && parts[i].len)
			ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len);
	}
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, md, &mdlen);
	if (!ok)
		return EIO;
	to_hex(out, md, mdlen);
	return 0;
}

int auth_ha1(char *out, enum auth_algo a, const char *user, const char *realm, const char *password)
{
	struct sipd_str parts[3] = {sipd_str_c(user), sipd_str_c(realm), sipd_str_c(password)};

	return auth_hash(out, a, parts, 3);
}

int auth_response(char *out, enum auth_algo a, struct sipd_str ha1, struct sipd_str nonce, struct sipd_str nc,
		  struct sipd_str cnonce, struct sipd_str qop, struct sipd_str method, struct sipd_str uri)
{
	char ha2[AUTH_HEX_MAX];
	struct sipd_str a2[2] = {method, uri};
	int err = auth_hash(ha2, a, a2, 2);

	if (err)
		return err;
	struct sipd_str kd[6] = {ha1, nonce, nc, cnonce, qop, sipd_str_c(ha2)};
	return auth_hash(out, a, kd, 6);
}

int auth_hmac(unsigned char *mac, const unsigned char *key, size_t keylen, const void *data, size_t len)
{
	struct thread_ctx *t;
	size_t maclen = 0;
	int ok;

	if (keylen > sizeof(t->key))
		return EINVAL;
	if (!(t = thread_ctx()))
		return ENOMEM;
	if (t->keylen == keylen && CRYPTO_memcmp(t->key, key, keylen) == 0) {
		ok = EVP_MAC_init(t->mac, NULL, 0, NULL);
	} else {
		OSSL_PARAM params[] = {
		    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		    OSSL_PARAM_construct_end(),
		};

		ok = EVP_MAC_init(t->mac, key, keylen, params);
		memcpy(t->key, key, keylen);
		t->keylen = ok ? keylen : 0;
	}
	if (ok)
		ok = EVP_MAC_update(t->mac, data, len);
	if (ok)
		ok = EVP_MAC_final(t->mac, mac, &maclen, 32);
	return ok && maclen == 32 ? 0 : EIO;
}

bool auth_equal(struct sipd_str a, struct sipd_str b)
{
	return a.len == b.len && CRYPTO_memcmp(a.p, b.p, a.len) == 0;
}
