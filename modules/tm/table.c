/* The transaction table: cells in hash buckets, each bucket with its own lock; cells are refcounted. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

struct tm_bucket {
	pthread_mutex_t lock;
	struct tm_cell *head; /* changed under lock with atomic stores: tm_cell_foreach peeks unlocked */
	uint32_t next_label;
};

static struct tm_bucket *buckets;
static unsigned bucket_count; /* a power of two */
static uint64_t cells_live;   /* atomic */
static uint32_t local_seed;   /* atomic: spreads cells that have no key */

int tm_table_init(unsigned n)
{
	unsigned size = 1;

	while (size < n && size < (1u << 24))
		size <<= 1;
	buckets = calloc(size, sizeof(*buckets));
	if (!buckets)
		return ENOMEM;
	for (unsigned i = 0; i < size; i++) {
		pthread_mutex_init(&buckets[i].lock, NULL);
		/* Labels start apart per bucket so a stale branch rarely names a new cell. */
		buckets[i].next_label = (uint32_t)rand();
	}
	bucket_count = size;
	return 0;
}

void tm_table_destroy(void)
{
	for (unsigned i = 0; i < bucket_count; i++) {
		struct tm_cell *c;

		while ((c = buckets[i].head)) {
			/* The timers' references go first, so the table's is the last one. */
			tm_cell_ref(c);
			tm_cell_lock(c);
			tm_cell_disarm(c);
			tm_cell_unlock(c);
			tm_cell_unlink(c);
			tm_cell_unref(c);
		}
	}
	if (tm_cell_count())
		SIPD_WARN("%llu transaction(s) still referenced at shutdown",
			  (unsigned long long)tm_cell_count());
	for (unsigned i = 0; i < bucket_count; i++)
		pthread_mutex_destroy(&buckets[i].lock);
	free(buckets);
	buckets = NULL;
	bucket_count = 0;
}

/* FNV-1a: keys are short (a branch, a Call-ID) and attacker-chosen hashes only lengthen one bucket. */
uint32_t tm_hash(struct sipd_str s, uint32_t seed)
{
	uint32_t h = 2166136261u ^ seed;

	for (size_t i = 0; i < s.len; i++) {
		h ^= (unsigned char)s.p[i];
		h *= 16777619u;
	}
	return h;
}

int tm_cell_new(struct tm_cell **out)
{
	struct tm_cell *c = calloc(1, sizeof(*c));

	if (!c)
		return ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->refs = 1;
	c->on_failure = c->on_reply = -1;
	c->uas.state = TM_TERMINATED;
	__atomic_add_fetch(&cells_live, 1, __ATOMIC_RELAXED);
	*out = c;
	return 0;
}

