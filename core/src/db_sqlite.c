/* The SQLite engine of sipd/db.h: one file in WAL mode, synchronous commits. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include <sipd/log.h>

#include "db_backend.h"

static sqlite3 *conn;
static char *path;
static char version_text[64];

/* WAL frames (4 KiB pages) between two automatic checkpoints: a WAL file of up to 40 MiB. */
#define WAL_CHECKPOINT_PAGES "10000"
/* Page cache in KiB (a negative cache_size). */
#define CACHE_KIB "-32768"

/*
 * Transaction control (BEGIN, SAVEPOINT, RELEASE, COMMIT ...) runs a few
 * times per registration under group commit: prepared once and kept, as
 * compiling it each time cost more than running it.
 */
#define KEPT_MAX 8
static struct kept {
	char *sql;
	sqlite3_stmt *st;
} kept[KEPT_MAX];
static unsigned kept_count;

static int to_errno(int rc)
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

static const char *errmsg(void)
{
	return conn ? sqlite3_errmsg(conn) : "not open";
}

static int prepare(void **out, const char *sql)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v3(conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);

	if (rc != SQLITE_OK)
		return to_errno(rc) == ENOMEM ? ENOMEM : EINVAL;
	*out = st;
	return 0;
}

static void finalize(void *st)
{
	sqlite3_finalize(st);
}

static int bind_int(void *st, int idx, int64_t v)
{
	return sqlite3_bind_int64(st, idx, v) == SQLITE_OK ? 0 : EINVAL;
}

static int bind_str(void *st, int idx, struct sipd_str v)
{
	int rc = sqlite3_bind_text(st, idx, v.p ? v.p : "", (int)v.len, SQLITE_TRANSIENT);

	return rc == SQLITE_OK ? 0 : to_errno(rc) == ENOMEM ? ENOMEM : EINVAL;
}

static int bind_null(void *st, int idx)
{
	return sqlite3_bind_null(st, idx) == SQLITE_OK ? 0 : EINVAL;
}

static int step(void *st, bool *row)
{
	int rc = sqlite3_step(st);

	if (row)
		*row = rc == SQLITE_ROW;
	if (rc == SQLITE_ROW || rc == SQLITE_DONE)
		return 0;
	SIPD_ERR("database: \"%s\" failed: %s", sqlite3_sql(st), sqlite3_errmsg(conn));
	return to_errno(rc) ? to_errno(rc) : EIO;
}

