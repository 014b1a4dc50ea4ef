/* Worker event loops: one epoll per thread, fd watchers, posted work, thread indexes. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <sipd/log.h>

#include "internal.h"
#include "loop_priv.h"

#define BATCH_EVENTS 64
/* Posted work that keeps posting more is cut off after this many rounds at stop. */
#define STOP_DRAIN_ROUNDS 1000

struct sipd_io {
	struct sipd_loop *loop;
	int fd;
	uint32_t events;
	sipd_io_fn fn;
	void *arg;
	atomic_bool removed;
	struct sipd_io *next_dead;
};

struct post_node {
	struct post_node *next;
	void (*fn)(void *arg);
	void *arg;
};

static struct sipd_loop **loops;
static unsigned loop_count;
static _Atomic(loop_idle_hook) idle_hook;

static __thread struct sipd_loop *tls_loop;
/* 0: not assigned yet; otherwise index + 1. */
static __thread unsigned tls_index;

/*
 * Workers own indexes 0..count-1. Other threads take the highest free index
 * from the top down, so they never meet the workers unless more than
 * SIPD_MAX_THREADS threads exist; then they share the last one (stats use
 * atomic adds, so sharing stays correct). Released when the thread exits.
 */
static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static bool index_used[SIPD_MAX_THREADS];
static pthread_key_t index_key;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void index_release(void *value)
{
	unsigned idx = (unsigned)(uintptr_t)value - 1;

	pthread_mutex_lock(&index_lock);
	index_used[idx] = false;
	pthread_mutex_unlock(&index_lock);
}

static void index_key_create(void)
{
	pthread_key_create(&index_key, index_release);
}

unsigned sipd_thread_index(void)
{
	if (tls_index)
		return tls_index - 1;

	unsigned idx = SIPD_MAX_THREADS - 1;
	bool owned = false;
	pthread_once(&index_once, index_key_create);
	pthread_mutex_lock(&index_lock);
	for (unsigned i = SIPD_MAX_THREADS; i-- > 0;) {
		if (!index_used[i]) {
			index_used[i] = owned = true;
			idx = i;
			break;
		}
	}
	pthread_mutex_unlock(&index_lock);
	if (owned)
		pthread_setspecific(index_key, (void *)(uintptr_t)(idx + 1));
	tls_index = idx + 1;
	return idx;
}

uint64_t sipd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

unsigned sipd_loop_count(void)
{
	return loop_count;
}

struct sipd_loop *sipd_loop_get(unsigned idx)
{
	return idx < loop_count ? loops[idx] : NULL;
}

struct sipd_loop *sipd_loop_self(void)
{
	return tls_loop;
}

void loops_set_idle_hook(loop_idle_hook hook)
{
	atomic_store(&idle_hook, hook);
}

void loop_wake(struct sipd_loop *l)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already huge: the loop is awake anyway. */
	while (write(l->wakefd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

int sipd_io_add(struct sipd_io **out, struct sipd_loop *l, int fd, uint32_t events, sipd_io_fn fn, void *arg)
{
	int err = 0;
	struct sipd_io *io = NULL;

	if (!out || !l || fd < 0 || !fn) {
		err = EINVAL;
		goto out;
	}
	io = calloc(1, sizeof(*io));
	if (!io) {
		err = ENOMEM;
		goto out;
	}
	*io = (struct sipd_io){.loop = l, .fd = fd, .events = events, .fn = fn, .arg = arg};
	struct epoll_event ev = {.events = events, .data.ptr = io};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		err = errno;
		goto out;
	}
	atomic_fetch_add(&l->io_count, 1);
	*out = io;
	io = NULL;
out:
	free(io);
	return err;
}

int sipd_io_modify(struct sipd_io *io, uint32_t events)
{
	if (!io || atomic_load(&io->removed))
		return EINVAL;
	struct epoll_event ev = {.events = events, .data.ptr = io};
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		return errno;
	io->events = events;
	return 0;
}

static void io_free(void *arg)
{
	free(arg);
}

void sipd_io_remove(struct sipd_io *io)
{
	if (!io || atomic_exchange(&io->removed, true))
		return;
	struct sipd_loop *l = io->loop;
	/* Fails only if the fd was closed first, which already dropped it from epoll. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	atomic_fetch_sub(&l->io_count, 1);
	if (tls_loop == l) {
		if (l->in_batch) {
			/* Events of this batch may still point at io: free after the batch. */
			io->next_dead = l->dead;
			l->dead = io;
		} else {
			free(io);
		}
		return;
	}
	if (!atomic_load(&l->running)) {
		free(io);
		return;
	}
	/* The loop may be dispatching io right now: let the loop free it after its batch. */
	if (sipd_loop_post(l, io_free, io) != 0)
		SIPD_ERR("loop %u: out of memory freeing a watcher of fd %d", l->idx, io->fd);
}

