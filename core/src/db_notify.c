/* Database notifications: a change committed on one node told to every node (PostgreSQL NOTIFY, or
 * in-process). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "db_backend.h"
#include "db_priv.h"

struct listener {
	struct listener *next;
	char channel[64];
	sipd_db_notify_fn fn;
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

int sipd_db_listen(const char *channel, sipd_db_notify_fn fn, void *arg)
{
	struct listener *l;
	int err = 0;

	if (!channel || !*channel || strlen(channel) >= sizeof(l->channel) || !fn)
		return EINVAL;
	if (!db_be)
		return ENODEV;
	if (!(l = calloc(1, sizeof(*l))))
		return ENOMEM;
	strcpy(l->channel, channel);
	l->fn = fn;
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

int sipd_db_notify(const char *channel, const char *payload)
{
	struct note *n;

	if (!db_be)
		return ENODEV;
	if (!channel || !*channel || (payload && strlen(payload) >= 8000))
		return EINVAL;
	if (db_be->notify)
		return db_be->notify(channel, payload ? payload : "");
	if (!(n = note_new(channel, payload)))
		return ENOMEM;
	*pending_tail = n;
	pending_tail = &n->next;
	pending_count++;
	return 0;
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

void db_notify_arrived(const char *channel, const char *payload)
{
	struct note *n = note_new(channel, payload);

	if (!n) {
		SIPD_ERR("database: notification on %s lost: out of memory", channel);
		return;
	}
	pthread_mutex_lock(&arrived_lock);
	*arrived_tail = n;
	arrived_tail = &n->next;
	pthread_mutex_unlock(&arrived_lock);
}

void db_notify_committed(void)
{
	if (!pending)
		return;
	pthread_mutex_lock(&arrived_lock);
	*arrived_tail = pending;
	arrived_tail = pending_tail;
	pthread_mutex_unlock(&arrived_lock);
	pending = NULL;
	pending_tail = &pending;
	pending_count = 0;
	db_thread_wake();
}

void db_notify_run_arrived(void)
{
	struct note *list;

	pthread_mutex_lock(&arrived_lock);
	list = arrived;
	arrived = NULL;
	arrived_tail = &arrived;
	pthread_mutex_unlock(&arrived_lock);
	while (list) {
		struct note *next = list->next;

		for (struct listener *l = atomic_load(&stopped) ? NULL : listeners; l; l = l->next)
			if (strcmp(l->channel, list->channel) == 0)
				l->fn(l->arg, list->channel, list->payload);
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
