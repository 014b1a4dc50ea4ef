/* Digest brute-force guard: back-off per (user, source address) and a per-user slow-down for new addresses.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auth_db.h"

#define WAYS 8
/* Failures of one user counted together over this window (the per-user slow-down). */
#define USER_WINDOW_MS 60000u
/* An address that logged a user in recently is trusted by the per-user slow-down for this long. */
#define TRUST_MS (24u * 3600u * 1000u)

/*
 * One entry per (user, address) and one per user (address all zero), in a
 * fixed table of buckets of WAYS entries keyed by a hash: a full bucket
 * evicts its least recently used entry, so memory stays bounded whatever an
 * attacker sends. A collision merges two keys' counters, which only ever
 * slows someone down, never lets anyone in.
 */
struct guard_entry {
	uint64_t key;      /* 0: empty */
	uint64_t used;     /* ms, for eviction */
	uint64_t blocked;  /* ms until which attempts are refused unchecked */
	uint64_t window;   /* per-user entries: start of the failure window */
	uint64_t trusted;  /* per-address entries: last successful login */
	uint32_t failures; /* consecutive (per address) or in the window (per user) */
};

struct guard_bucket {
	pthread_mutex_t lock;
	struct guard_entry e[WAYS];
};

static struct guard_bucket *buckets;
static size_t nbuckets;

int auth_guard_init(unsigned entries)
{
	nbuckets = entries / WAYS ? entries / WAYS : 1;
	if (!(buckets = calloc(nbuckets, sizeof(*buckets))))
		return ENOMEM;
	for (size_t i = 0; i < nbuckets; i++)
		pthread_mutex_init(&buckets[i].lock, NULL);
	return 0;
}

void auth_guard_fini(void)
{
	for (size_t i = 0; buckets && i < nbuckets; i++)
		pthread_mutex_destroy(&buckets[i].lock);
	free(buckets);
	buckets = NULL;
	nbuckets = 0;
}

static uint64_t fnv64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211u;
	return h;
}

/* The key of user at addr (addr NULL: the user alone); never 0. */
static uint64_t key_of(struct sipd_str user, const union sipd_sockaddr *addr)
{
	uint64_t h = fnv64(14695981039346656037u, user.p, user.len);

	h = fnv64(h, "\n", 1);
	if (addr && addr->sa.sa_family == AF_INET)
		h = fnv64(h, &addr->sin.sin_addr, sizeof(addr->sin.sin_addr));
	else if (addr && addr->sa.sa_family == AF_INET6)
		h = fnv64(h, &addr->sin6.sin6_addr, sizeof(addr->sin6.sin6_addr));
	return h ? h : 1;
}

/* The entry for key, made (evicting the least recently used) when create; NULL otherwise. Bucket locked. */
static struct guard_entry *find(struct guard_bucket *b, uint64_t key, bool create, uint64_t now)
{
	struct guard_entry *victim = &b->e[0];

	for (int i = 0; i < WAYS; i++) {
		if (b->e[i].key == key) {
			b->e[i].used = now;
			return &b->e[i];
		}
		if (b->e[i].key == 0 || (victim->key != 0 && b->e[i].used < victim->used))
			victim = &b->e[i];
	}
	if (!create)
		return NULL;
	*victim = (struct guard_entry){.key = key, .used = now};
	return victim;
}

static struct guard_bucket *bucket_of(uint64_t key)
{
	return &buckets[key % nbuckets];
}

/* Back-off after the limit: 1 s, 2 s, 4 s ... up to auth_guard_max_backoff seconds. */
static uint64_t backoff_ms(uint32_t over)
{
	uint64_t ms = 1000u << (over > 20 ? 20 : over);
	uint64_t max = (uint64_t)auth_guard_max_backoff * 1000u;

	return ms > max ? max : ms;
}

uint64_t auth_guard_check(struct sipd_str user, const union sipd_sockaddr *addr, uint64_t now)
{
	uint64_t ka = key_of(user, addr), ku = key_of(user, NULL), wait = 0;
	struct guard_bucket *b;
	struct guard_entry *e;
	bool trusted = false;

	if (!buckets || auth_guard_failures <= 0)
		return 0;
	b = bucket_of(ka);
	pthread_mutex_lock(&b->lock);
	if ((e = find(b, ka, false, now))) {
		trusted = e->trusted && now - e->trusted < TRUST_MS;
		if (e->blocked > now)
			wait = e->blocked - now;
	}
	pthread_mutex_unlock(&b->lock);
	if (wait || trusted)
		return wait;
	/* Under attack from many addresses, an address that never logged this user in waits its turn. */
	b = bucket_of(ku);
	pthread_mutex_lock(&b->lock);
	if ((e = find(b, ku, false, now)) && e->blocked > now)
		wait = e->blocked - now;
	pthread_mutex_unlock(&b->lock);
	return wait;
}

bool auth_guard_failed(struct sipd_str user, const union sipd_sockaddr *addr, uint64_t now)
{
	uint64_t ka = key_of(user, addr), ku = key_of(user, NULL);
	struct guard_bucket *b;
	struct guard_entry *e;
	bool started;

	if (!buckets || auth_guard_failures <= 0)
		return false;
	b = bucket_of(ka);
	pthread_mutex_lock(&b->lock);
	e = find(b, ka, true, now);
	if (++e->failures >= (uint32_t)auth_guard_failures)
		e->blocked = now + backoff_ms(e->failures - (uint32_t)auth_guard_failures);
	started = e->failures == (uint32_t)auth_guard_failures;
	pthread_mutex_unlock(&b->lock);

	b = bucket_of(ku);
	pthread_mutex_lock(&b->lock);
	e = find(b, ku, true, now);
	if (now - e->window > USER_WINDOW_MS) {
		e->window = now;
		e->failures = 0;
	}
	/* Past the per-user limit, untrusted addresses share one attempt per second between them. */
	if (++e->failures >= (uint32_t)auth_guard_user_failures)
		e->blocked = now + 1000u;
	started = started || e->failures == (uint32_t)auth_guard_user_failures;
	pthread_mutex_unlock(&b->lock);
	return started;
}

void auth_guard_succeeded(struct sipd_str user, const union sipd_sockaddr *addr, uint64_t now)
{
	uint64_t ka = key_of(user, addr);
	struct guard_bucket *b;
	struct guard_entry *e;

	if (!buckets || auth_guard_failures <= 0)
		return;
	b = bucket_of(ka);
	pthread_mutex_lock(&b->lock);
	e = find(b, ka, true, now);
	e->failures = 0;
	e->blocked = 0;
	e->trusted = now;
	pthread_mutex_unlock(&b->lock);
}