int sipd_loop_post(struct sipd_loop *l, void (*fn)(void *arg), void *arg)
{
	if (!l || !fn)
		return EINVAL;
	struct post_node *n = malloc(sizeof(*n));
	if (!n)
		return ENOMEM;
	n->fn = fn;
	n->arg = arg;
	/* n belongs to the loop once published: decide about waking from old, never from n. */
	struct post_node *old = atomic_load_explicit(&l->posts, memory_order_relaxed);
	do {
		n->next = old;
	} while (!atomic_compare_exchange_weak_explicit(&l->posts, &old, n, memory_order_release,
							memory_order_relaxed));
	/* Only the first post into an empty queue needs to wake the loop. */
	if (!old && tls_loop != l)
		loop_wake(l);
	return 0;
}

/* Runs what was posted so far, oldest first; returns how many ran. */
static unsigned run_posts(struct sipd_loop *l)
{
	struct post_node *n = atomic_exchange_explicit(&l->posts, NULL, memory_order_acquire);
	struct post_node *fifo = NULL;
	unsigned ran = 0;

	while (n) {
		struct post_node *next = n->next;
		n->next = fifo;
		fifo = n;
		n = next;
	}
	while (fifo) {
		struct post_node *next = fifo->next;
		fifo->fn(fifo->arg);
		free(fifo);
		fifo = next;
		ran++;
	}
	return ran;
}

