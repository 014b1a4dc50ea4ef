/* The database connection: open/close, prepared statements, transactions, and migrations. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "db_priv.h"
#include "internal.h"

struct sipd_db_stmt {
	sqlite3_stmt *st;
	struct sipd_db_stmt *next;
};

sqlite3 *db_conn;
pthread_mutex_t db_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sipd_db_stmt *stmts; /* every prepared statement, finalized at close */
static char *db_path;

int db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_CONSTRAINT:
		return EEXIST;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return EROFS;
	case SQLITE_FULL:
		return ENOSPC;
	default:
		return EIO;
	}
}

int64_t sipd_db_now(void)
{
	return (int64_t)time(NULL);
}

int sipd_db_prepare(struct sipd_db_stmt **out, const char *sql)
{
	struct sipd_db_stmt *s;
	int rc;

	if (!db_conn)
		return ENODEV;
	if (!(s = calloc(1, sizeof(*s))))
		return ENOMEM;
	pthread_mutex_lock(&db_lock);
	rc = sqlite3_prepare_v3(db_conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st, NULL);
	if (rc == SQLITE_OK) {
		s->next = stmts;
		stmts = s;
	} else {
		SIPD_ERR("database: cannot prepare \"%s\": %s", sql, sqlite3_errmsg(db_conn));
	}
	pthread_mutex_unlock(&db_lock);
	if (rc != SQLITE_OK) {
		free(s);
		return EINVAL;
	}
	*out = s;
	return 0;
}

int sipd_db_bind_int(struct sipd_db_stmt *s, int idx, int64_t v)
{
	return sqlite3_bind_int64(s->st, idx, v) == SQLITE_OK ? 0 : EINVAL;
}

int sipd_db_bind_str(struct sipd_db_stmt *s, int idx, struct sipd_str v)
{
	int rc = sqlite3_bind_text(s->st, idx, v.p ? v.p : "", (int)v.len, SQLITE_TRANSIENT);

	return rc == SQLITE_OK ? 0 : db_errno(rc) == ENOMEM ? ENOMEM : EINVAL;
}

int sipd_db_bind_null(struct sipd_db_stmt *s, int idx)
{
	return sqlite3_bind_null(s->st, idx) == SQLITE_OK ? 0 : EINVAL;
}

int sipd_db_step(struct sipd_db_stmt *s, bool *row)
{
	int rc = sqlite3_step(s->st);

	if (row)
		*row = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	SIPD_ERR("database: \"%s\" failed: %s", sqlite3_sql(s->st), sqlite3_errmsg(db_conn));
	return db_errno(rc) ? db_errno(rc) : EIO;
}

void sipd_db_reset(struct sipd_db_stmt *s)
{
	sqlite3_reset(s->st);
	sqlite3_clear_bindings(s->st);
}

int64_t sipd_db_column_int(struct sipd_db_stmt *s, int idx)
{
	return sqlite3_column_int64(s->st, idx);
}

struct sipd_str sipd_db_column_str(struct sipd_db_stmt *s, int idx)
{
	const char *p = (const char *)sqlite3_column_text(s->st, idx);

	return (struct sipd_str){p ? p : "", p ? (size_t)sqlite3_column_bytes(s->st, idx) : 0};
}

bool sipd_db_column_null(struct sipd_db_stmt *s, int idx)
{
	return sqlite3_column_type(s->st, idx) == SQLITE_NULL;
}

/* Runs every statement of a constant SQL text (no parameters), one prepared statement at a time. */
static int run_script(const char *sql, char *why, size_t whylen)
{
	const char *tail = sql;
	int rc = SQLITE_OK;

	while (tail && *tail) {
		sqlite3_stmt *st = NULL;

		rc = sqlite3_prepare_v2(db_conn, tail, -1, &st, &tail);
		if (rc != SQLITE_OK)
			break;
		if (!st) /* only whitespace or a comment was left */
			break;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			break;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		snprintf(why, whylen, "%s", sqlite3_errmsg(db_conn));
	return db_errno(rc);
}

int db_simple(const char *sql)
{
	char why[256];
	int err = run_script(sql, why, sizeof(why));

	if (err)
		SIPD_ERR("database: %s failed: %s", sql, why);
	return err;
}

int sipd_db_transaction(int (*fn)(void *arg), void *arg)
{
	int err;

	if (!db_conn)
		return ENODEV;
	pthread_mutex_lock(&db_lock);
	err = db_simple("BEGIN IMMEDIATE");
	if (err)
		goto out;
	err = fn(arg);
	if (err) {
		db_simple("ROLLBACK");
		goto out;
	}
	if (db_simple("COMMIT") != 0) {
		db_simple("ROLLBACK");
		err = EIO;
	}
out:
	pthread_mutex_unlock(&db_lock);
	return err;
}

/* -1 when owner has no row yet. */
static int stored_version(const char *owner, int *out)
{
	sqlite3_stmt *st;
	int rc;

	rc =
	    sqlite3_prepare_v2(db_conn, "SELECT version FROM schema_version WHERE module = ?", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(rc);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_errno(rc);
}

static int set_version(const char *owner, int version)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db_conn,
				"INSERT INTO schema_version(module, version) VALUES(?, ?) "
				"ON CONFLICT(module) DO UPDATE SET version = excluded.version",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_errno(rc);
	sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, version);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int sipd_db_migrate(const char *owner, const struct sipd_db_migration *steps, unsigned n)
{
	char why[256];
	int have = -1, err = 0;

	if (!db_conn) {
		SIPD_ERR("database: %s needs a database (core.database is empty)", owner);
		return ENODEV;
	}
	if (!owner || (n && !steps))
		return EINVAL;
	pthread_mutex_lock(&db_lock);
	if ((err = stored_version(owner, &have)) != 0) {
		SIPD_ERR("database %s: cannot read the schema version of %s: %s", db_path, owner,
			 sqlite3_errmsg(db_conn));
		goto out;
	}
	if (have > (int)n) {
		SIPD_ERR("database %s: the tables of %s are at schema version %d, but this sipd knows only "
			 "up to %u: the database was written by a newer sipd; refusing to start (use that "
			 "version, or another database file)",
			 db_path, owner, have, n);
		err = EPROTO;
		goto out;
	}
	for (unsigned i = have < 0 ? 0 : (unsigned)have; i < n; i++) {
		if (steps[i].version != (int)i + 1) {
			SIPD_ERR("database: %s migration %u is numbered %d", owner, i + 1, steps[i].version);
			err = EINVAL;
			goto out;
		}
		if ((err = db_simple("BEGIN IMMEDIATE")) != 0)
			goto out;
		if ((err = run_script(steps[i].sql, why, sizeof(why))) == 0 &&
		    (err = set_version(owner, steps[i].version)) == 0 && (err = db_simple("COMMIT")) == 0) {
			SIPD_INFO("database %s: %s schema migrated to version %d", db_path, owner,
				  steps[i].version);
			continue;
		}
		SIPD_ERR("database %s: %s migration to version %d failed: %s", db_path, owner,
			 steps[i].version, sqlite3_errmsg(db_conn));
		db_simple("ROLLBACK");
		err = EIO;
		goto out;
	}
out:
	pthread_mutex_unlock(&db_lock);
	return err;
}

/* The PRAGMA's first column as text into buf. */
static int pragma_text(const char *sql, char *buf, size_t size, int *rc_out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db_conn, sql, -1, &st, NULL);

	buf[0] = '\0';
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
	}
	*rc_out = rc;
	return rc == SQLITE_OK ? 0 : db_errno(rc);
}

