/* Private to loop.c and timer.c (and their unit tests): the loop and its timer wheel. */
#ifndef SIPD_LOOP_PRIV_H
#define SIPD_LOOP_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sipd/loop.h>

/*
 * Hierarchical timing wheel with 1 ms ticks: 4 levels of 256 slots cover
 * 2^32 ms (49.7 days); longer timers sit in the top level and are placed
 * again each time their slot cascades. See timer.c for the invariants.
 */
#define WHEEL_BITS   8
#define WHEEL_SLOTS  (1u << WHEEL_BITS)
#define WHEEL_LEVELS 4
/* Slot number of the list of timers being expired right now. */
#define WHEEL_EXPIRING (WHEEL_LEVELS * WHEEL_SLOTS)

struct timer_wheel {
	pthread_mutex_t lock;
	uint64_t cur;         /* next tick (ms) not yet processed */
	uint64_t sleep_until; /* deadline the loop sleeps towards; UINT64_MAX: none */
	unsigned count;       /* timers in the wheel, expiring list included */
	uint64_t used[WHEEL_LEVELS][WHEEL_SLOTS / 64]; /* non-empty slots */
	struct sipd_timer *head[WHEEL_LEVELS * WHEEL_SLOTS + 1];
};

struct post_node;

struct sipd_loop {
	unsigned idx;
	int epfd;
	int wakefd; /* eventfd: posts and earlier timers wake the loop */
	pthread_t thread;
	bool started;        /* thread created and not joined yet (main thread only) */
	atomic_bool running; /* thread started and not finished */
	atomic_bool stopping;
	bool in_batch;                     /* dispatching epoll events (loop thread only) */
	struct sipd_io *dead;              /* removed during the batch, freed after it */
	atomic_uint io_count;              /* watchers added and not yet removed */
	_Atomic(struct post_node *) posts; /* LIFO pushed by any thread, reversed on run */
	struct timer_wheel wheel;
};

/* timer.c */
void timer_wheel_init(struct timer_wheel *w, uint64_t now);
/* Forgets every timer still armed (they become not pending). */
void timer_wheel_destroy(struct timer_wheel *w);
/* Milliseconds the loop may sleep (-1: no timer); records the deadline for wake-ups. */
int timer_wheel_timeout(struct timer_wheel *w, uint64_t now);
/* Runs every timer due at or before now; callbacks run without the lock. */
void timer_wheel_run(struct timer_wheel *w, uint64_t now);

/* loop.c: wakes a sleeping loop (used by timer.c for earlier deadlines). */
void loop_wake(struct sipd_loop *l);

#endif
