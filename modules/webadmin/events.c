/* GET /api/events: Server-Sent Events fed by the core's event bus and a stats tick each second. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include <sipd/event.h>
#include <sipd/log.h>
#include <sipd/rpc.h>

#include "webadmin.h"

/* Events waiting for one slow client; more are dropped (it reloads its lists when it notices). */
#define CLIENT_QUEUE   256
#define KEEPALIVE_SECS 15

struct client {
	pthread_cond_t wake;
	char *queue[CLIENT_QUEUE]; /* guarded by ev.lock */
	unsigned head, count;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* a client left, or the ticker should stop */
	struct client **clients;
	unsigned n;
	bool stopping, ticker_running;
	pthread_t ticker;
	json_t *latest;
	pthread_mutex_t sub_lock; /* subscribe/unsubscribe decisions, never held with lock */
	bool subscribed;
} ev = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .changed = PTHREAD_COND_INITIALIZER,
    .sub_lock = PTHREAD_MUTEX_INITIALIZER,
};

uint64_t wa_event_drops;

/* With ev.lock held: queues a copy of text for every client. */
static void broadcast_locked(const char *text)
{
	for (unsigned i = 0; i < ev.n; i++) {
		struct client *cl = ev.clients[i];
		char *copy;
		if (cl->count == CLIENT_QUEUE || !(copy = strdup(text))) {
			__atomic_add_fetch(&wa_event_drops, 1, __ATOMIC_RELAXED);
			continue;
		}
		cl->queue[(cl->head + cl->count) % CLIENT_QUEUE] = copy;
		cl->count++;
		pthread_cond_signal(&cl->wake);
	}
}

static void broadcast(const char *type, json_t *data)
{
	char *json = json_dumps(data ? data : json_null(), JSON_COMPACT | JSON_ENCODE_ANY), *text = NULL;

	/* JSON text holds no raw newline, so one data: line carries it. */
	if (!json || asprintf(&text, "event: %s\ndata: %s\n\n", type, json) < 0) {
		__atomic_add_fetch(&wa_event_drops, 1, __ATOMIC_RELAXED);
		free(json);
		return;
	}
	pthread_mutex_lock(&ev.lock);
	broadcast_locked(text);
	pthread_mutex_unlock(&ev.lock);
	free(json);
	free(text);
}

/* On the core's event thread. */
static void on_event(const char *type, json_t *data, void *arg)
{
	(void)arg;
	broadcast(type, data);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *ticker_main(void *arg)
{
	double last_t = mono();
	json_int_t last_calls = -1;

	(void)arg;
	pthread_mutex_lock(&ev.lock);
	while (!ev.stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&ev.changed, &ev.lock, &until);
		if (ev.stopping)
			break;
		pthread_mutex_unlock(&ev.lock);
		json_t *stats = NULL;
		int err = sipd_rpc_call("stats.get", NULL, &stats);
		double t = mono();
		if (!err) {
			json_int_t calls = json_integer_value(json_object_get(stats, "calls"));
			double rate = last_calls >= 0 && calls >= last_calls && t > last_t
					  ? (double)(calls - last_calls) / (t - last_t)
					  : 0.0;
			json_object_set_new(stats, "calls_per_second", json_real(rate));
			last_calls = calls;
			last_t = t;
		}
		pthread_mutex_lock(&ev.lock);
		if (!err) {
			json_decref(ev.latest);
			ev.latest = json_incref(stats);
		}
		unsigned listeners = ev.n;
		pthread_mutex_unlock(&ev.lock);
		if (!err && listeners)
			broadcast("stats", stats);
		json_decref(stats);
		pthread_mutex_lock(&ev.lock);
	}
	pthread_mutex_unlock(&ev.lock);
	return NULL;
}

json_t *wa_stats_latest(void)
{
	pthread_mutex_lock(&ev.lock);
	json_t *j = json_incref(ev.latest);
	pthread_mutex_unlock(&ev.lock);
	return j;
}

int wa_events_start(void)
{
	int err;

	ev.stopping = false;
	if ((err = pthread_create(&ev.ticker, NULL, ticker_main, NULL)))
		return err;
	pthread_setname_np(ev.ticker, "sipd-wa-tick");
	ev.ticker_running = true;
	return 0;
}

