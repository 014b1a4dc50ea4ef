/* Worker event loops: fd watchers, timers, and cross-thread posting. */
#ifndef SIPD_LOOP_H
#define SIPD_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include <sipd/api.h>

struct sipd_loop;
struct sipd_io;

/* Number of worker loops (core.workers; 0 in the config means one per core). */
SIPD_API unsigned sipd_loop_count(void);
/* Loop idx (0 <= idx < count). */
SIPD_API struct sipd_loop *sipd_loop_get(unsigned idx);
/* The loop of the calling worker thread, or NULL on another thread. */
SIPD_API struct sipd_loop *sipd_loop_self(void);
/* A small dense index of the calling thread (workers are 0..count-1). */
SIPD_API unsigned sipd_thread_index(void);

/* Monotonic milliseconds. */
SIPD_API uint64_t sipd_now_ms(void);

/* events: EPOLLIN/EPOLLOUT/... as in <sys/epoll.h>. Runs on the loop's thread. */
typedef void (*sipd_io_fn)(int fd, uint32_t events, void *arg);

/*
 * Watches fd on loop l. The same fd may be watched by several loops (pass
 * EPOLLEXCLUSIVE in events to wake only one of them). Returns 0 or errno.
 */
SIPD_API int sipd_io_add(struct sipd_io **out, struct sipd_loop *l, int fd, uint32_t events, sipd_io_fn fn,
			 void *arg);
SIPD_API int sipd_io_modify(struct sipd_io *io, uint32_t events);
/* Stops watching and frees io; safe from inside its own callback. Does not close fd. */
SIPD_API void sipd_io_remove(struct sipd_io *io);

/*
 * Timers. Embed a struct sipd_timer in your object; its fields are the
 * core's. A timer fires once on the loop it was started on. Start and stop
 * are safe from any thread.
 */
struct sipd_timer {
	/* private to the core */
	struct sipd_timer *next, *prev;
	uint64_t expires;
	struct sipd_loop *loop;
	void (*fn)(void *arg);
	void *arg;
	unsigned slot;
	bool pending;
};

SIPD_API void sipd_timer_init(struct sipd_timer *t, void (*fn)(void *arg), void *arg);
/* (Re)arms t to fire after ms on loop l (NULL: the caller's loop, or loop 0 off-worker). */
SIPD_API void sipd_timer_start(struct sipd_timer *t, struct sipd_loop *l, uint64_t ms);
/* Disarms t; returns true if it was pending (so its callback will not run). */
SIPD_API bool sipd_timer_stop(struct sipd_timer *t);

/* Runs fn(arg) on loop l's thread soon. Safe from any thread. Returns 0 or ENOMEM. */
SIPD_API int sipd_loop_post(struct sipd_loop *l, void (*fn)(void *arg), void *arg);

#endif
