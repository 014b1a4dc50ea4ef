/* The storage engines behind sipd/db.h: SQLite (a file) and PostgreSQL (a server), as one table of
 * operations. */
#ifndef SIPD_DB_BACKEND_H
#define SIPD_DB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sipd/str.h>

/*
 * Every operation runs with db_lock held (db.c takes it), on whichever
 * thread the public call came from. A statement handle is the engine's own
 * object; db.c wraps it in struct sipd_db_stmt. Errors are errnos:
 * EEXIST (constraint), EBUSY (locked), EINVAL (bad SQL or value),
 * ENOTCONN (the server is unreachable), EIO (anything else).
 */
struct db_backend {
	const char *name;
	/* SQL that opens a write transaction. */
	const char *begin;
	/* Opens target; err says what is wrong with it (never repeating a password). */
	int (*open)(const char *target, char *err, size_t errlen);
	/* The open database as a log line names it: the file, or postgresql://user@host:port/db. */
	const char *(*describe)(void);
	/* The engine and its version: "SQLite 3.40.1, WAL", "PostgreSQL 15.18". */
	const char *(*version)(void);
	void (*close)(void);
	/* Runs a script of ';'-separated statements without parameters; why gets the engine's message. */
	int (*exec)(const char *sql, char *why, size_t whylen);
	int (*prepare)(void **out, const char *sql);
	void (*finalize)(void *st);
	int (*bind_int)(void *st, int idx, int64_t v);
	int (*bind_str)(void *st, int idx, struct sipd_str v);
	int (*bind_null)(void *st, int idx);
	int (*step)(void *st, bool *row);
	void (*reset)(void *st);
	int64_t (*column_int)(void *st, int idx);
	struct sipd_str (*column_str)(void *st, int idx);
	bool (*column_null)(void *st, int idx);
	/* The text of the engine's last error, for log lines. */
	const char *(*errmsg)(void);
	/*
	 * Server engines only (NULL for SQLite): true while the connection is
	 * up; reconnect tries once to bring it back (DB thread, lock held);
	 * poll delivers the notifications that arrived (see db_notify.c).
	 */
	bool (*connected)(void);
	int (*reconnect)(void);
	void (*poll)(void);
	/* Sends a notification on channel to every node (inside a transaction: sent at commit). */
	int (*notify)(const char *channel, const char *payload);
	/*
	 * Server engines (NULL for SQLite): defer holds a parameterless
	 * statement that needs no answer (BEGIN, SAVEPOINT, RELEASE) until the
	 * next statement, and sends both in one round trip; its error becomes
	 * that statement's. cancel drops sql if it is the last one held and
	 * not sent yet (true), so a savepoint nothing used costs nothing.
	 */
	int (*defer)(const char *sql);
	bool (*cancel)(const char *sql);
	/* Subscribes this connection to channel (kept across reconnects). */
	int (*listen)(const char *channel);
};

extern const struct db_backend db_sqlite_backend;
extern const struct db_backend db_pg_backend;

/* True when target names a PostgreSQL server (postgresql://..., postgres://..., or key=value conninfo). */
bool db_target_is_pg(const char *target);

#endif
