/* The event bus: workers publish what happened (a binding added, a session ended), listeners such as the web
 * admin subscribe. */
#ifndef SIPD_EVENT_H
#define SIPD_EVENT_H

#include <stdbool.h>

#include <jansson.h>

#include <sipd/api.h>

/*
 * Event types published by the in-tree modules (data fields in docs/api.md):
 * "registration.added", "registration.removed", "session.started",
 * "session.refreshed", "session.ended", "rtc.call.started", "rtc.call.ended".
 */

/*
 * Called on the core's event thread, one event after another, with a
 * borrowed data object (json_incref it to keep it). It must return quickly:
 * while it runs, later events wait in the bounded queue (and are dropped
 * when it is full).
 */
typedef void (*sipd_event_fn)(const char *type, json_t *data, void *arg);

/*
 * Publishes an event from any thread, a worker loop included: it takes the
 * queue's lock only to append a pointer, never waits for a listener, and
 * drops the event (counted as core.event_drops) when the queue is full.
 * Steals the reference to data (NULL is allowed: an event without data).
 * type is copied (at most 47 bytes). Returns 0, ENOBUFS when dropped, or
 * ENOENT when nobody listens (data freed in every case).
 */
SIPD_API int sipd_event_publish(const char *type, json_t *data);

/*
 * True when someone subscribed: publishers skip building the data of an
 * event nobody would read. A hint: an event published right after it turned
 * false is simply dropped.
 */
SIPD_API bool sipd_event_wanted(void);

/* Adds a listener (the pair fn, arg). Returns 0, EEXIST, ENOMEM, or an errno of starting the event thread. */
SIPD_API int sipd_event_subscribe(sipd_event_fn fn, void *arg);

/*
 * Removes the listener fn, arg. When this returns, fn is not running and will
 * not be called again (do not call it from fn itself). Returns 0 or ENOENT.
 */
SIPD_API int sipd_event_unsubscribe(sipd_event_fn fn, void *arg);

#endif