static void describe_failure(char *err, size_t errlen, const char *what, int rc)
{
	int prim = rc & 0xff;

	if (prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT)
		snprintf(err, errlen, "database %s is corrupt or not an SQLite database (%s: %s)", db_path,
			 what, sqlite3_errstr(rc));
	else if (prim == SQLITE_READONLY || prim == SQLITE_PERM || prim == SQLITE_CANTOPEN ||
		 prim == SQLITE_IOERR)
		snprintf(err, errlen,
			 "database %s cannot be opened for writing (%s: %s); check the path "
			 "and the permissions of the file and its directory",
			 db_path, what, db_conn ? sqlite3_errmsg(db_conn) : sqlite3_errstr(rc));
	else
		snprintf(err, errlen, "database %s: %s failed: %s", db_path, what,
			 db_conn ? sqlite3_errmsg(db_conn) : sqlite3_errstr(rc));
}

int db_open(const char *path, char *err, size_t errlen)
{
	char text[64], why[256];
	int rc, ret;

	if (!path || !*path) {
		SIPD_INFO("no database configured (core.database is empty)");
		return 0;
	}
	if (!(db_path = strdup(path)))
		return ENOMEM;
	rc = sqlite3_open_v2(path, &db_conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		describe_failure(err, errlen, "open", rc);
		ret = EIO;
		goto fail;
	}
	sqlite3_extended_result_codes(db_conn, 1);
	/* Writers (the DB thread, RPC) wait for each other instead of failing with "database is locked". */
	sqlite3_busy_timeout(db_conn, 5000);
	if (pragma_text("PRAGMA journal_mode=WAL", text, sizeof(text), &rc) != 0) {
		describe_failure(err, errlen, "switching to WAL", rc);
		ret = EIO;
		goto fail;
	}
	if (strcmp(text, "wal") != 0) {
		snprintf(err, errlen,
			 "database %s cannot use WAL mode (journal mode stays '%s'); is the file "
			 "or its directory read-only?",
			 path, text);
		ret = EIO;
		goto fail;
	}
	if (pragma_text("PRAGMA quick_check", text, sizeof(text), &rc) != 0 || strcmp(text, "ok") != 0) {
		if (rc == SQLITE_OK)
			snprintf(err, errlen, "database %s is corrupt (quick_check: %s)", path, text);
		else
			describe_failure(err, errlen, "integrity check", rc);
		ret = EIO;
		goto fail;
	}
	/* FULL: a commit is on disk before a 200 OK says so, even across a power cut. */
	if ((ret = run_script("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
			      "CREATE TABLE IF NOT EXISTS schema_version("
			      " module TEXT PRIMARY KEY, version INTEGER NOT NULL)",
			      why, sizeof(why))) != 0) {
		describe_failure(err, errlen, "creating the schema_version table",
				 sqlite3_extended_errcode(db_conn));
		goto fail;
	}
	if ((ret = db_thread_start()) != 0) {
		snprintf(err, errlen, "cannot start the database thread: %s", strerror(ret));
		goto fail;
	}
	SIPD_INFO("database %s opened (SQLite %s, WAL)", path, sqlite3_libversion());
	return 0;
fail:
	sqlite3_close(db_conn);
	db_conn = NULL;
	free(db_path);
	db_path = NULL;
	return ret;
}

void db_drain(void)
{
	if (db_conn)
		db_thread_drain();
}

void db_close(void)
{
	if (!db_conn)
		return;
	db_thread_stop();
	while (stmts) {
		struct sipd_db_stmt *next = stmts->next;

		sqlite3_finalize(stmts->st);
		free(stmts);
		stmts = next;
	}
	/* Folds the WAL back into the main file so a copied .db file is complete. */
	sqlite3_wal_checkpoint_v2(db_conn, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_close(db_conn);
	db_conn = NULL;
	free(db_path);
	db_path = NULL;
}
