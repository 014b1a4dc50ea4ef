/* Timers: a hierarchical timing wheel per loop, 1 ms ticks, O(1) start and stop. */
#include <stdlib.h>

#include <sipd/log.h>

#include "loop_priv.h"

/*
 * Invariants (cur = the next tick not yet processed):
 * - level 0 slot b holds timers due at the one tick t in [cur, cur + 255]
 *   with t % 256 == b;
 * - a level k >= 1 slot s is "cascaded" (its timers placed again, relative
 *   to the new cur) at the first multiple M of 256^k with M >= cur and
 *   (M / 256^k) % 256 == s; every timer in it is due at or after M.
 * So the earliest interesting tick is cheap to find from the slot bitmaps,
 * and ticks in between can be skipped without visiting them.
 */

#define MAX_SLEEP_MS 3600000u
#define TOP_RANGE    (1ull << (WHEEL_BITS * WHEEL_LEVELS))

static bool timer_pending(const struct sipd_timer *t)
{
	return __atomic_load_n(&t->pending, __ATOMIC_ACQUIRE);
}

static void set_pending(struct sipd_timer *t, bool v)
{
	__atomic_store_n(&t->pending, v, __ATOMIC_RELEASE);
}

static struct sipd_loop *timer_loop(const struct sipd_timer *t)
{
	return __atomic_load_n(&t->loop, __ATOMIC_ACQUIRE);
}

static void mark_slot(struct timer_wheel *w, unsigned slot, bool used)
{
	if (slot >= WHEEL_EXPIRING)
		return;
	uint64_t *word = &w->used[slot / WHEEL_SLOTS][(slot % WHEEL_SLOTS) / 64];
	uint64_t bit = 1ull << (slot % 64);
	if (used)
		*word |= bit;
	else
		*word &= ~bit;
}

/* Tails are found through the head's prev pointer: head->prev is the last timer. */
static void link_tail(struct timer_wheel *w, struct sipd_timer *t, unsigned slot)
{
	struct sipd_timer *head = w->head[slot];

	t->slot = slot;
	t->next = NULL;
	if (!head) {
		t->prev = t;
		w->head[slot] = t;
		mark_slot(w, slot, true);
		return;
	}
	t->prev = head->prev;
	head->prev->next = t;
	head->prev = t;
}

static void unlink_timer(struct timer_wheel *w, struct sipd_timer *t)
{
	struct sipd_timer *head = w->head[t->slot];

	if (t == head) {
		w->head[t->slot] = t->next;
		if (t->next)
			t->next->prev = t->prev;
		else
			mark_slot(w, t->slot, false);
	} else {
		t->prev->next = t->next;
		if (t->next)
			t->next->prev = t->prev;
		else
			head->prev = t->prev;
	}
	t->next = t->prev = NULL;
}

static void place(struct timer_wheel *w, struct sipd_timer *t)
{
	uint64_t e = t->expires < w->cur ? w->cur : t->expires;
	uint64_t delta = e - w->cur;
	unsigned level = 0;

	if (delta >= TOP_RANGE) {
		/* Beyond the wheel: park in the top level, placed again when it cascades. */
		e = w->cur + TOP_RANGE - 1;
		level = WHEEL_LEVELS - 1;
	} else {
		while (delta >= (1ull << (WHEEL_BITS * (level + 1))))
			level++;
	}
	unsigned idx = (unsigned)(e >> (WHEEL_BITS * level)) & (WHEEL_SLOTS - 1);
	link_tail(w, t, level * WHEEL_SLOTS + idx);
}

/* Distance from p to the next used slot of a level, wrapping; -1 if none. */
static int next_used(const uint64_t *bm, unsigned p)
{
	unsigned word = p / 64, bit = p % 64;
	uint64_t x = bm[word] & (~0ull << bit);

	if (x)
		return (int)(word * 64 + (unsigned)__builtin_ctzll(x) - p);
	for (unsigned i = 1; i <= WHEEL_SLOTS / 64; i++) {
		unsigned ww = (word + i) % (WHEEL_SLOTS / 64);
		x = bm[ww];
		if (i == WHEEL_SLOTS / 64)
			x &= bit ? (1ull << bit) - 1 : 0;
		if (x)
			return (int)((ww * 64 + (unsigned)__builtin_ctzll(x) - p) & (WHEEL_SLOTS - 1));
	}
	return -1;
}

/* The earliest tick >= cur at which a slot expires or cascades; UINT64_MAX if empty. */
static uint64_t next_event(const struct timer_wheel *w)
{
	uint64_t best = UINT64_MAX;

	for (unsigned level = 0; level < WHEEL_LEVELS; level++) {
		unsigned shift = WHEEL_BITS * level;
		uint64_t unit = 1ull << shift;
		uint64_t first = ((w->cur + unit - 1) >> shift) << shift;
		int d = next_used(w->used[level], (unsigned)(first >> shift) & (WHEEL_SLOTS - 1));
		if (d < 0)
			continue;
		uint64_t at = first + (uint64_t)d * unit;
		if (at < best)
			best = at;
	}
	return best;
}

static void cascade(struct timer_wheel *w, unsigned level, unsigned idx)
{
	unsigned slot = level * WHEEL_SLOTS + idx;
	struct sipd_timer *t = w->head[slot];

	w->head[slot] = NULL;
	mark_slot(w, slot, false);
	while (t) {
		struct sipd_timer *next = t->next;
		place(w, t);
		t = next;
	}
}