static void reset(void *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int64_t column_int(void *st, int idx)
{
	return sqlite3_column_int64(st, idx);
}

static struct sipd_str column_str(void *st, int idx)
{
	const char *p = (const char *)sqlite3_column_text(st, idx);

	return (struct sipd_str){p ? p : "", p ? (size_t)sqlite3_column_bytes(st, idx) : 0};
}

static bool column_null(void *st, int idx)
{
	return sqlite3_column_type(st, idx) == SQLITE_NULL;
}

static bool is_control(const char *sql)
{
	static const char *const words[] = {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"};

	if (strchr(sql, ';'))
		return false;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strncmp(sql, words[i], strlen(words[i])) == 0)
			return true;
	return false;
}

/* The kept statement of a transaction-control text (prepared on first use), or NULL. */
static sqlite3_stmt *kept_stmt(const char *sql)
{
	sqlite3_stmt *st;
	char *copy;

	for (unsigned i = 0; i < kept_count; i++)
		if (strcmp(kept[i].sql, sql) == 0)
			return kept[i].st;
	if (kept_count == KEPT_MAX || !is_control(sql))
		return NULL;
	if (sqlite3_prepare_v3(conn, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		return NULL;
	if (!(copy = strdup(sql))) {
		sqlite3_finalize(st);
		return NULL;
	}
	kept[kept_count++] = (struct kept){copy, st};
	return st;
}

static void kept_free(void)
{
	for (unsigned i = 0; i < kept_count; i++) {
		sqlite3_finalize(kept[i].st);
		free(kept[i].sql);
	}
	kept_count = 0;
}

/* Runs every statement of a constant SQL text (no parameters), one prepared statement at a time. */
static int exec(const char *sql, char *why, size_t whylen)
{
	const char *tail = sql;
	sqlite3_stmt *ks = kept_stmt(sql);
	int rc = SQLITE_OK;

	if (ks) {
		rc = sqlite3_step(ks);
		sqlite3_reset(ks);
		if (rc == SQLITE_DONE || rc == SQLITE_ROW)
			return 0;
		snprintf(why, whylen, "%s", sqlite3_errmsg(conn));
		return to_errno(rc);
	}

	while (tail && *tail) {
		sqlite3_stmt *st = NULL;

		rc = sqlite3_prepare_v2(conn, tail, -1, &st, &tail);
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
		snprintf(why, whylen, "%s", sqlite3_errmsg(conn));
	return to_errno(rc);
}

/* The PRAGMA's first column as text into buf. */
static int pragma_text(const char *sql, char *buf, size_t size, int *rc_out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(conn, sql, -1, &st, NULL);

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
	return rc == SQLITE_OK ? 0 : to_errno(rc);
}

static void describe_failure(char *err, size_t errlen, const char *what, int rc)
{
	int prim = rc & 0xff;

	if (prim == SQLITE_NOTADB || prim == SQLITE_CORRUPT)
		snprintf(err, errlen, "database %s is corrupt or not an SQLite database (%s: %s)", path, what,
			 sqlite3_errstr(rc));
	else if (prim == SQLITE_READONLY || prim == SQLITE_PERM || prim == SQLITE_CANTOPEN ||
		 prim == SQLITE_IOERR)
		snprintf(err, errlen,
			 "database %s cannot be opened for writing (%s: %s); check the path "
			 "and the permissions of the file and its directory",
			 path, what, conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
	else
		snprintf(err, errlen, "database %s: %s failed: %s", path, what,
			 conn ? sqlite3_errmsg(conn) : sqlite3_errstr(rc));
}

static void close_db(void)
{
	kept_free();
	if (conn) {
		/* Folds the WAL back into the main file so a copied .db file is complete. */
		sqlite3_wal_checkpoint_v2(conn, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
		sqlite3_close(conn);
	}
	conn = NULL;
	free(path);
	path = NULL;
}

static int open_db(const char *target, char *err, size_t errlen)
{
	char text[64], why[256];
	int rc, ret;

	if (!(path = strdup(target)))
		return ENOMEM;
	/*
	 * Memory statistics take a global mutex on every allocation SQLite makes
	 * (dozens per write); nothing reads them. Refused harmlessly once SQLite
	 * is initialised, as on a second open in one process.
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	rc = sqlite3_open_v2(path, &conn, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		describe_failure(err, errlen, "open", rc);
		ret = EIO;
		goto fail;
	}
	sqlite3_extended_result_codes(conn, 1);
	/* Writers (the DB thread, RPC) wait for each other instead of failing with "database is locked". */
	sqlite3_busy_timeout(conn, 5000);
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
	/*
	 * FULL: a commit is on disk before a 200 OK says so, even across a power cut.
	 * Checkpoints copy each page changed since the last one back into the main
	 * file (and sync it): one every WAL_CHECKPOINT_PAGES frames rather than
	 * SQLite's 1 000 copies a page rewritten by many commits once instead of
	 * many times. The cache holds the bindings' working set, so no commit
	 * reads its pages back from the file.
	 */
	if ((ret = exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; "
			"PRAGMA wal_autocheckpoint=" WAL_CHECKPOINT_PAGES "; PRAGMA cache_size=" CACHE_KIB,
			why, sizeof(why))) != 0) {
		describe_failure(err, errlen, "setting synchronous commits", sqlite3_extended_errcode(conn));
		goto fail;
	}
	snprintf(version_text, sizeof(version_text), "SQLite %s, WAL", sqlite3_libversion());
	return 0;
fail:
	close_db();
	return ret;
}

static const char *describe(void)
{
	return path ? path : "";
}

static const char *version(void)
{
	return version_text;
}

const struct db_backend db_sqlite_backend = {
    .name = "sqlite",
    .begin = "BEGIN IMMEDIATE",
    .open = open_db,
    .describe = describe,
    .version = version,
    .close = close_db,
    .exec = exec,
    .prepare = prepare,
    .finalize = finalize,
    .bind_int = bind_int,
    .bind_str = bind_str,
    .bind_null = bind_null,
    .step = step,
    .reset = reset,
    .column_int = column_int,
    .column_str = column_str,
    .column_null = column_null,
    .errmsg = errmsg,
};
