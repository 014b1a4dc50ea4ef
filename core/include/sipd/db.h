/* Storage: the one database, per-module migrations, prepared statements, and the DB helper thread. */
#ifndef SIPD_DB_H
#define SIPD_DB_H

#include <stdbool.h>
#include <stdint.h>

#include <sipd/api.h>
#include <sipd/str.h>

/*
 * The core opens the database (core.database) before any module's init and
 * closes it after every module stopped. Two engines serve it: SQLite (a file
 * path) and PostgreSQL (postgresql://user@host:port/dbname or a key=value
 * conninfo), so SQL text must be what both accept: plain SQL with ?
 * placeholders (the PostgreSQL engine numbers them), INTEGER/BIGINT/TEXT
 * columns, ON CONFLICT upserts; values go only through the bind functions.
 * Integers that may pass 2^31 need BIGINT columns.
 *
 * Threads: one connection serves everything, guarded by one lock. A
 * statement may be used only while the caller holds the lock: inside
 * sipd_db_transaction() or inside a job's run function. Workers must never
 * wait for the lock: they submit jobs (sipd_db_submit) instead.
 */

struct sipd_db_stmt; /* opaque prepared statement, owned by the database */

/* One step of a module's schema: version n is applied once, in order 1, 2, ... */
struct sipd_db_migration {
	int version;
	const char *sql; /* one or more statements separated by ';' */
};

/*
 * Brings owner's tables (e.g. "registrar") to the last version in
 * steps[0..n-1] (versions 1..n, ascending), each step in its own
 * transaction. Returns 0; EPROTO when the database holds a newer version
 * than steps knows (made by a newer sipd: logged, start-up must stop);
 * EIO on SQL errors (logged with the step). Call from init.
 */
SIPD_API int sipd_db_migrate(const char *owner, const struct sipd_db_migration *steps, unsigned n);

/*
 * Prepares sql once; the statement lives until the database closes (no
 * finalize needed). Returns 0, EINVAL (bad SQL, logged), ENODEV (no database).
 */
SIPD_API int sipd_db_prepare(struct sipd_db_stmt **out, const char *sql);

/* Binds parameter idx (1-based). Strings are copied. Return 0 or EINVAL/ENOMEM. */
SIPD_API int sipd_db_bind_int(struct sipd_db_stmt *s, int idx, int64_t v);
SIPD_API int sipd_db_bind_str(struct sipd_db_stmt *s, int idx, struct sipd_str v);
SIPD_API int sipd_db_bind_null(struct sipd_db_stmt *s, int idx);

/*
 * Runs the statement one step: 0 with *row true when a row is ready to be
 * read with the column functions, 0 with *row false when done; EIO (logged),
 * EBUSY (locked past the busy timeout). row may be NULL for statements that
 * return nothing.
 */
SIPD_API int sipd_db_step(struct sipd_db_stmt *s, bool *row);
/* Makes s runnable again and clears its bindings (call after the last step). */
SIPD_API void sipd_db_reset(struct sipd_db_stmt *s);

/* Column idx (0-based) of the current row; text is valid until the next step or reset. */
SIPD_API int64_t sipd_db_column_int(struct sipd_db_stmt *s, int idx);
SIPD_API struct sipd_str sipd_db_column_str(struct sipd_db_stmt *s, int idx);
SIPD_API bool sipd_db_column_null(struct sipd_db_stmt *s, int idx);

/*
 * Runs fn(arg) on the calling thread with the lock held inside one
 * transaction: committed when fn returns 0, rolled back otherwise. Returns
 * fn's error, EIO when the commit failed, ENODEV without a database. For
 * start-up loading and control-thread (RPC) work, never on a worker loop.
 */
SIPD_API int sipd_db_transaction(int (*fn)(void *arg), void *arg);

/*
 * Since ABI 1.2. Runs fn(arg) with the lock held but outside any
 * transaction: each statement sees what was committed when it started (one
 * round trip for a one-statement read on PostgreSQL, where a transaction
 * costs two more). For reads of one statement, off the worker loops. When
 * fn fails with ENOTCONN (the server connection was lost), fn runs once more
 * on a new connection. Returns fn's error, ENODEV without a database.
 */
