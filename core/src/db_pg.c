/* The PostgreSQL engine of sipd/db.h (libpq): prepared statements, reconnection, LISTEN/NOTIFY, and the
 * statements deferred into the next round trip (pipeline mode). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "db_backend.h"
#include "db_priv.h"

struct pg_stmt {
	struct pg_stmt *next;
	char name[24];
	char *sql; /* with $1, $2 ... in place of ? */
	int nparams;
	char **values; /* text of each parameter, NULL for SQL NULL */
	PGresult *res; /* of the last execution, until reset */
	int row;       /* the next row step returns */
	unsigned gen;  /* the connection it was prepared on (0: not yet) */
};

struct pg_channel {
	struct pg_channel *next;
	char name[64];
};

/*
 * A statement that needs no answer of its own (BEGIN, SAVEPOINT, RELEASE,
 * pg_notify): held until the next statement goes out, then sent with it in
 * one round trip (libpq pipeline mode). Its error, if any, is that
 * statement's error.
 */
struct pg_deferred {
	char *sql;
	int nparams;
	char *values[2];
};

#define MAX_DEFERRED 32

static PGconn *conn;
static char *conninfo;
static unsigned gen; /* counts successful connections: statements prepare again on a new one */
static unsigned next_name;
static struct pg_stmt *stmts;
static struct pg_channel *channels;
static char described[256], version_text[64], last_error[512];
static struct pg_deferred deferred[MAX_DEFERRED];
static unsigned n_deferred;

bool db_target_is_pg(const char *target)
{
	return strncmp(target, "postgresql://", 13) == 0 || strncmp(target, "postgres://", 11) == 0 ||
	       (strchr(target, '=') && (strstr(target, "dbname=") || strstr(target, "host=")));
}

static void remember_error(const char *msg)
{
	size_t n;

	snprintf(last_error, sizeof(last_error), "%s", msg && *msg ? msg : "unknown error");
	n = strlen(last_error);
	while (n && (last_error[n - 1] == '\n' || last_error[n - 1] == ' '))
		last_error[--n] = '\0';
}

static const char *errmsg(void)
{
	return last_error;
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
static int result_errno(const PGresult *res)
{
	if (PQstatus(conn) != CONNECTION_OK)
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
		char *ident = PQescapeIdentifier(conn, c->name, strlen(c->name)), sql[160];
		PGresult *res;
		int err;

		if (!ident)
			return ENOMEM;
		snprintf(sql, sizeof(sql), "LISTEN %s", ident);
		PQfreemem(ident);
		res = PQexec(conn, sql);
		err = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : result_errno(res);
		if (err)
			remember_error(PQerrorMessage(conn));
		PQclear(res);
		if (err)
			return err;
	}
	return 0;
}

/* Connects (or connects again) with our defaults under whatever target says. */
static int connect_db(void)
{
	/* Later keywords win: target (expanded as dbname) may override every default before it. */
	const char *keys[] = {
	    "connect_timeout",  "tcp_user_timeout", "keepalives_idle", "keepalives_interval",
	    "keepalives_count", "application_name", "dbname",          NULL};
	const char *vals[] = {"3", "5000", "10", "3", "3", "sipd", conninfo, NULL};
	PGresult *res;
	int err;

	if (conn)
		PQfinish(conn);
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn)
		return ENOMEM;
	if (PQstatus(conn) != CONNECTION_OK) {
		remember_error(PQerrorMessage(conn));
		return ENOTCONN;
	}
	PQsetNoticeProcessor(conn, on_notice, NULL);
	res = PQexec(conn, "SET client_min_messages = warning; SET synchronous_commit = on");
	err = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : result_errno(res);
	if (err)
		remember_error(PQerrorMessage(conn));
	PQclear(res);
	if (!err)
		err = relisten();
	if (err)
		return err;
	gen++;
	return 0;
}

static bool connected(void)
{
	return conn && PQstatus(conn) == CONNECTION_OK;
}

