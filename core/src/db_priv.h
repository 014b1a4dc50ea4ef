/* What db.c and db_thread.c share: the connection, its lock, and the thread's entry points. */
#ifndef SIPD_DB_PRIV_H
#define SIPD_DB_PRIV_H

#include <pthread.h>

#include <sqlite3.h>

/* The one connection (NULL when no database is configured) and the lock that guards it. */
extern sqlite3 *db_conn;
extern pthread_mutex_t db_lock;

/* Runs a parameterless statement (BEGIN, COMMIT, SAVEPOINT ...) with the lock held. 0 or errno. */
int db_simple(const char *sql);
/* Maps an SQLite result code to an errno. */
int db_errno(int rc);

int db_thread_start(void);
/* Waits (bounded) until every queued job was run and its completion posted. */
void db_thread_drain(void);
/* Runs what is still queued, completes it on this thread, and joins the thread. */
void db_thread_stop(void);

#endif
