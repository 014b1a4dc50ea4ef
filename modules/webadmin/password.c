/* Admin passwords: PBKDF2-HMAC-SHA256 hashes with a random salt (OpenSSL), random passwords and tokens. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "webadmin.h"

#define SALT_LEN 16
#define KEY_LEN  32
/* Refuse stored hashes that would make one login cost minutes (a tampered row). */
#define MAX_ITERATIONS 100000000
#define MAX_PASSWORD   1024

/* base64url without padding: hashes and tokens go in cookies and text columns as they are. */
static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static size_t b64_encode(char *out, size_t size, const unsigned char *in, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		size_t chars = n - i >= 3 ? 4 : n - i + 1;
		for (size_t k = 0; k < chars && o + 1 < size; k++)
			out[o++] = b64[(v >> (18 - 6 * k)) & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64_value(char ch)
{
	const char *p = ch ? strchr(b64, ch) : NULL;
	return p ? (int)(p - b64) : -1;
}

/* Returns the decoded length, or -1. */
static long b64_decode(unsigned char *out, size_t size, const char *in, size_t len)
{
	size_t o = 0;
	unsigned v = 0;
	int bits = 0;

	for (size_t i = 0; i < len; i++) {
		int d = b64_value(in[i]);
		if (d < 0)
			return -1;
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == size)
				return -1;
			out[o++] = (unsigned char)(v >> bits);
		}
	}
	return (long)o;
}

static int derive(unsigned char *key, const char *password, const unsigned char *salt, size_t salt_len,
		  int iterations)
{
	return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations,
				 EVP_sha256(), KEY_LEN, key) == 1
		   ? 0
		   : EIO;
}

int wa_password_hash(char *out, size_t size, const char *password, int iterations)
{
	unsigned char salt[SALT_LEN], key[KEY_LEN];
	char s64[32], k64[48];
	int err;

	if (!password || !*password || strlen(password) > MAX_PASSWORD || iterations < 1 ||
	    iterations > MAX_ITERATIONS)
		return EINVAL;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return EIO;
	if ((err = derive(key, password, salt, sizeof(salt), iterations)))
		return err;
	b64_encode(s64, sizeof(s64), salt, sizeof(salt));
	b64_encode(k64, sizeof(k64), key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	if ((size_t)snprintf(out, size, "pbkdf2-sha256$%d$%s$%s", iterations, s64, k64) >= size)
		return EINVAL;
	return 0;
}

bool wa_password_verify(const char *stored, const char *password)
{
	unsigned char salt[64], want[KEY_LEN + 4], got[KEY_LEN];
	const char *p, *dollar;
	char *end;
	long n_salt, n_key;
	bool ok;

	if (!stored || !password || strlen(password) > MAX_PASSWORD ||
	    strncmp(stored, "pbkdf2-sha256$", 14) != 0)
		return false;
	p = stored + 14;
	long iterations = strtol(p, &end, 10);
	if (end == p || *end != '$' || iterations < 1 || iterations > MAX_ITERATIONS)
		return false;
	p = end + 1;
	if (!(dollar = strchr(p, '$')))
		return false;
	n_salt = b64_decode(salt, sizeof(salt), p, (size_t)(dollar - p));
	n_key = b64_decode(want, sizeof(want), dollar + 1, strlen(dollar + 1));
	if (n_salt < 8 || n_key != KEY_LEN)
		return false;
	if (derive(got, password, salt, (size_t)n_salt, (int)iterations))
		return false;
	ok = CRYPTO_memcmp(got, want, KEY_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

int wa_password_random(char *out, size_t len)
{
	static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
	const unsigned n = sizeof(alphabet) - 1;

	for (size_t i = 0; i < len;) {
		unsigned char b;
		if (RAND_bytes(&b, 1) != 1)
			return EIO;
		/* Rejection sampling: every character equally likely. */
		if (b >= 256 - 256 % n)
			continue;
		out[i++] = alphabet[b % n];
	}
	out[len] = '\0';
	return 0;
}

int wa_token_random(char *out, size_t size, size_t nbytes)
{
	unsigned char buf[64];

	if (nbytes > sizeof(buf) || size < (nbytes * 4 + 2) / 3 + 1)
		return EINVAL;
	if (RAND_bytes(buf, (int)nbytes) != 1)
		return EIO;
	b64_encode(out, size, buf, nbytes);
	return 0;
}