/* Subscribes to the bus while someone watches, so SIP workers build no event nobody reads. */
static void update_subscription(void)
{
	pthread_mutex_lock(&ev.sub_lock);
	pthread_mutex_lock(&ev.lock);
	bool want = ev.n > 0 && !ev.stopping;
	pthread_mutex_unlock(&ev.lock);
	if (want && !ev.subscribed) {
		int err = sipd_event_subscribe(on_event, NULL);
		if (err)
			SIPD_WARN("cannot subscribe to events: %s", strerror(err));
		ev.subscribed = !err;
	} else if (!want && ev.subscribed) {
		sipd_event_unsubscribe(on_event, NULL);
		ev.subscribed = false;
	}
	pthread_mutex_unlock(&ev.sub_lock);
}

void wa_events_stop(void)
{
	pthread_mutex_lock(&ev.lock);
	ev.stopping = true;
	pthread_cond_broadcast(&ev.changed);
	for (unsigned i = 0; i < ev.n; i++)
		pthread_cond_signal(&ev.clients[i]->wake);
	/* Streams end at their next wake-up (they check stopping); wait for them a little. */
	for (int i = 0; ev.n && i < 50; i++) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 100 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&ev.changed, &ev.lock, &until);
	}
	bool ticker = ev.ticker_running;
	ev.ticker_running = false;
	pthread_mutex_unlock(&ev.lock);
	if (ticker)
		pthread_join(ev.ticker, NULL);
	update_subscription();
	pthread_mutex_lock(&ev.lock);
	json_decref(ev.latest);
	ev.latest = NULL;
	pthread_mutex_unlock(&ev.lock);
}

static int add_client(struct client *cl)
{
	int err = 0;

	pthread_mutex_lock(&ev.lock);
	if (ev.stopping) {
		err = ESHUTDOWN;
	} else if (ev.n >= (unsigned)wa_max_event_clients) {
		err = EBUSY;
	} else {
		struct client **grown = realloc(ev.clients, (ev.n + 1) * sizeof(*grown));
		if (!grown)
			err = ENOMEM;
		else {
			ev.clients = grown;
			ev.clients[ev.n++] = cl;
		}
	}
	pthread_mutex_unlock(&ev.lock);
	return err;
}

static void remove_client(struct client *cl)
{
	pthread_mutex_lock(&ev.lock);
	for (unsigned i = 0; i < ev.n; i++)
		if (ev.clients[i] == cl) {
			ev.clients[i] = ev.clients[--ev.n];
			break;
		}
	while (cl->count) {
		free(cl->queue[cl->head]);
		cl->head = (cl->head + 1) % CLIENT_QUEUE;
		cl->count--;
	}
	pthread_cond_broadcast(&ev.changed);
	pthread_mutex_unlock(&ev.lock);
}

static bool put(struct mg_connection *c, const char *s)
{
	size_t n = strlen(s);
	return mg_write(c, s, n) == (int)n;
}

/* Writes queued events until the client goes away or the module stops; on a civetweb thread. */
static void stream(struct mg_connection *c, struct client *cl)
{
	time_t last_write = time(NULL);
	bool alive = put(c, ": connected\nretry: 3000\n\n");

	pthread_mutex_lock(&ev.lock);
	while (alive && !ev.stopping) {
		if (!cl->count) {
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			pthread_cond_timedwait(&cl->wake, &ev.lock, &until);
		}
		char *batch[CLIENT_QUEUE];
		unsigned n = 0;
		while (cl->count) {
			batch[n++] = cl->queue[cl->head];
			cl->head = (cl->head + 1) % CLIENT_QUEUE;
			cl->count--;
		}
		pthread_mutex_unlock(&ev.lock);
		for (unsigned i = 0; i < n; i++) {
			alive = alive && put(c, batch[i]);
			free(batch[i]);
		}
		if (n)
			last_write = time(NULL);
		else if (alive && time(NULL) - last_write >= KEEPALIVE_SECS) {
			alive = put(c, ": keep-alive\n\n");
			last_write = time(NULL);
		}
		pthread_mutex_lock(&ev.lock);
	}
	pthread_mutex_unlock(&ev.lock);
}

int wa_events_serve(struct wa_request *r)
{
	struct client *cl = calloc(1, sizeof(*cl));
	int err;

	if (!cl)
		return wa_send_error(r->c, 500, NULL, "out of memory");
	pthread_cond_init(&cl->wake, NULL);
	if ((err = add_client(cl))) {
		pthread_cond_destroy(&cl->wake);
		free(cl);
		return wa_send_error(r->c, 503, NULL, "%s",
				     err == EBUSY ? "too many event streams are open"
						  : "the server is stopping");
	}
	update_subscription();
	wa_send_head(r->c, 200, "text/event-stream", -1,
		     "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n");
	stream(r->c, cl);
	remove_client(cl);
	update_subscription();
	pthread_cond_destroy(&cl->wake);
	free(cl);
	return 200;
}
