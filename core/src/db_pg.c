/* The PostgreSQL engine of sipd/db.h (libpq): prepared statements, reconnection, LISTEN/NOTIFY. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "db_backend.h"
#include "db_pg.h"
#include "db_priv.h"

struct pg_channel {
	struct pg_channel *next;
	char name[64];
};

PGconn *pg_conn;
static char *conninfo;
unsigned pg_gen; /* counts successful connections: statements prepare again on a new one */
static unsigned next_name;
static struct pg_stmt *stmts;
static struct pg_channel *channels;
char pg_described[256], pg_last_error[512];
static char version_text[64];

bool db_target_is_pg(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0 ||
	       (strchr(target, '=') && (strstr(target, "dbname=") || strstr(target, "host=")));
}

void pg_remember_error(const char *msg)
{
	size_t n;

	snprintf(pg_last_error, sizeof(pg_last_error), "%s", msg && *msg ? msg : "unknown error");
	n = strlen(pg_last_error);
	while (n && (pg_last_error[n - 1] == '\n' || pg_last_error[n - 1] == ' '))
		pg_last_error[--n] = '\0';
}

static const char *errmsg(void)
{
	return pg_last_error;
}

/* SQLSTATE classes to errnos (PostgreSQL appendix A). */
static int state_errno(const char *state)
{
	if (!state)
		return EIO;
	if (strncmp(state, "23", 2) == 0) /* integrity constraint violation */
		return EEXIST;
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "42", 2) == 0) /* data exception, syntax */
		return EINVAL;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0)
		return EBUSY;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0) /* connection, shutdown */
		return ENOTCONN;
	if (strcmp(state, "53100") == 0) /* disk full */
		return ENOSPC;
	if (strncmp(state, "53", 2) == 0) /* insufficient resources */
		return ENOMEM;
	return EIO;
}

/* The errno of a failed result; ENOTCONN whenever the connection itself is gone. */
int pg_result_errno(const PGresult *res)
{
	if (PQstatus(pg_conn) != CONNECTION_OK)
		return ENOTCONN;
	return state_errno(res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL);
}

static void on_notice(void *arg, const char *message)
{
	(void)arg;
	SIPD_DBG("database: %s", message);
}

static int relisten(void)
{
	for (struct pg_channel *c = channels; c; c = c->next) {
		char *ident = PQescapeIdentifier(pg_conn, c->name, strlen(c->name)), sql[160];
		PGresult *res;
		int err;

		if (!ident)
			return ENOMEM;
		snprintf(sql, sizeof(sql), "LISTEN %s", ident);
		PQfreemem(ident);
		res = PQexec(pg_conn, sql);
		err = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_result_errno(res);
		if (err)
			pg_remember_error(PQerrorMessage(pg_conn));
		PQclear(res);
		if (err)
			return err;
	}
	return 0;
}

/* Connects (or connects again) with our defaults under whatever target says. */
int pg_connect(void)
{
	/* Later keywords win: target (expanded as dbname) may override every default before it. */
	const char *keys[] = {
	    "connect_timeout",  "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
	    "keepalives_count", "application_name", "dbname",          NULL};
	const char *vals[] = {"3", "5000", "10", "3", "3", "sipd", conninfo, NULL};
	PGresult *res;
	int err;

	if (pg_conn)
		PQfinish(pg_conn);
	pg_conn = PQconnectdbParams(keys, vals, 1);
	if (!pg_conn)
		return ENOMEM;
	if (PQstatus(pg_conn) != CONNECTION_OK) {
		pg_remember_error(PQerrorMessage(pg_conn));
		return ENOTCONN;
	}
	PQsetNoticeProcessor(pg_conn, on_notice, NULL);
	res = PQexec(pg_conn, "SET client_min_messages = warning; SET synchronous_commit = on");
	err = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_result_errno(res);
	if (err)
		pg_remember_error(PQerrorMessage(pg_conn));
	PQclear(res);
	if (!err)
		err = relisten();
	if (err)
		return err;
	pg_gen++;
	return 0;
}

bool pg_connected(void)
{
	return pg_conn && PQstatus(pg_conn) == CONNECTION_OK;
}

static int reconnect(void)
{
	int err = pg_connect();

	if (!err) {
		SIPD_NOTICE("database %s: connected again", pg_described);
		/* What other nodes told meanwhile is lost: the listeners of this pseudo-channel read again.
		 */
		db_notify_arrived(SIPD_DB_RECONNECTED, "");
	}
	return err;
}

