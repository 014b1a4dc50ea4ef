/* Database notifications: a change committed on one node told to every node (PostgreSQL NOTIFY, or
 * in-process); those of one transaction go out joined, one NOTIFY per channel. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "db_backend.h"
#include "db_priv.h"

/* Between the payloads of one transaction joined into one NOTIFY (ASCII record separator). */
#define SEP '\x1e'
/* PostgreSQL's limit: a payload is shorter than 8000 bytes. */
#define MAX_PAYLOAD 8000

struct listener {
	struct listener *next;
	char channel[64];
	sipd_db_notify_fn fn;        /* one payload at a time, or */
	sipd_db_notify_many_fn many; /* all that arrived together */
	void *arg;
};

struct note {
	struct note *next;
	char *channel, *payload;
};

static struct listener *listeners;
/* Raised in the open transaction (SQLite only; lock held), in order. */
static struct note *pending, **pending_tail = &pending;
static unsigned pending_count;
/* Committed or received, waiting for the DB thread to deliver them. */
static pthread_mutex_t arrived_lock = PTHREAD_MUTEX_INITIALIZER;
static struct note *arrived, **arrived_tail = &arrived;
/* Set when shutdown begins: modules stop next, so nothing is delivered to them any more. */
static atomic_bool stopped;

static void note_free(struct note *n)
{
	free(n->channel);
	free(n->payload);
	free(n);
}

static struct note *note_new(const char *channel, const char *payload)
{
	struct note *n = calloc(1, sizeof(*n));

	if (n && (!(n->channel = strdup(channel)) || !(n->payload = strdup(payload ? payload : "")))) {
		note_free(n);
		n = NULL;
	}
	return n;
}

static int add_listener(const char *channel, sipd_db_notify_fn fn, sipd_db_notify_many_fn many, void *arg)
{
	struct listener *l;
	int err = 0;

	if (!channel || !*channel || strlen(channel) >= sizeof(l->channel) || (!fn && !many))
		return EINVAL;
	if (!db_be)
		return ENODEV;
	if (!(l = calloc(1, sizeof(*l))))
		return ENOMEM;
	strcpy(l->channel, channel);
	l->fn = fn;
	l->many = many;
	l->arg = arg;
	pthread_mutex_lock(&db_lock);
	if (db_be->listen) {
		bool known = false;

		for (struct listener *o = listeners; o; o = o->next)
			known |= strcmp(o->channel, channel) == 0;
		if (!known)
			err = db_be->listen(channel);
	}
	if (!err) {
		l->next = listeners;
		listeners = l;
	}
	pthread_mutex_unlock(&db_lock);
	if (err)
		free(l);
	return err;
}

int sipd_db_listen(const char *channel, sipd_db_notify_fn fn, void *arg)
{
	return fn ? add_listener(channel, fn, NULL, arg) : EINVAL;
}

int sipd_db_listen_many(const char *channel, sipd_db_notify_many_fn fn, void *arg)
{
	return fn ? add_listener(channel, NULL, fn, arg) : EINVAL;
}

int sipd_db_notify(const char *channel, const char *payload)
{
	struct note *n;

	if (!db_be)
		return ENODEV;
	if (!channel || !*channel || (payload && (strlen(payload) >= MAX_PAYLOAD || strchr(payload, SEP))))
		return EINVAL;
	if (!(n = note_new(channel, payload)))
		return ENOMEM;
	*pending_tail = n;
	pending_tail = &n->next;
	pending_count++;
	return 0;
}

/* Sends the payloads raised on first's channel, joined into as few notifications as fit. */
static int send_channel(const struct note *first, char *buf)
{
	size_t used = 0;
	int err;

	for (const struct note *n = first; n; n = n->next) {
		size_t len = strlen(n->payload);

		if (strcmp(n->channel, first->channel) != 0)
			continue;
		if (n != first && used + 1 + len >= MAX_PAYLOAD) {
			buf[used] = '\0';
			if ((err = db_be->notify(first->channel, buf)) != 0)
				return err;
			used = 0;
		} else if (n != first) {
			buf[used++] = SEP;
		}
		memcpy(buf + used, n->payload, len);
		used += len;
	}
	buf[used] = '\0';
	return db_be->notify(first->channel, buf);
}

