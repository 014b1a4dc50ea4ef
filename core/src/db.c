/* The database: the engine chosen by core.database, prepared statements, transactions, and migrations. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "db_backend.h"
#include "db_priv.h"
#include "internal.h"

struct sipd_db_stmt {
	void *impl; /* the engine's statement */
	struct sipd_db_stmt *next;
};

const struct db_backend *db_be;
pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sipd_db_stmt *stmts; /* every prepared statement, finalized at close */
static char *db_target;

int64_t sipd_db_now(void)
{
	return (int64_t)time(NULL);
}

const char *sipd_db_engine(void)
{
	return db_be ? db_be->name : NULL;
}

int sipd_db_prepare(struct sipd_db_stmt **out, const char *sql)
{
	struct sipd_db_stmt *s;
	int err;

	if (!db_be)
		return ENODEV;
	if (!(s = calloc(1, sizeof(*s))))
		return ENOMEM;
	pthread_mutex_lock(&db_lock);
	err = db_be->prepare(&s->impl, sql);
	if (!err) {
		s->next = stmts;
		stmts = s;
	} else {
		SIPD_ERR("database: cannot prepare \"%s\": %s", sql, db_be->errmsg());
	}
	pthread_mutex_unlock(&db_lock);
	if (err) {
		free(s);
		return err == ENOMEM ? ENOMEM : EINVAL;
	}
	*out = s;
	return 0;
}

int sipd_db_bind_int(struct sipd_db_stmt *s, int idx, int64_t v)
{
	return db_be->bind_int(s->impl, idx, v);
}

int sipd_db_bind_str(struct sipd_db_stmt *s, int idx, struct sipd_str v)
{
	return db_be->bind_str(s->impl, idx, v);
}

int sipd_db_bind_null(struct sipd_db_stmt *s, int idx)
{
	return db_be->bind_null(s->impl, idx);
}

int sipd_db_step(struct sipd_db_stmt *s, bool *row)
{
	return db_be->step(s->impl, row);
}

void sipd_db_reset(struct sipd_db_stmt *s)
{
	db_be->reset(s->impl);
}

int64_t sipd_db_column_int(struct sipd_db_stmt *s, int idx)
{
	return db_be->column_int(s->impl, idx);
}

struct sipd_str sipd_db_column_str(struct sipd_db_stmt *s, int idx)
{
	return db_be->column_str(s->impl, idx);
}

bool sipd_db_column_null(struct sipd_db_stmt *s, int idx)
{
	return db_be->column_null(s->impl, idx);
}

int db_simple(const char *sql)
{
	char why[256];
	int err = db_be->exec(sql, why, sizeof(why));

	if (err)
		SIPD_ERR("database: %s failed: %s", sql, why);
	return err;
}

int db_defer(const char *sql)
{
	return db_be->defer ? db_be->defer(sql) : db_simple(sql);
}

bool db_cancel(const char *sql)
{
	return db_be->cancel && db_be->cancel(sql);
}

int sipd_db_transaction(int (*fn)(void *arg), void *arg)
{
	int err;

	if (!db_be)
		return ENODEV;
	pthread_mutex_lock(&db_lock);
	if ((err = db_defer(db_be->begin)) != 0 && db_be->reconnect && !db_be->connected() &&
	    db_be->reconnect() == 0)
		err = db_defer(db_be->begin);
	if (err)
		goto out;
	err = fn(arg);
	if (err) {
		db_simple("ROLLBACK");
		db_notify_discard();
		goto out;
	}
	if (db_notify_send() != 0 || db_simple("COMMIT") != 0) {
		db_simple("ROLLBACK");
		db_notify_discard();
		err = EIO;
		goto out;
	}
	db_notify_committed();
out:
	pthread_mutex_unlock(&db_lock);
	return err;
}

int sipd_db_read(int (*fn)(void *arg), void *arg)
{
	int err;

	if (!db_be)
		return ENODEV;
	pthread_mutex_lock(&db_lock);
	err = fn(arg);
	/* The server connection was lost (a restart): fn only reads, so it runs again on a new one. */
	if (err == ENOTCONN && db_be->reconnect && !db_be->connected() && db_be->reconnect() == 0)
		err = fn(arg);
	pthread_mutex_unlock(&db_lock);
	return err;
}