static void close_db(void)
{
	while (stmts) {
		struct pg_stmt *next = stmts->next;

		free(stmts);
		stmts = next;
	}
	while (channels) {
		struct pg_channel *next = channels->next;

		free(channels);
		channels = next;
	}
	if (pg_conn)
		PQfinish(pg_conn);
	pg_conn = NULL;
	free(conninfo);
	conninfo = NULL;
}

static int open_db(const char *target, char *err, size_t errlen)
{
	int ret;

	if (!(conninfo = strdup(target)))
		return ENOMEM;
	if ((ret = pg_connect()) != 0) {
		snprintf(err, errlen, "cannot connect to the PostgreSQL database: %s", pg_last_error);
		close_db();
		return ret == ENOTCONN ? EIO : ret;
	}
	snprintf(pg_described, sizeof(pg_described), "postgresql://%s@%s:%s/%s", PQuser(pg_conn),
		 PQhost(pg_conn), PQport(pg_conn), PQdb(pg_conn));
	snprintf(version_text, sizeof(version_text), "PostgreSQL %d.%d, libpq %d",
		 PQserverVersion(pg_conn) / 10000, PQserverVersion(pg_conn) % 10000, PQlibVersion());
	return 0;
}

static const char *describe(void)
{
	return pg_described;
}

static const char *version(void)
{
	return version_text;
}

static int exec(const char *sql, char *why, size_t whylen)
{
	PGresult *res;
	ExecStatusType status;
	bool single = !strchr(sql, ';');
	int err;

	if (pg_deferred_only_begin() && (strcmp(sql, "ROLLBACK") == 0 || strcmp(sql, "COMMIT") == 0)) {
		/* Nothing of the transaction went out: there is nothing to end. */
		pg_deferred_clear();
		return 0;
	}
	if (pg_deferred_count() && strcmp(sql, "ROLLBACK") == 0) {
		/* After an error the server would skip them, and the ROLLBACK with them. */
		pg_deferred_clear();
	} else if (pg_deferred_count()) {
		/* A script of several statements cannot go in a pipeline: what is deferred goes first. */
		if ((err = pg_pipeline(NULL, single ? sql : NULL, NULL)) != 0 || single) {
			if (err)
				snprintf(why, whylen, "%s", pg_last_error);
			return err;
		}
	}
	res = PQexec(pg_conn, sql);
	status = PQresultStatus(res);
	err = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? pg_commit_refused(sql, res)
								      : pg_result_errno(res);
	if (err) {
		if (status != PGRES_COMMAND_OK)
			pg_remember_error(PQerrorMessage(pg_conn));
		snprintf(why, whylen, "%s", pg_last_error);
	}
	PQclear(res);
	return err;
}

/* The statement text with ? placeholders numbered $1, $2 ... (none inside quoted strings or names). */
static char *number_placeholders(const char *sql, int *count)
{
	size_t len = strlen(sql), used = 0;
	char *out = malloc(len * 4 + 1), quote = 0;
	int n = 0;

	if (!out)
		return NULL;
	for (const char *p = sql; *p; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '?') {
			used += (size_t)sprintf(out + used, "$%d", ++n);
			continue;
		}
		out[used++] = *p;
	}
	out[used] = '\0';
	*count = n;
	return out;
}

int pg_prepare_on_server(struct pg_stmt *st)
{
	PGresult *res = PQprepare(pg_conn, st->name, st->sql, st->nparams, NULL);
	int err = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : pg_result_errno(res);

	if (err)
		pg_remember_error(PQerrorMessage(pg_conn));
	else
		st->gen = pg_gen;
	PQclear(res);
	return err;
}

static int prepare(void **out, const char *sql)
{
	struct pg_stmt *st = calloc(1, sizeof(*st));
	int err = ENOMEM;

	if (!st)
		return ENOMEM;
	snprintf(st->name, sizeof(st->name), "sipd_%u", ++next_name);
	if (!(st->sql = number_placeholders(sql, &st->nparams)))
		goto fail;
	if (st->nparams && !(st->values = calloc((size_t)st->nparams, sizeof(char *))))
		goto fail;
	if ((err = pg_prepare_on_server(st)) != 0)
		goto fail;
	st->next = stmts;
	stmts = st;
	*out = st;
	return 0;
fail:
	free(st->values);
	free(st->sql);
	free(st);
	return err;
}