static int reconnect(void)
{
	int err = connect_db();

	if (!err) {
		SIPD_NOTICE("database %s: connected again", described);
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
	if (conn)
		PQfinish(conn);
	conn = NULL;
	free(conninfo);
	conninfo = NULL;
}

static int open_db(const char *target, char *err, size_t errlen)
{
	int ret;

	if (!(conninfo = strdup(target)))
		return ENOMEM;
	if ((ret = connect_db()) != 0) {
		snprintf(err, errlen, "cannot connect to the PostgreSQL database: %s", last_error);
		close_db();
		return ret == ENOTCONN ? EIO : ret;
	}
	snprintf(described, sizeof(described), "postgresql://%s@%s:%s/%s", PQuser(conn), PQhost(conn),
		 PQport(conn), PQdb(conn));
	snprintf(version_text, sizeof(version_text), "PostgreSQL %d.%d, libpq %d",
		 PQserverVersion(conn) / 10000, PQserverVersion(conn) % 10000, PQlibVersion());
	return 0;
}

static const char *describe(void)
{
	return described;
}

static const char *version(void)
{
	return version_text;
}

static int prepare_on_server(struct pg_stmt *st);

static void deferred_free(struct pg_deferred *d)
{
	free(d->sql);
	for (int k = 0; k < d->nparams; k++)
		free(d->values[k]);
	memset(d, 0, sizeof(*d));
}

static void deferred_clear(void)
{
	for (unsigned i = 0; i < n_deferred; i++)
		deferred_free(&deferred[i]);
	n_deferred = 0;
}

/* COMMIT of a transaction that had failed answers "ROLLBACK" without an error: it is one. */
static int commit_refused(const char *sql, const PGresult *res)
{
	if (strcmp(sql, "COMMIT") != 0 || strcmp(PQcmdStatus((PGresult *)res), "ROLLBACK") != 0)
		return 0;
	remember_error("COMMIT rolled the transaction back: it had failed");
	return EIO;
}

/* The connection answered out of protocol or went away: drop it (the DB thread connects again). */
static int broken(void)
{
	remember_error(PQerrorMessage(conn));
	PQfinish(conn);
	conn = NULL;
	return ENOTCONN;
}

/*
 * One round trip: the deferred statements, then st (prepared, with its
 * values) or sql (parameterless) when given. Returns 0 or the first error;
 * *res gets the last statement's result when it succeeded.
 */
static int pipeline_once(struct pg_stmt *st, const char *sql, PGresult **res)
{
	unsigned total = n_deferred + (st || sql ? 1 : 0), ends = 0;
	int err = 0;

	if (!PQenterPipelineMode(conn))
		return broken();
	for (unsigned i = 0; i < n_deferred; i++)
		if (!PQsendQueryParams(conn, deferred[i].sql, deferred[i].nparams, NULL,
				       (const char *const *)deferred[i].values, NULL, NULL, 0))
			goto lost;
	if (st &&
	    !PQsendQueryPrepared(conn, st->name, st->nparams, (const char *const *)st->values, NULL, NULL, 0))
		goto lost;
	if (sql && !PQsendQueryParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0))
		goto lost;
	if (!PQpipelineSync(conn))
		goto lost;
	for (;;) {
		PGresult *r = PQgetResult(conn);
		ExecStatusType status;

		if (!r) {
			/* The end of one statement's results; past the last one, the connection is gone. */
			if (PQstatus(conn) != CONNECTION_OK || ++ends > total)
				goto lost;
			continue;
		}
		status = PQresultStatus(r);
		if (status == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			break;
		}
		if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
			if (!err) {
				err = status == PGRES_PIPELINE_ABORTED ? EIO : result_errno(r);
				remember_error(PQresultErrorMessage(r));
			}
		} else if (!err && ends == total - 1 && sql) {
			err = commit_refused(sql, r);
		}
		if (!err && ends == total - 1 && res)
			*res = r;
		else
			PQclear(r);
	}
	if (!PQexitPipelineMode(conn))
		goto lost;
	return err;
lost:
	if (res && *res) {
		PQclear(*res);
		*res = NULL;
	}
	return broken();
}

/*
 * Sends what is deferred, with st or sql. A connection lost before the
 * transaction's BEGIN got through left nothing behind on the server: it is
 * made again and everything sent once more.
 */
