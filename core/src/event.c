/* The event bus: a bounded queue that publishers append to and one thread that hands events to the listeners.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/event.h>
#include <sipd/log.h>
#include <sipd/stats.h>

#include "internal.h"

/* Events waiting for the event thread; a burst beyond this is dropped, never waited for. */
#define EVENT_QUEUE_LEN 4096
#define EVENT_TYPE_MAX  48

struct event {
	char type[EVENT_TYPE_MAX];
	json_t *data;
};

struct listener {
	sipd_event_fn fn;
	void *arg;
};

static struct {
	pthread_mutex_t lock; /* the queue, the listener table and the thread's state */
	pthread_cond_t wake;
	struct event ring[EVENT_QUEUE_LEN];
	unsigned head, count;
	struct listener *subs;
	unsigned nsubs, cap;
	/* Held by the event thread while it runs listeners, so unsubscribe can wait for it. */
	pthread_mutex_t dispatch;
	pthread_t thread;
	bool running, stopping;
	atomic_uint wanted; /* nsubs, readable without the lock */
	struct sipd_stat *drops, *published;
} bus = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .dispatch = PTHREAD_MUTEX_INITIALIZER,
};

bool sipd_event_wanted(void)
{
	return atomic_load_explicit(&bus.wanted, memory_order_relaxed) > 0;
}

int sipd_event_publish(const char *type, json_t *data)
{
	int err = 0;

	if (!type || !*type) {
		json_decref(data);
		return EINVAL;
	}
	pthread_mutex_lock(&bus.lock);
	if (bus.nsubs == 0 || bus.stopping) {
		err = ENOENT;
	} else if (bus.count == EVENT_QUEUE_LEN) {
		err = ENOBUFS;
	} else {
		struct event *e = &bus.ring[(bus.head + bus.count) % EVENT_QUEUE_LEN];
		size_t n = strnlen(type, EVENT_TYPE_MAX - 1);
		memcpy(e->type, type, n);
		e->type[n] = '\0';
		e->data = data;
		data = NULL;
		bus.count++;
		pthread_cond_signal(&bus.wake);
	}
	pthread_mutex_unlock(&bus.lock);
	/* Freed outside the lock: a large object must not hold up other publishers. */
	json_decref(data);
	if (err == ENOBUFS)
		sipd_stat_inc(bus.drops);
	else if (!err)
		sipd_stat_inc(bus.published);
	return err;
}

/* Copies the listener table so listeners run without the queue lock (publishers never wait for them). */
static int snapshot(struct listener **out, unsigned *n)
{
	*n = bus.nsubs;
	*out = NULL;
	if (!*n)
		return 0;
	*out = malloc(*n * sizeof(**out));
	if (!*out)
		return ENOMEM;
	memcpy(*out, bus.subs, *n * sizeof(**out));
	return 0;
}

static void *event_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&bus.lock);
	for (;;) {
		while (!bus.count && !bus.stopping)
			pthread_cond_wait(&bus.wake, &bus.lock);
		if (bus.stopping)
			break;
		struct event e = bus.ring[bus.head];
		struct listener *subs;
		unsigned n;
		bus.head = (bus.head + 1) % EVENT_QUEUE_LEN;
		bus.count--;
		int err = snapshot(&subs, &n);
		/* Taken before the queue lock is let go: an unsubscribe that follows waits for this round. */
		pthread_mutex_lock(&bus.dispatch);
		pthread_mutex_unlock(&bus.lock);
		if (err)
			sipd_stat_inc(bus.drops);
		for (unsigned i = 0; i < n; i++)
			subs[i].fn(e.type, e.data, subs[i].arg);
		pthread_mutex_unlock(&bus.dispatch);
		free(subs);
		json_decref(e.data);
		pthread_mutex_lock(&bus.lock);
	}
	pthread_mutex_unlock(&bus.lock);
	return NULL;
}

/* With bus.lock held. */
static int start_thread(void)
{
	int err;

	if (bus.running)
		return 0;
	if (!bus.drops) {
		bus.drops =
		    sipd_stat_register("core", "event_drops", "events dropped: the event queue was full");
		bus.published = sipd_stat_register("core", "events", "events published to listeners");
	}
	bus.stopping = false;
	err = pthread_create(&bus.thread, NULL, event_main, NULL);
	if (err)
		return err;
	pthread_setname_np(bus.thread, "sipd-event");
	bus.running = true;
	return 0;
}

int sipd_event_subscribe(sipd_event_fn fn, void *arg)
{
	int err = 0;

	if (!fn)
		return EINVAL;
	pthread_mutex_lock(&bus.lock);
	for (unsigned i = 0; i < bus.nsubs; i++) {
		if (bus.subs[i].fn == fn && bus.subs[i].arg == arg) {
			err = EEXIST;
			goto out;
		}
	}
	if ((err = start_thread()))
		goto out;
	if (bus.nsubs == bus.cap) {
		unsigned cap = bus.cap ? bus.cap * 2 : 4;
		struct listener *grown = realloc(bus.subs, cap * sizeof(*grown));
		if (!grown) {
			err = ENOMEM;
			goto out;
		}
		bus.subs = grown;
		bus.cap = cap;
	}
	bus.subs[bus.nsubs++] = (struct listener){fn, arg};
	atomic_store(&bus.wanted, bus.nsubs);
out:
	pthread_mutex_unlock(&bus.lock);
	return err;
}

int sipd_event_unsubscribe(sipd_event_fn fn, void *arg)
{
	int err = ENOENT;

	pthread_mutex_lock(&bus.lock);
	for (unsigned i = 0; i < bus.nsubs; i++) {
		if (bus.subs[i].fn == fn && bus.subs[i].arg == arg) {
			bus.subs[i] = bus.subs[--bus.nsubs];
			err = 0;
			break;
		}
	}
	atomic_store(&bus.wanted, bus.nsubs);
	pthread_mutex_unlock(&bus.lock);
	/* A round that copied the old table may still be running fn: wait for it to end. */
	if (!err) {
		pthread_mutex_lock(&bus.dispatch);
		pthread_mutex_unlock(&bus.dispatch);
	}
	return err;
}

void event_stop(void)
{
	pthread_mutex_lock(&bus.lock);
	bool running = bus.running;
	bus.stopping = true;
	pthread_cond_signal(&bus.wake);
	pthread_mutex_unlock(&bus.lock);
	if (running)
		pthread_join(bus.thread, NULL);
	pthread_mutex_lock(&bus.lock);
	while (bus.count) {
		json_decref(bus.ring[bus.head].data);
		bus.head = (bus.head + 1) % EVENT_QUEUE_LEN;
		bus.count--;
	}
	free(bus.subs);
	bus.subs = NULL;
	bus.nsubs = bus.cap = 0;
	atomic_store(&bus.wanted, 0);
	bus.running = false;
	pthread_mutex_unlock(&bus.lock);
}
