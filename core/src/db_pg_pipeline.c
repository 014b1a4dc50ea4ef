/* The PostgreSQL engine's round trips: statements that need no answer deferred into the next one's (libpq
 * pipeline mode). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include <sipd/log.h>

#include "db_pg.h"

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

static struct pg_deferred deferred[MAX_DEFERRED];
static unsigned n_deferred;

unsigned pg_deferred_count(void)
{
	return n_deferred;
}

bool pg_deferred_only_begin(void)
{
	return n_deferred == 1 && strcmp(deferred[0].sql, "BEGIN") == 0;
}

static void deferred_free(struct pg_deferred *d)
{
	free(d->sql);
	for (int k = 0; k < d->nparams; k++)
		free(d->values[k]);
	memset(d, 0, sizeof(*d));
}

void pg_deferred_clear(void)
{
	for (unsigned i = 0; i < n_deferred; i++)
		deferred_free(&deferred[i]);
	n_deferred = 0;
}

/* COMMIT of a transaction that had failed answers "ROLLBACK" without an error: it is one. */
int pg_commit_refused(const char *sql, const PGresult *res)
{
	if (strcmp(sql, "COMMIT") != 0 || strcmp(PQcmdStatus((PGresult *)res), "ROLLBACK") != 0)
		return 0;
	pg_remember_error("COMMIT rolled the transaction back: it had failed");
	return EIO;
}

/* The connection answered out of protocol or went away: drop it (the DB thread connects again). */
static int broken(void)
{
	pg_remember_error(PQerrorMessage(pg_conn));
	PQfinish(pg_conn);
	pg_conn = NULL;
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

	if (!PQenterPipelineMode(pg_conn))
		return broken();
	for (unsigned i = 0; i < n_deferred; i++)
		if (!PQsendQueryParams(pg_conn, deferred[i].sql, deferred[i].nparams, NULL,
				       (const char *const *)deferred[i].values, NULL, NULL, 0))
			goto lost;
	if (st && !PQsendQueryPrepared(pg_conn, st->name, st->nparams, (const char *const *)st->values, NULL,
				       NULL, 0))
		goto lost;
	if (sql && !PQsendQueryParams(pg_conn, sql, 0, NULL, NULL, NULL, NULL, 0))
		goto lost;
	if (!PQpipelineSync(pg_conn))
		goto lost;
	for (;;) {
		PGresult *r = PQgetResult(pg_conn);
		ExecStatusType status;

		if (!r) {
			/* The end of one statement's results; past the last one, the connection is gone. */
			if (PQstatus(pg_conn) != CONNECTION_OK || ++ends > total)
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
				err = status == PGRES_PIPELINE_ABORTED ? EIO : pg_result_errno(r);
				pg_remember_error(PQresultErrorMessage(r));
			}
		} else if (!err && ends == total - 1 && sql) {
			err = pg_commit_refused(sql, r);
		}
		if (!err && ends == total - 1 && res)
			*res = r;
		else
			PQclear(r);
	}
	if (!PQexitPipelineMode(pg_conn))
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
int pg_pipeline(struct pg_stmt *st, const char *sql, PGresult **res)
{
	bool fresh = n_deferred && strcmp(deferred[0].sql, "BEGIN") == 0;
	int err = ENOTCONN;

	if (pg_connected() && (!st || st->gen == pg_gen || (err = pg_prepare_on_server(st)) == 0))
		err = pipeline_once(st, sql, res);
	if (err == ENOTCONN && fresh && pg_connect() == 0) {
		SIPD_NOTICE("database %s: connected again", pg_described);
		if (!st || (err = pg_prepare_on_server(st)) == 0)
			err = pipeline_once(st, sql, res);
	}
	pg_deferred_clear();
	return err;
}

int pg_defer(const char *sql)
{
	struct pg_deferred *d;
	int err;

	if (n_deferred == MAX_DEFERRED && (err = pg_pipeline(NULL, NULL, NULL)) != 0)
		return err;
	d = &deferred[n_deferred];
	if (!(d->sql = strdup(sql)))
		return ENOMEM;
	n_deferred++;
	return 0;
}

bool pg_cancel(const char *sql)
{
	if (!n_deferred || strcmp(deferred[n_deferred - 1].sql, sql) != 0)
		return false;
	deferred_free(&deferred[--n_deferred]);
	return true;
}

int pg_notify_deferred(const char *channel, const char *payload)
{
	struct pg_deferred *d;
	int err;

	if ((err = pg_defer("SELECT pg_notify($1, $2)")) != 0)
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