/* A one-off statement (migrations): prepared, run to the end, finalized. *version gets column 0 of a row. */
static int run_once(const char *sql, const char *owner, int version, int *out)
{
	void *st;
	bool row = false;
	int err;

	if ((err = db_be->prepare(&st, sql)) != 0)
		return err;
	err = db_be->bind_str(st, 1, sipd_str_c(owner));
	if (!err && version >= 0)
		err = db_be->bind_int(st, 2, version);
	if (!err)
		err = db_be->step(st, &row);
	if (!err && out)
		*out = row ? (int)db_be->column_int(st, 0) : -1;
	db_be->reset(st);
	db_be->finalize(st);
	return err;
}

int sipd_db_migrate(const char *owner, const struct sipd_db_migration *steps, unsigned n)
{
	char why[256];
	int have = -1, err = 0;

	if (!db_be) {
		SIPD_ERR("database: %s needs a database (core.database is empty)", owner);
		return ENODEV;
	}
	if (!owner || (n && !steps))
		return EINVAL;
	pthread_mutex_lock(&db_lock);
	if ((err = run_once("SELECT version FROM schema_version WHERE module = ?", owner, -1, &have)) != 0) {
		SIPD_ERR("database %s: cannot read the schema version of %s: %s", db_target, owner,
			 db_be->errmsg());
		goto out;
	}
	if (have > (int)n) {
		SIPD_ERR("database %s: the tables of %s are at schema version %d, but this sipd knows only "
			 "up to %u: the database was written by a newer sipd; refusing to start (use that "
			 "version, or another database)",
			 db_target, owner, have, n);
		err = EPROTO;
		goto out;
	}
	for (unsigned i = have < 0 ? 0 : (unsigned)have; i < n; i++) {
		if (steps[i].version != (int)i + 1) {
			SIPD_ERR("database: %s migration %u is numbered %d", owner, i + 1, steps[i].version);
			err = EINVAL;
			goto out;
		}
		if ((err = db_simple(db_be->begin)) != 0)
			goto out;
		why[0] = '\0';
		if ((err = db_be->exec(steps[i].sql, why, sizeof(why))) == 0 &&
		    (err = run_once("INSERT INTO schema_version(module, version) VALUES(?, ?) "
				    "ON CONFLICT(module) DO UPDATE SET version = excluded.version",
				    owner, steps[i].version, NULL)) == 0 &&
		    (err = db_simple("COMMIT")) == 0) {
			SIPD_INFO("database %s: %s schema migrated to version %d", db_target, owner,
				  steps[i].version);
			continue;
		}
		SIPD_ERR("database %s: %s migration to version %d failed: %s", db_target, owner,
			 steps[i].version, why[0] ? why : db_be->errmsg());
		db_simple("ROLLBACK");
		err = EIO;
		goto out;
	}
out:
	pthread_mutex_unlock(&db_lock);
	return err;
}

int db_open(const char *target, char *err, size_t errlen)
{
	const struct db_backend *be;
	char why[256];
	int ret;

	if (!target || !*target) {
		SIPD_INFO("no database configured (core.database is empty)");
		return 0;
	}
	be = db_target_is_pg(target) ? &db_pg_backend : &db_sqlite_backend;
	if ((ret = be->open(target, err, errlen)) != 0)
		return ret;
	/* Names the database in messages without a password a conninfo may hold. */
	if (!(db_target = strdup(be->describe()))) {
		be->close();
		return ENOMEM;
	}
	if ((ret = be->exec("CREATE TABLE IF NOT EXISTS schema_version("
			    " module TEXT PRIMARY KEY, version INTEGER NOT NULL)",
			    why, sizeof(why))) != 0) {
		snprintf(err, errlen, "database %s: creating the schema_version table failed: %s",
			 be->describe(), why);
		be->close();
		goto fail;
	}
	db_be = be;
	SIPD_INFO("database %s opened (%s)", db_target, be->version());
	if ((ret = db_thread_start()) != 0) {
		snprintf(err, errlen, "cannot start the database thread: %s", strerror(ret));
		be->close();
		db_be = NULL;
		goto fail;
	}
	return 0;
fail:
	free(db_target);
	db_target = NULL;
	return ret;
}

void db_drain(void)
{
	if (!db_be)
		return;
	db_notify_stop();
	db_thread_drain();
}

void db_close(void)
{
	if (!db_be)
		return;
	db_thread_stop();
	while (stmts) {
		struct sipd_db_stmt *next = stmts->next;

		db_be->finalize(stmts->impl);
		free(stmts);
		stmts = next;
	}
	db_notify_reset();
	db_be->close();
	db_be = NULL;
	free(db_target);
	db_target = NULL;
}