void tm_cell_ref(struct tm_cell *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

static void cell_free(struct tm_cell *c)
{
	for (unsigned i = 0; i < c->nuac; i++)
		tm_uac_free(c->uac[i]);
	free(c->uac);
	if (c->has_uas) {
		tm_state_set(&c->uas.state, TM_TERMINATED);
		sipd_stat_add(tm_st.current, -1);
		if (c->uas.req)
			c->uas.req->ops->free(c->uas.req);
		free(c->uas.resp);
		free(c->uas.key);
	}
	pthread_mutex_destroy(&c->lock);
	__atomic_sub_fetch(&cells_live, 1, __ATOMIC_RELAXED);
	free(c);
}

void tm_cell_unref(struct tm_cell *c)
{
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		cell_free(c);
}

struct tm_cell *tm_cell_link(struct tm_cell *c, uint32_t key_hash, tm_cell_pred pred, void *arg)
{
	struct tm_bucket *b;
	struct tm_cell *o;

	if (!c->has_uas)
		key_hash = __atomic_add_fetch(&local_seed, 2654435761u, __ATOMIC_RELAXED);
	c->key_hash = key_hash;
	c->bucket = key_hash & (bucket_count - 1);
	b = &buckets[c->bucket];
	pthread_mutex_lock(&b->lock);
	/* Two copies of one request on two workers: the second finds the first's cell. */
	for (o = pred ? b->head : NULL; o; o = o->next)
		if (o->has_uas && o->key_hash == key_hash && pred(o, arg)) {
			tm_cell_ref(o);
			pthread_mutex_unlock(&b->lock);
			return o;
		}
	tm_cell_ref(c);
	c->label = b->next_label++;
	c->next = b->head;
	c->prev = NULL;
	if (b->head)
		b->head->prev = c;
	__atomic_store_n(&b->head, c, __ATOMIC_RELEASE);
	c->linked = true;
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

void tm_cell_unlink(struct tm_cell *c)
{
	struct tm_bucket *b = &buckets[c->bucket];
	bool was;

	pthread_mutex_lock(&b->lock);
	was = c->linked;
	if (was) {
		if (c->prev)
			c->prev->next = c->next;
		else
			__atomic_store_n(&b->head, c->next, __ATOMIC_RELEASE);
		if (c->next)
			c->next->prev = c->prev;
		c->linked = false;
	}
	pthread_mutex_unlock(&b->lock);
	if (was)
		tm_cell_unref(c);
}

struct tm_cell *tm_cell_by_label(unsigned bucket, uint32_t label)
{
	struct tm_cell *c;

	if (bucket >= bucket_count)
		return NULL;
	pthread_mutex_lock(&buckets[bucket].lock);
	for (c = buckets[bucket].head; c; c = c->next)
		if (c->label == label) {
			tm_cell_ref(c);
			break;
		}
	pthread_mutex_unlock(&buckets[bucket].lock);
	return c;
}

struct tm_cell *tm_cell_find(uint32_t key_hash, tm_cell_pred pred, void *arg)
{
	struct tm_bucket *b = &buckets[key_hash & (bucket_count - 1)];
	struct tm_cell *c;

	pthread_mutex_lock(&b->lock);
	for (c = b->head; c; c = c->next)
		if (c->has_uas && c->key_hash == key_hash && pred(c, arg)) {
			tm_cell_ref(c);
			break;
		}
	pthread_mutex_unlock(&b->lock);
	return c;
}

void tm_bucket_lock(const struct tm_cell *c)
{
	pthread_mutex_lock(&buckets[c->bucket].lock);
}

void tm_bucket_unlock(const struct tm_cell *c)
{
	pthread_mutex_unlock(&buckets[c->bucket].lock);
}

void tm_cell_foreach(void (*fn)(struct tm_cell *c, void *arg), void *arg)
{
	for (unsigned i = 0; i < bucket_count; i++) {
		struct tm_bucket *b = &buckets[i];
		struct tm_cell *stack[64], **batch = stack;
		unsigned n = 0, len = 0;

		/*
		 * An empty bucket is passed without its lock (most are: a transport error
		 * walks the whole table). A cell linked after the peek is as new as one
		 * linked after the bucket was walked. Collect under the bucket lock, act
		 * outside it: fn takes cell locks. A long bucket gets an array of its own;
		 * without memory for it, only its first 64 cells are visited.
		 */
		if (!__atomic_load_n(&b->head, __ATOMIC_ACQUIRE))
			continue;
		pthread_mutex_lock(&b->lock);
		for (struct tm_cell *c = b->head; c; c = c->next)
			len++;
		if (len > 64 && !(batch = malloc(len * sizeof(*batch)))) {
			batch = stack;
			len = 64;
		}
		for (struct tm_cell *c = b->head; c && n < len; c = c->next) {
			tm_cell_ref(c);
			batch[n++] = c;
		}
		pthread_mutex_unlock(&b->lock);
		for (unsigned k = 0; k < n; k++) {
			fn(batch[k], arg);
			tm_cell_unref(batch[k]);
		}
		if (batch != stack)
			free(batch);
	}
}

uint64_t tm_cell_count(void)
{
	return __atomic_load_n(&cells_live, __ATOMIC_RELAXED);
}