static void clear_values(struct pg_stmt *st)
{
	for (int i = 0; i < st->nparams; i++) {
		free(st->values[i]);
		st->values[i] = NULL;
	}
}

static void finalize(void *p)
{
	struct pg_stmt *st = p, **pp;

	for (pp = &stmts; *pp && *pp != st; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = st->next;
	if (st->gen == pg_gen && pg_connected()) {
		char sql[48];

		snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
		PQclear(PQexec(pg_conn, sql));
	}
	PQclear(st->res);
	clear_values(st);
	free(st->values);
	free(st->sql);
	free(st);
}

static int set_value(struct pg_stmt *st, int idx, char *text)
{
	if (idx < 1 || idx > st->nparams) {
		free(text);
		return EINVAL;
	}
	free(st->values[idx - 1]);
	st->values[idx - 1] = text;
	return 0;
}

static int bind_int(void *p, int idx, int64_t v)
{
	char *text;

	if (asprintf(&text, "%lld", (long long)v) < 0)
		return ENOMEM;
	return set_value(p, idx, text);
}

static int bind_str(void *p, int idx, struct sipd_str v)
{
	char *text;

	/* PostgreSQL text cannot hold a NUL byte. */
	if (v.p && memchr(v.p, '\0', v.len))
		return EINVAL;
	if (!(text = strndup(v.p ? v.p : "", v.len)))
		return ENOMEM;
	return set_value(p, idx, text);
}

static int bind_null(void *p, int idx)
{
	return set_value(p, idx, NULL);
}

static int step(void *p, bool *row)
{
	struct pg_stmt *st = p;
	int err;

	if (row)
		*row = false;
	if (!st->res) {
		if ((err = pg_pipeline(st, NULL, &st->res)) != 0) {
			if (err != EEXIST)
				SIPD_ERR("database: \"%s\" failed: %s", st->sql, pg_last_error);
			return err;
		}
		st->row = 0;
	}
	if (st->row < PQntuples(st->res)) {
		st->row++;
		if (row)
			*row = true;
	}
	return 0;
}

static void reset(void *p)
{
	struct pg_stmt *st = p;

	PQclear(st->res);
	st->res = NULL;
	st->row = 0;
	clear_values(st);
}

static int64_t column_int(void *p, int idx)
{
	struct pg_stmt *st = p;
	const char *v;

	if (!st->res || st->row < 1 || idx >= PQnfields(st->res))
		return 0;
	v = PQgetvalue(st->res, st->row - 1, idx);
	/* Booleans come back as t/f. */
	if (v[0] == 't' || v[0] == 'f')
		return v[0] == 't';
	return strtoll(v, NULL, 10);
}

static struct sipd_str column_str(void *p, int idx)
{
	struct pg_stmt *st = p;

	if (!st->res || st->row < 1 || idx >= PQnfields(st->res))
		return (struct sipd_str){"", 0};
	return (struct sipd_str){PQgetvalue(st->res, st->row - 1, idx),
				 (size_t)PQgetlength(st->res, st->row - 1, idx)};
}

static bool column_null(void *p, int idx)
{
	struct pg_stmt *st = p;

	return !st->res || st->row < 1 || idx >= PQnfields(st->res) || PQgetisnull(st->res, st->row - 1, idx);
}

static int listen_channel(const char *channel)
{
	struct pg_channel *c = calloc(1, sizeof(*c));
	struct pg_channel *saved = channels;
	int err;

	if (!c)
		return ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", channel);
	channels = c;
	c->next = NULL;
	/* LISTEN only the new one now; all of them again after a reconnect. */
	err = relisten();
	c->next = saved;
	if (err) {
		channels = saved;
		free(c);
	}
	return err;
}

static void poll_notifications(void)
{
	PGnotify *n;

	if (!pg_connected())
		return;
	if (!PQconsumeInput(pg_conn)) {
		pg_remember_error(PQerrorMessage(pg_conn));
		return;
	}
	while ((n = PQnotifies(pg_conn)) != NULL) {
		db_notify_arrived(n->relname, n->extra);
		PQfreemem(n);
	}
}

const struct db_backend db_pg_backend = {
    .name = "postgresql",
    .begin = "BEGIN",
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
    .connected = pg_connected,
    .reconnect = reconnect,
    .poll = poll_notifications,
    .notify = pg_notify_deferred,
    .defer = pg_defer,
    .cancel = pg_cancel,
    .listen = listen_channel,
};
