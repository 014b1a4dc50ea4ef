/* Stateless nonces (issue time + HMAC-SHA256 under a stored secret) and bounded nonce-count tracking. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth_db.h"

#define MAC_HEX 32 /* the first 16 bytes of the HMAC, in hex */
#define WAYS    8

/*
 * nc tracking: a fixed table of buckets of WAYS entries keyed by the
 * nonce's MAC. A full bucket evicts its oldest nonce and remembers the
 * newest issue time it ever evicted (floor): a nonce issued at or before
 * the floor and not found may have lost its history, so it is refused as
 * stale instead of trusting any nc. Memory stays bounded whatever the load.
 */
struct nc_entry {
	uint64_t key;    /* 0: empty */
	uint64_t issued; /* ms */
	uint64_t seen;   /* ms, when nc was accepted */
	uint32_t nc;
	uint32_t branch; /* hash of the top Via branch of the request that used nc */
};

/* A retransmission may come this late: 64*T1, the life of a non-INVITE transaction (RFC 3261 17.1.2.2). */
#define RETRANSMIT_MS 32000u

struct nc_bucket {
	pthread_mutex_t lock;
	uint64_t floor;
	struct nc_entry e[WAYS];
};

static unsigned char key[32];
static size_t keylen;
static struct nc_bucket *buckets;
static size_t nbuckets;
static atomic_uint nonce_seq;

int auth_nonce_init(const unsigned char *secret, size_t len, unsigned table_entries)
{
	if (len > sizeof(key) || len < 16)
		return EINVAL;
	memcpy(key, secret, len);
	keylen = len;
	/* Starts from a secret-derived value so counters of successive runs rarely meet. */
	atomic_store(&nonce_seq, (unsigned)secret[0] << 24 | (unsigned)time(NULL) << 8);
	nbuckets = table_entries / WAYS;
	if (nbuckets == 0)
		nbuckets = 1;
	if (!(buckets = calloc(nbuckets, sizeof(*buckets))))
		return ENOMEM;
	for (size_t i = 0; i < nbuckets; i++)
		pthread_mutex_init(&buckets[i].lock, NULL);
	return 0;
}

void auth_nonce_fini(void)
{
	for (size_t i = 0; buckets && i < nbuckets; i++)
		pthread_mutex_destroy(&buckets[i].lock);
	free(buckets);
	buckets = NULL;
	nbuckets = 0;
	OPENSSL_cleanse(key, sizeof(key));
}

static const char digits[] = "0123456789abcdef";

/* The realm is under the MAC too, so a nonce of one realm is worthless in another. */
static int mac_hex(char *out, uint64_t issued, uint32_t seq)
{
	unsigned char data[12 + 256], mac[32];
	size_t rlen = strlen(auth_realm);
	int err;

	if (rlen > 256)
		rlen = 256;
	for (int i = 0; i < 8; i++)
		data[i] = (unsigned char)(issued >> (56 - 8 * i));
	for (int i = 0; i < 4; i++)
		data[8 + i] = (unsigned char)(seq >> (24 - 8 * i));
	memcpy(data + 12, auth_realm, rlen);
	if ((err = auth_hmac(mac, key, keylen, data, 12 + rlen)))
		return err;
	for (int i = 0; i < MAC_HEX / 2; i++) {
		out[2 * i] = digits[mac[i] >> 4];
		out[2 * i + 1] = digits[mac[i] & 15];
	}
	return 0;
}

int auth_nonce_make(char *out, uint64_t now_ms)
{
	/* Clients challenged in the same millisecond must still get distinct nonces (own nc spaces). */
	uint32_t seq = atomic_fetch_add_explicit(&nonce_seq, 1, memory_order_relaxed);
	int err;

	/* 16 hex digits of the issue time, 8 of the sequence number */
	for (int i = 0; i < 16; i++)
		out[i] = digits[(now_ms >> (60 - 4 * i)) & 15];
	for (int i = 0; i < 8; i++)
		out[16 + i] = digits[(seq >> (28 - 4 * i)) & 15];
	if ((err = mac_hex(out + 24, now_ms, seq)))
		return err;
	out[AUTH_NONCE_LEN] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

enum auth_nonce_state auth_nonce_check(struct sipd_str nonce, uint64_t now_ms, uint64_t ttl_ms,
				       uint64_t *issued_ms)
{
	char want[MAC_HEX];
	uint64_t issued = 0;
	uint32_t seq = 0;

	if (nonce.len != AUTH_NONCE_LEN)
		return AUTH_NONCE_INVALID;
	for (int i = 0; i < 24; i++) {
		int v = hexval(nonce.p[i]);

		if (v < 0)
			return AUTH_NONCE_INVALID;
		if (i < 16)
			issued = issued << 4 | (uint64_t)v;
		else
			seq = seq << 4 | (uint32_t)v;
	}
	if (mac_hex(want, issued, seq) != 0 || CRYPTO_memcmp(want, nonce.p + 24, MAC_HEX) != 0)
		return AUTH_NONCE_INVALID;
	*issued_ms = issued;
	/* A nonce from the future means the clock went back: treat it like an old one. */
	if (issued > now_ms || now_ms - issued > ttl_ms)
		return AUTH_NONCE_STALE;
	return AUTH_NONCE_VALID;
}

static uint64_t mac_key(struct sipd_str nonce)
{
	uint64_t k = 0;

	for (int i = 0; i < 16; i++)
		k = k << 4 | (uint64_t)hexval(nonce.p[24 + i]);
	return k ? k : 1;
}

bool auth_nc_accept(struct sipd_str nonce, uint64_t issued_ms, uint32_t nc, uint32_t branch, uint64_t now_ms)
{
	uint64_t k = mac_key(nonce);
	struct nc_bucket *b = &buckets[k % nbuckets];
	struct nc_entry *slot = NULL;
	bool ok = false;

	pthread_mutex_lock(&b->lock);
	for (int i = 0; i < WAYS; i++) {
		struct nc_entry *e = &b->e[i];

		if (e->key == k && e->issued == issued_ms) {
			/*
			 * The same nc again is a replay, unless it is the same request
			 * retransmitted (same branch, within a transaction's life): UDP
			 * clients resend when our answer is slow or lost.
			 */
			ok = nc > e->nc || (nc == e->nc && branch && branch == e->branch &&
					    now_ms - e->seen < RETRANSMIT_MS);
			if (ok && nc > e->nc) {
				e->nc = nc;
				e->branch = branch;
				e->seen = now_ms;
			}
			goto out;
		}
	}
	if (issued_ms <= b->floor)
		goto out;
	for (int i = 0; i < WAYS; i++) {
		struct nc_entry *e = &b->e[i];

		if (!slot || e->key == 0 || (slot->key != 0 && e->issued < slot->issued))
			slot = e;
		if (e->key == 0)
			break;
	}
	if (slot->key != 0 && slot->issued > b->floor)
		b->floor = slot->issued;
	*slot = (struct nc_entry){.key = k, .issued = issued_ms, .seen = now_ms, .nc = nc, .branch = branch};
	ok = true;
out:
	pthread_mutex_unlock(&b->lock);
	return ok;
}
