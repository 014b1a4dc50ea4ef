/* Per-source token buckets in a fixed table: memory stays bounded whatever the number of sources. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rl.h"

#define RL_WAYS 8

struct rl_entry {
	uint8_t addr[16]; /* IPv4 mapped into IPv6 */
	uint64_t last_ms; /* last refill; 0: free slot */
	int64_t tokens;   /* in thousandths of a request */
};

struct rl_bucket {
	pthread_mutex_t lock;
	struct rl_entry e[RL_WAYS];
};

static struct rl_bucket *buckets;
static unsigned bucket_mask;
static uint32_t seed;

int rl_src_init(unsigned entries)
{
	unsigned n = 1;

	while (n * RL_WAYS < entries && n < (1u << 20))
		n <<= 1;
	if (!(buckets = calloc(n, sizeof(*buckets))))
		return ENOMEM;
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&buckets[i].lock, NULL);
	bucket_mask = n - 1;
	/* A seed the sender cannot guess keeps it from crowding one bucket to evict a victim. */
	seed = (uint32_t)random() ^ (uint32_t)(uintptr_t)buckets;
	return 0;
}

void rl_src_destroy(void)
{
	if (!buckets)
		return;
	for (unsigned i = 0; i <= bucket_mask; i++)
		pthread_mutex_destroy(&buckets[i].lock);
	free(buckets);
	buckets = NULL;
}

static void addr_key(uint8_t out[16], const union sipd_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET6) {
		memcpy(out, &a->sin6.sin6_addr, 16);
		return;
	}
	memset(out, 0, 10);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, &a->sin.sin_addr, 4);
}

static uint32_t key_hash(const uint8_t k[16])
{
	uint32_t h = 2166136261u ^ seed;

	for (unsigned i = 0; i < 16; i++) {
		h ^= k[i];
		h *= 16777619u;
	}
	return h ^ (h >> 15);
}

bool rl_src_take(const union sipd_sockaddr *addr, uint64_t now_ms)
{
	const int64_t burst = (int64_t)rl_cfg.src_burst * 1000, rate = rl_cfg.src_rate;
	struct rl_entry *e = NULL, *oldest = NULL;
	struct rl_bucket *b;
	uint8_t k[16];
	bool ok;

	addr_key(k, addr);
	b = &buckets[key_hash(k) & bucket_mask];
	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < RL_WAYS && !e; i++) {
		struct rl_entry *x = &b->e[i];

		if (x->last_ms && !memcmp(x->addr, k, 16))
			e = x;
		else if (!oldest || x->last_ms < oldest->last_ms)
			oldest = x;
	}
	if (!e) {
		/* A new source (or the stalest one's slot): it starts with a full bucket. */
		e = oldest;
		memcpy(e->addr, k, 16);
		e->tokens = burst;
		e->last_ms = now_ms ? now_ms : 1;
	} else if (now_ms > e->last_ms) {
		e->tokens += (int64_t)(now_ms - e->last_ms) * rate;
		if (e->tokens > burst)
			e->tokens = burst;
		e->last_ms = now_ms;
	}
	ok = e->tokens >= 1000;
	if (ok)
		e->tokens -= 1000;
	pthread_mutex_unlock(&b->lock);
	return ok;
}