void timer_wheel_init(struct timer_wheel *w, uint64_t now)
{
	/* 0 until the loop first computes a sleep: nothing to wake before that. */
	*w = (struct timer_wheel){.cur = now, .sleep_until = 0};
	pthread_mutex_init(&w->lock, NULL);
}

void timer_wheel_destroy(struct timer_wheel *w)
{
	pthread_mutex_lock(&w->lock);
	for (unsigned slot = 0; slot <= WHEEL_EXPIRING; slot++) {
		struct sipd_timer *t = w->head[slot];
		while (t) {
			struct sipd_timer *next = t->next;
			t->next = t->prev = NULL;
			__atomic_store_n(&t->loop, NULL, __ATOMIC_RELEASE);
			set_pending(t, false);
			t = next;
		}
		w->head[slot] = NULL;
	}
	w->count = 0;
	pthread_mutex_unlock(&w->lock);
	pthread_mutex_destroy(&w->lock);
}

int timer_wheel_timeout(struct timer_wheel *w, uint64_t now)
{
	int ms;

	pthread_mutex_lock(&w->lock);
	uint64_t at = next_event(w);
	if (at == UINT64_MAX) {
		ms = -1;
	} else if (at <= now) {
		ms = 0;
	} else {
		ms = at - now > MAX_SLEEP_MS ? (int)MAX_SLEEP_MS : (int)(at - now);
		at = now + (uint64_t)ms;
	}
	__atomic_store_n(&w->sleep_until, at, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&w->lock);
	return ms;
}

void timer_wheel_run(struct timer_wheel *w, uint64_t now)
{
	pthread_mutex_lock(&w->lock);
	while (w->cur <= now) {
		uint64_t at = next_event(w);
		if (at > now) {
			w->cur = now + 1;
			break;
		}
		w->cur = at;
		for (unsigned level = WHEEL_LEVELS - 1; level > 0; level--) {
			uint64_t mask = (1ull << (WHEEL_BITS * level)) - 1;
			if ((at & mask) == 0)
				cascade(w, level, (unsigned)(at >> (WHEEL_BITS * level)) & (WHEEL_SLOTS - 1));
		}
		/* Detach the due slot first so timers re-armed by callbacks land in later ticks. */
		unsigned slot = (unsigned)at & (WHEEL_SLOTS - 1);
		struct sipd_timer *t = w->head[slot];
		w->head[slot] = NULL;
		mark_slot(w, slot, false);
		while (t) {
			struct sipd_timer *next = t->next;
			link_tail(w, t, WHEEL_EXPIRING);
			t = next;
		}
		w->cur = at + 1;
		/* One at a time, so a callback can still stop a timer due in the same tick. */
		while ((t = w->head[WHEEL_EXPIRING])) {
			unlink_timer(w, t);
			w->count--;
			void (*fn)(void *) = t->fn;
			void *arg = t->arg;
			set_pending(t, false);
			pthread_mutex_unlock(&w->lock);
			fn(arg);
			pthread_mutex_lock(&w->lock);
		}
	}
	pthread_mutex_unlock(&w->lock);
}

void sipd_timer_init(struct sipd_timer *t, void (*fn)(void *arg), void *arg)
{
	*t = (struct sipd_timer){.fn = fn, .arg = arg};
}

/* Locks the wheel t is armed on, following moves; NULL if t is not pending. */
static struct sipd_loop *lock_owner(struct sipd_timer *t)
{
	for (;;) {
		if (!timer_pending(t))
			return NULL;
		struct sipd_loop *l = timer_loop(t);
		if (!l)
			return NULL;
		pthread_mutex_lock(&l->wheel.lock);
		if (timer_loop(t) == l)
			return l;
		pthread_mutex_unlock(&l->wheel.lock);
	}
}

bool sipd_timer_stop(struct sipd_timer *t)
{
	struct sipd_loop *l = lock_owner(t);
	if (!l)
		return false;

	bool was = t->pending;
	if (was) {
		unlink_timer(&l->wheel, t);
		l->wheel.count--;
		set_pending(t, false);
	}
	pthread_mutex_unlock(&l->wheel.lock);
	return was;
}

void sipd_timer_start(struct sipd_timer *t, struct sipd_loop *l, uint64_t ms)
{
	struct sipd_loop *self = sipd_loop_self();

	if (!l)
		l = self ? self : sipd_loop_get(0);
	if (!l) {
		SIPD_ERR("timer started before the event loops exist; it will not fire");
		return;
	}
	struct timer_wheel *w = &l->wheel;
	for (;;) {
		struct sipd_loop *old = timer_loop(t);
		if (old && old != l && timer_pending(t))
			sipd_timer_stop(t);
		pthread_mutex_lock(&w->lock);
		if (!t->pending)
			break;
		if (t->loop == l) {
			unlink_timer(w, t);
			w->count--;
			break;
		}
		/* Armed on another loop again by a racing thread: take it off there first. */
		pthread_mutex_unlock(&w->lock);
	}
	t->expires = sipd_now_ms() + ms;
	__atomic_store_n(&t->loop, l, __ATOMIC_RELEASE);
	place(w, t);
	w->count++;
	set_pending(t, true);
	bool wake = self != l && t->expires < __atomic_load_n(&w->sleep_until, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&w->lock);
	if (wake)
		loop_wake(l);
}
