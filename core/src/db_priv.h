/* What the database files share: the engine in use, its lock, the thread's and notifications' entry points.
 */
#ifndef SIPD_DB_PRIV_H
#define SIPD_DB_PRIV_H

#include <pthread.h>
#include <stdbool.h>

struct db_backend;

/* The engine in use (NULL when no database is configured) and the lock that guards its connection. */
extern const struct db_backend *db_be;
extern pthread_mutex_t db_lock;

/* Runs a parameterless statement (BEGIN, COMMIT, SAVEPOINT ...) with the lock held; logs failures. 0 or
 * errno. */
int db_simple(const char *sql);
/* As db_simple, but a server engine sends sql with the next statement (one round trip less). */
int db_defer(const char *sql);
/* True if sql was deferred and never sent: dropped, as if it had not been asked for. */
bool db_cancel(const char *sql);

int db_thread_start(void);
/* Waits (bounded) until every queued job was run and its completion posted. */
void db_thread_drain(void);
/* Runs what is still queued, completes it on this thread, and joins the thread. */
void db_thread_stop(void);

/* Wakes the DB thread (notifications to deliver). */
void db_thread_wake(void);
/* False while a server engine is unreachable: jobs then fail at once with ENOTCONN. */
bool db_thread_available(void);

/*
 * db_notify.c. SQLite: notifications raised in the open transaction (lock
 * held) wait for its end; PostgreSQL: the server holds them until commit.
 */
/* The transaction is about to commit: a server engine sends its notifications with the COMMIT. */
int db_notify_send(void);
/* The transaction committed: hand its notifications to the DB thread (SQLite). */
void db_notify_committed(void);
/* The transaction rolled back: forget them. */
void db_notify_discard(void);
/* A savepoint: how many are pending, and forgetting those raised after it. */
unsigned db_notify_mark(void);
void db_notify_rollback_to(unsigned mark);
/* One came from the server (poll, lock held): queue it for delivery. */
void db_notify_arrived(const char *channel, const char *payload);
/* Runs the listeners of everything queued (DB thread, lock not held). */
void db_notify_run_arrived(void);
/* Shutdown begins: no more deliveries (the modules listening are about to stop). */
void db_notify_stop(void);
/* Forgets every listener and queued notification (database closed). */
void db_notify_reset(void);

#endif