static int pipeline(struct pg_stmt *st, const char *sql, PGresult **res)
{
	bool fresh = n_deferred && strcmp(deferred[0].sql, "BEGIN") == 0;
	int err = ENOTCONN;

	if (connected() && (!st || st->gen == gen || (err = prepare_on_server(st)) == 0))
		err = pipeline_once(st, sql, res);
	if (err == ENOTCONN && fresh && connect_db() == 0) {
		SIPD_NOTICE("database %s: connected again", described);
		if (!st || (err = prepare_on_server(st)) == 0)
			err = pipeline_once(st, sql, res);
	}
	deferred_clear();
	return err;
}

static int defer(const char *sql)
{
	struct pg_deferred *d;
	int err;

	if (n_deferred == MAX_DEFERRED && (err = pipeline(NULL, NULL, NULL)) != 0)
		return err;
	d = &deferred[n_deferred];
	if (!(d->sql = strdup(sql)))
		return ENOMEM;
	n_deferred++;
	return 0;
}

static bool cancel(const char *sql)
{
	if (!n_deferred || strcmp(deferred[n_deferred - 1].sql, sql) != 0)
		return false;
	deferred_free(&deferred[--n_deferred]);
	return true;
}

static int exec(const char *sql, char *why, size_t whylen)
{
	PGresult *res;
	ExecStatusType status;
	int err;

	if (n_deferred == 1 && strcmp(deferred[0].sql, "BEGIN") == 0 &&
	    (strcmp(sql, "ROLLBACK") == 0 || strcmp(sql, "COMMIT") == 0)) {
		/* Nothing of the transaction went out: there is nothing to end. */
		deferred_clear();
		return 0;
	}
	if (n_deferred && strcmp(sql, "ROLLBACK") == 0) {
		/* After an error the server would skip them, and the ROLLBACK with them. */
		deferred_clear();
	} else if (n_deferred) {
		err = pipeline(NULL, strchr(sql, ';') ? NULL : sql, NULL);
		if (err || !strchr(sql, ';')) {
			if (err)
				snprintf(why, whylen, "%s", last_error);
			return err;
		}
	}
	res = PQexec(conn, sql);
	status = PQresultStatus(res);
	err = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK ? commit_refused(sql, res)
								      : result_errno(res);
	if (err) {
		if (status != PGRES_COMMAND_OK)
			remember_error(PQerrorMessage(conn));
		snprintf(why, whylen, "%s", last_error);
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

static int prepare_on_server(struct pg_stmt *st)
{
	PGresult *res = PQprepare(conn, st->name, st->sql, st->nparams, NULL);
	int err = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : result_errno(res);

	if (err)
		remember_error(PQerrorMessage(conn));
	else
		st->gen = gen;
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
	if ((err = prepare_on_server(st)) != 0)
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
	if (st->gen == gen && connected()) {
		char sql[48];

		snprintf(sql, sizeof(sql), "DEALLOCATE %s", st->name);
		PQclear(PQexec(conn, sql));
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
		if ((err = pipeline(st, NULL, &st->res)) != 0) {
			if (err != EEXIST)
				SIPD_ERR("database: \"%s\" failed: %s", st->sql, last_error);
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

/* Deferred: the notification goes out with the transaction's next statement or its COMMIT. */
static int notify(const char *channel, const char *payload)
{
	struct pg_deferred *d;
	int err;

	if ((err = defer("SELECT pg_notify($1, $2)")) != 0)
		return err;
	d = &deferred[n_deferred - 1];
	d->nparams = 2;
	if (!(d->values[0] = strdup(channel)) || !(d->values[1] = strdup(payload))) {
		deferred_free(d);
		n_deferred--;
		return ENOMEM;
	}
	return 0;
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

	if (!connected())
		return;
	if (!PQconsumeInput(conn)) {
		remember_error(PQerrorMessage(conn));
		return;
	}
	while ((n = PQnotifies(conn)) != NULL) {
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
    .connected = connected,
    .reconnect = reconnect,
    .poll = poll_notifications,
    .notify = notify,
    .defer = defer,
    .cancel = cancel,
    .listen = listen_channel,
};
