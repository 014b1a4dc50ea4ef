/* The fixture of the storage tests: each DB_TEST runs on an SQLite file and on a fresh PostgreSQL database.
 */
#ifndef SIPD_TEST_DB_FIXTURE_H
#define SIPD_TEST_DB_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "internal.h"

/*
 * Every DB_TEST runs twice: suite db on an SQLite file, suite db_pg on a
 * fresh PostgreSQL database of the cluster named by SIPD_TEST_PG (a conninfo;
 * scripts/test.sh starts one with tests/pg/pg_cluster.sh). Without it the
 * db_pg tests are skipped, saying why.
 */
static char dir[64], path[128], target[512], pg_db[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/sipd-dbtest-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	snprintf(target, sizeof(target), "%s", path);
}

static void teardown(void)
{
	char cmd[160];

	db_close();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Runs one statement on the cluster's maintenance database. */
static void pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(getenv("SIPD_TEST_PG"));
	PGresult *r;

	cr_assert_eq(PQstatus(c), CONNECTION_OK, "PostgreSQL at SIPD_TEST_PG: %s", PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s",
		  sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static void pg_setup(void)
{
	char sql[128];

	setup();
	if (!getenv("SIPD_TEST_PG") || !*getenv("SIPD_TEST_PG"))
		cr_skip_test(
		    "PostgreSQL tests skipped: SIPD_TEST_PG (a conninfo) is not set; scripts/test.sh starts "
		    "a cluster with tests/pg/pg_cluster.sh");
	snprintf(pg_db, sizeof(pg_db), "sipd_test_%d", (int)getpid());
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", pg_db);
	pg_admin(sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pg_db);
	pg_admin(sql);
	/* In a conninfo string the last dbname wins. */
	snprintf(target, sizeof(target), "%s dbname=%s", getenv("SIPD_TEST_PG"), pg_db);
}

static void pg_teardown(void)
{
	char sql[128];

	teardown();
	if (pg_db[0]) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", pg_db);
		pg_admin(sql);
	}
}

TestSuite(db, .init = setup, .fini = teardown);
TestSuite(db_pg, .init = pg_setup, .fini = pg_teardown);

#define DB_TEST(name)                                                                                        \
	static void name(void);                                                                              \
	Test(db, name)                                                                                       \
	{                                                                                                    \
		name();                                                                                      \
	}                                                                                                    \
	Test(db_pg, name)                                                                                    \
	{                                                                                                    \
		name();                                                                                      \
	}                                                                                                    \
	static void name(void)

static void open_db(void)
{
	char err[512] = "";

	cr_assert_eq(db_open(target, err, sizeof(err)), 0, "%s", err);
}

#endif