int db_notify_send(void)
{
	char *buf;
	int err = 0;

	if (!db_be->notify || !pending)
		return 0;
	if (!(buf = malloc(MAX_PAYLOAD)))
		return ENOMEM;
	for (const struct note *first = pending; first && !err; first = first->next) {
		bool sent = false;

		/* Each channel once, from its first note. */
		for (const struct note *o = pending; o != first && !sent; o = o->next)
			sent = strcmp(o->channel, first->channel) == 0;
		if (!sent)
			err = send_channel(first, buf);
	}
	free(buf);
	return err;
}

unsigned db_notify_mark(void)
{
	return pending_count;
}

void db_notify_rollback_to(unsigned mark)
{
	struct note **pp = &pending;

	for (unsigned i = 0; i < mark && *pp; i++)
		pp = &(*pp)->next;
	while (*pp) {
		struct note *n = *pp;

		*pp = n->next;
		note_free(n);
	}
	pending_tail = pp;
	pending_count = mark;
}

void db_notify_discard(void)
{
	db_notify_rollback_to(0);
}

/* A notification from the server: each of the payloads joined in it, queued in order. */
void db_notify_arrived(const char *channel, const char *payload)
{
	struct note *list = NULL, **tail = &list;

	for (const char *p = payload;; p++) {
		const char *end = strchr(p, SEP);
		char *one = end ? strndup(p, (size_t)(end - p)) : NULL;
		struct note *n = end && !one ? NULL : note_new(channel, end ? one : p);

		free(one);
		if (!n) {
			SIPD_ERR("database: notification on %s lost: out of memory", channel);
			break;
		}
		*tail = n;
		tail = &n->next;
		if (!end)
			break;
		p = end;
	}
	if (!list)
		return;
	pthread_mutex_lock(&arrived_lock);
	*arrived_tail = list;
	arrived_tail = tail;
	pthread_mutex_unlock(&arrived_lock);
}

void db_notify_committed(void)
{
	if (!pending)
		return;
	if (db_be->notify) {
		/* A server engine sent them with the COMMIT: they come back from the server. */
		db_notify_discard();
		return;
	}
	pthread_mutex_lock(&arrived_lock);
	*arrived_tail = pending;
	arrived_tail = pending_tail;
	pthread_mutex_unlock(&arrived_lock);
	pending = NULL;
	pending_tail = &pending;
	pending_count = 0;
	db_thread_wake();
}

/* Hands l every payload on its channel in list, at once. */
static void deliver_many(const struct listener *l, const struct note *list)
{
	const char **payloads;
	unsigned n = 0;

	for (const struct note *o = list; o; o = o->next)
		n += strcmp(o->channel, l->channel) == 0;
	if (!n)
		return;
	if (!(payloads = malloc(n * sizeof(*payloads)))) {
		SIPD_ERR("database: %u notifications on %s lost: out of memory", n, l->channel);
		return;
	}
	n = 0;
	for (const struct note *o = list; o; o = o->next)
		if (strcmp(o->channel, l->channel) == 0)
			payloads[n++] = o->payload;
	l->many(l->arg, l->channel, payloads, n);
	free(payloads);
}

void db_notify_run_arrived(void)
{
	struct note *list;

	pthread_mutex_lock(&arrived_lock);
	list = arrived;
	arrived = NULL;
	arrived_tail = &arrived;
	pthread_mutex_unlock(&arrived_lock);
	if (!list || atomic_load(&stopped))
		goto out;
	for (struct listener *l = listeners; l; l = l->next)
		if (l->many)
			deliver_many(l, list);
	for (struct note *n = list; n; n = n->next)
		for (struct listener *l = listeners; l; l = l->next)
			if (l->fn && strcmp(l->channel, n->channel) == 0)
				l->fn(l->arg, n->channel, n->payload);
out:
	while (list) {
		struct note *next = list->next;

		note_free(list);
		list = next;
	}
}

void db_notify_stop(void)
{
	atomic_store(&stopped, true);
}

void db_notify_reset(void)
{
	struct note *list;

	db_notify_discard();
	/* Undelivered ones are dropped: their listeners' modules have stopped. */
	pthread_mutex_lock(&arrived_lock);
	list = arrived;
	arrived = NULL;
	arrived_tail = &arrived;
	pthread_mutex_unlock(&arrived_lock);
	while (list) {
		struct note *next = list->next;

		note_free(list);
		list = next;
	}
	while (listeners) {
		struct listener *next = listeners->next;

		free(listeners);
		listeners = next;
	}
	atomic_store(&stopped, false);
}
