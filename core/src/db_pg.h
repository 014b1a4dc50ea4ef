/* What the PostgreSQL engine's files share: the connection, its statements, and the round trips. */
#ifndef SIPD_DB_PG_H
#define SIPD_DB_PG_H

#include <stdbool.h>

#include <libpq-fe.h>

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

/* db_pg.c: the connection (NULL once dropped), counting connections made, the last error's text. */
extern PGconn *pg_conn;
extern unsigned pg_gen;
extern char pg_described[256], pg_last_error[512];
int pg_connect(void);
bool pg_connected(void);
void pg_remember_error(const char *msg);
/* The errno of a failed result; ENOTCONN whenever the connection itself is gone. */
int pg_result_errno(const PGresult *res);
int pg_prepare_on_server(struct pg_stmt *st);

/*
 * db_pg_pipeline.c. pg_pipeline sends the deferred statements, then st
 * (prepared, with its values) or sql (parameterless) when given, in one
 * round trip; 0 or the first error; *res gets the last one's result.
 */
int pg_pipeline(struct pg_stmt *st, const char *sql, PGresult **res);
int pg_defer(const char *sql);
bool pg_cancel(const char *sql);
/* Deferred: the notification goes out with the transaction's next statement or its COMMIT. */
int pg_notify_deferred(const char *channel, const char *payload);
unsigned pg_deferred_count(void);
/* True when only the transaction's BEGIN waits: nothing of it reached the server. */
bool pg_deferred_only_begin(void);
void pg_deferred_clear(void);
/* EIO when COMMIT answered "ROLLBACK" (the transaction had failed), else 0. */
int pg_commit_refused(const char *sql, const PGresult *res);

#endif