SIPD_API int sipd_db_read(int (*fn)(void *arg), void *arg);

/*
 * Asynchronous work for worker loops. The DB thread takes every job queued
 * so far and runs them in ONE transaction (group commit): run executes on the
 * DB thread with the lock held (a failing run is undone alone, through a
 * savepoint); after the commit, done(job, err) runs on the loop that
 * submitted the job (err is run's error, or EIO when the commit failed).
 * Jobs are run and completed in submission order. Submitted off a worker
 * loop, done runs on the DB thread. The job belongs to the database from
 * submit until done is called: embed it in your own object.
 */
struct sipd_db_job {
	int (*run)(struct sipd_db_job *job);
	void (*done)(struct sipd_db_job *job, int err);
	/* private to the core */
	struct sipd_db_job *next;
	struct sipd_loop *loop;
	int err;
};

/* Queues job. Returns 0, ENODEV (no database), ESHUTDOWN (closing). */
SIPD_API int sipd_db_submit(struct sipd_db_job *job);

/*
 * Jobs submitted whose done has not run yet: the write backlog. Callers shed
 * load (e.g. 503) when it grows, so answers stay faster than clients resend.
 */
SIPD_API unsigned sipd_db_pending(void);

/*
 * Since ABI 1.1. False while the database server is unreachable (a server
 * engine that lost its connection; the DB thread reconnects by itself once a
 * second): sipd_db_submit then fails at once with ENOTCONN, so callers answer
 * 503 with Retry-After instead of waiting. Always true for SQLite.
 */
SIPD_API bool sipd_db_available(void);

/* Since ABI 1.1. "sqlite" or "postgresql"; NULL without a database. */
SIPD_API const char *sipd_db_engine(void);

/*
 * Since ABI 1.1. Notifications tell every node sharing the database about
 * a committed change (PostgreSQL LISTEN/NOTIFY; with SQLite, this process's
 * own listeners), so that caches read through again.
 *
 * sipd_db_listen: fn(arg, channel, payload) runs on the DB thread, without
 * the lock (it may call sipd_db_transaction), for each notification on
 * channel (at most 63 characters), from this node too. Call from init.
 *
 * sipd_db_notify: inside a transaction (a job's run, a transaction fn);
 * delivered once that transaction commits, never if it rolls back. payload
 * under 8000 bytes, without the byte 0x1e (EINVAL): the payloads one
 * transaction raised on a channel go out joined by it, in one PostgreSQL
 * NOTIFY sent with the COMMIT, and are split again for the listeners
 * (identical payloads of one transaction may arrive once, as PostgreSQL
 * folds identical notifications).
 * 0, EINVAL, ENODEV, ENOMEM.
 *
 * sipd_db_listen_many (since ABI 1.2): as sipd_db_listen, but fn gets at
 * once every payload on channel that arrived together (n >= 1, in order),
 * so that one read serves many changes.
 */
typedef void (*sipd_db_notify_fn)(void *arg, const char *channel, const char *payload);
typedef void (*sipd_db_notify_many_fn)(void *arg, const char *channel, const char *const *payloads,
				       unsigned n);
SIPD_API int sipd_db_listen(const char *channel, sipd_db_notify_fn fn, void *arg);
SIPD_API int sipd_db_listen_many(const char *channel, sipd_db_notify_many_fn fn, void *arg);
SIPD_API int sipd_db_notify(const char *channel, const char *payload);
/*
 * Since ABI 1.1. The pseudo-channel a server engine raises on this node alone when its connection came
 * back after a loss: notifications sent meanwhile were missed, so listeners read their caches again.
 */
#define SIPD_DB_RECONNECTED "sipd_db_reconnected"

/* Wall-clock seconds since the epoch (stored expiry times survive restarts). */
SIPD_API int64_t sipd_db_now(void);

#endif