static void drain_wakefd(struct sipd_loop *l)
{
	uint64_t v;

	while (read(l->wakefd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

static void dispatch(struct sipd_loop *l, const struct epoll_event *evs, int n)
{
	l->in_batch = true;
	for (int i = 0; i < n; i++) {
		struct sipd_io *io = evs[i].data.ptr;
		if (!io) {
			drain_wakefd(l);
			continue;
		}
		if (!atomic_load_explicit(&io->removed, memory_order_relaxed))
			io->fn(io->fd, evs[i].events, io->arg);
	}
	l->in_batch = false;
	while (l->dead) {
		struct sipd_io *next = l->dead->next_dead;
		free(l->dead);
		l->dead = next;
	}
}

static void *loop_main(void *arg)
{
	struct sipd_loop *l = arg;
	struct epoll_event evs[BATCH_EVENTS];

	tls_loop = l;
	tls_index = l->idx + 1;
	while (!atomic_load(&l->stopping)) {
		int timeout = timer_wheel_timeout(&l->wheel, sipd_now_ms());
		if (atomic_load_explicit(&l->posts, memory_order_relaxed))
			timeout = 0;
		int n = epoll_wait(l->epfd, evs, BATCH_EVENTS, timeout);
		__atomic_store_n(&l->wheel.sleep_until, 0, __ATOMIC_RELAXED);
		if (n < 0) {
			if (errno != EINTR) {
				SIPD_ERR("loop %u: epoll_wait: %s", l->idx, strerror(errno));
				break;
			}
			n = 0;
		}
		dispatch(l, evs, n);
		timer_wheel_run(&l->wheel, sipd_now_ms());
		run_posts(l);
		/* What this round queued to send (replies to a read batch, a commit's 200s) goes out
		 * together. */
		transports_flush();
		loop_idle_hook hook = atomic_load(&idle_hook);
		if (hook)
			hook(l->idx);
	}
	for (unsigned round = 0; round < STOP_DRAIN_ROUNDS && run_posts(l); round++)
		;
	transports_flush();
	atomic_store(&l->running, false);
	tls_loop = NULL;
	return NULL;
}

static void loop_free(struct sipd_loop *l)
{
	if (!l)
		return;
	unsigned dropped = 0;
	struct post_node *n = atomic_exchange(&l->posts, NULL);
	while (n) {
		struct post_node *next = n->next;
		free(n);
		n = next;
		dropped++;
	}
	if (dropped)
		SIPD_WARN("loop %u: %u posted jobs dropped at shutdown", l->idx, dropped);
	unsigned watchers = atomic_load(&l->io_count);
	if (watchers)
		SIPD_WARN("loop %u: %u fd watchers still registered at shutdown", l->idx, watchers);
	timer_wheel_destroy(&l->wheel);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->wakefd >= 0)
		close(l->wakefd);
	free(l);
}

static int loop_new(struct sipd_loop **out, unsigned idx)
{
	int err = 0;
	struct sipd_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return ENOMEM;
	l->idx = idx;
	l->wakefd = -1;
	timer_wheel_init(&l->wheel, sipd_now_ms());
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		err = errno;
		goto out;
	}
	l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->wakefd < 0) {
		err = errno;
		goto out;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) < 0) {
		err = errno;
		goto out;
	}
	*out = l;
	l = NULL;
out:
	loop_free(l);
	return err;
}

int loops_create(unsigned count)
{
	int err = 0;

	if (loops)
		return EBUSY;
	if (count == 0 || count >= SIPD_MAX_THREADS)
		return EINVAL;
	loops = calloc(count, sizeof(*loops));
	if (!loops)
		return ENOMEM;
	for (unsigned i = 0; i < count; i++) {
		err = loop_new(&loops[i], i);
		if (err) {
			SIPD_ERR("cannot create event loop %u: %s", i, strerror(err));
			goto out;
		}
		loop_count = i + 1;
	}
out:
	if (err)
		loops_destroy();
	return err;
}

int loops_run(void)
{
	int err = 0;

	for (unsigned i = 0; i < loop_count; i++) {
		struct sipd_loop *l = loops[i];
		if (l->started)
			continue;
		atomic_store(&l->stopping, false);
		atomic_store(&l->running, true);
		err = pthread_create(&l->thread, NULL, loop_main, l);
		if (err) {
			atomic_store(&l->running, false);
			SIPD_ERR("cannot start worker thread %u: %s", i, strerror(err));
			loops_stop();
			break;
		}
		l->started = true;
		char name[16];
		snprintf(name, sizeof(name), "sipd-w%u", i % SIPD_MAX_THREADS);
		pthread_setname_np(l->thread, name);
	}
	return err;
}

void loops_stop(void)
{
	for (unsigned i = 0; i < loop_count; i++) {
		struct sipd_loop *l = loops[i];
		if (l->started) {
			atomic_store(&l->stopping, true);
			loop_wake(l);
		}
	}
	for (unsigned i = 0; i < loop_count; i++) {
		struct sipd_loop *l = loops[i];
		if (!l->started)
			continue;
		pthread_join(l->thread, NULL);
		l->started = false;
		atomic_store(&l->stopping, false);
	}
}

void loops_destroy(void)
{
	if (!loops)
		return;
	loops_stop();
	for (unsigned i = 0; i < loop_count; i++)
		loop_free(loops[i]);
	free(loops);
	loops = NULL;
	loop_count = 0;
}
