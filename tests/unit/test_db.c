/* The storage interface on both engines: migrations, refusing newer or corrupt databases, transactions, group
 * commit, notifications. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sipd/db.h>
#include <sipd/stats.h>

#include "internal.h"

#include "db_fixture.h"

static const struct sipd_db_migration v1[] = {
    {1, "CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER NOT NULL)"},
};
static const struct sipd_db_migration v2[] = {
    {1, "CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER NOT NULL)"},
    {2, "ALTER TABLE t ADD COLUMN note TEXT; CREATE INDEX t_v ON t(v)"},
};

DB_TEST(migrates_once_and_in_steps)
{
	open_db();
	cr_assert_eq(sipd_db_migrate("m", v1, 1), 0);
	cr_assert_eq(sipd_db_migrate("m", v1, 1), 0, "already there: nothing runs twice");
	cr_assert_eq(sipd_db_migrate("m", v2, 2), 0, "only step 2 runs");
}

DB_TEST(refuses_a_newer_schema)
{
	open_db();
	cr_assert_eq(sipd_db_migrate("m", v2, 2), 0);
	cr_assert_eq(sipd_db_migrate("m", v1, 1), EPROTO);
}

DB_TEST(a_bad_migration_rolls_back)
{
	static const struct sipd_db_migration bad[] = {
	    {1, "CREATE TABLE x(a INTEGER); CREATE TABLE x(a INTEGER)"},
	};

	open_db();
	cr_assert_eq(sipd_db_migrate("bad", bad, 1), EIO);
	/* The first statement of the failed step was undone with it. */
	cr_assert_eq(sipd_db_migrate("bad", v1, 1), 0);
}

Test(db, corrupt_file_is_refused_with_a_reason)
{
	char err[512] = "";
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	for (int i = 0; i < 512; i++)
		fputs("this is not a database ", f);
	fclose(f);
	cr_assert_neq(db_open(path, err, sizeof(err)), 0);
	cr_assert(strstr(err, "corrupt") != NULL, "message: %s", err);
}

Test(db, unusable_path_is_refused_with_a_reason)
{
	char err[512] = "", bad[160];

	snprintf(bad, sizeof(bad), "%s/missing-dir/t.db", dir);
	cr_assert_neq(db_open(bad, err, sizeof(err)), 0);
	cr_assert(strstr(err, "cannot be opened") != NULL, "message: %s", err);
}

Test(db, no_database_means_enodev)
{
	char err[64];
	struct sipd_db_stmt *s;

	cr_assert_eq(db_open("", err, sizeof(err)), 0);
	cr_assert_eq(sipd_db_prepare(&s, "SELECT 1"), ENODEV);
	cr_assert_eq(sipd_db_migrate("m", v1, 1), ENODEV);
}

static struct sipd_db_stmt *st_put, *st_get;

static int put(void *arg)
{
	int err = sipd_db_bind_str(st_put, 1, sipd_str_c(arg)) || sipd_db_bind_int(st_put, 2, 7);

	if (!err)
		err = sipd_db_step(st_put, NULL);
	sipd_db_reset(st_put);
	return err;
}

static int fail_after_put(void *arg)
{
	return put(arg) ? EIO : ECANCELED;
}

static int64_t get(const char *k)
{
	bool row;
	int64_t v = -1;

	cr_assert_eq(sipd_db_bind_str(st_get, 1, sipd_str_c(k)), 0);
	cr_assert_eq(sipd_db_step(st_get, &row), 0);
	if (row)
		v = sipd_db_column_int(st_get, 0);
	sipd_db_reset(st_get);
	return v;
}

static int check(void *arg)
{
	*(int64_t *)arg = get("kept");
	((int64_t *)arg)[1] = get("undone");
	return 0;
}

DB_TEST(transactions_commit_or_roll_back)
{
	int64_t seen[2];

	open_db();
	cr_assert_eq(sipd_db_migrate("m", v1, 1), 0);
	cr_assert_eq(sipd_db_prepare(&st_put, "INSERT INTO t(k, v) VALUES(?, ?)"), 0);
	cr_assert_eq(sipd_db_prepare(&st_get, "SELECT v FROM t WHERE k = ?"), 0);
	cr_assert_eq(sipd_db_transaction(put, "kept"), 0);
	cr_assert_eq(sipd_db_transaction(fail_after_put, "undone"), ECANCELED);
	cr_assert_eq(sipd_db_transaction(put, "kept"), EEXIST, "a constraint violation is EEXIST");
	cr_assert_eq(sipd_db_transaction(check, seen), 0);
	cr_assert_eq(seen[0], 7);
	cr_assert_eq(seen[1], -1);
}

struct tjob {
	struct sipd_db_job job;
	char key[16];
	int order;
	int err;
	bool fail;
};

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int completed;

static int tjob_run(struct sipd_db_job *j)
{
	struct tjob *t = (struct tjob *)j;

	if (put(t->key))
		return EIO;
	return t->fail ? ECANCELED : 0;
}

static void tjob_done(struct sipd_db_job *j, int err)
{
	struct tjob *t = (struct tjob *)j;

	pthread_mutex_lock(&done_lock);
	t->err = err;
	t->order = completed++;
	pthread_cond_signal(&done_cond);
	pthread_mutex_unlock(&done_lock);
}

DB_TEST(jobs_are_batched_ordered_and_undone_alone)
{
	static struct tjob jobs[200];
	int64_t b0;
	int64_t v[2];

	open_db();
	cr_assert_eq(sipd_db_migrate("m", v1, 1), 0);
	cr_assert_eq(sipd_db_prepare(&st_put, "INSERT INTO t(k, v) VALUES(?, ?)"), 0);
	cr_assert_eq(sipd_db_prepare(&st_get, "SELECT v FROM t WHERE k = ?"), 0);
	b0 = sipd_stat_read(sipd_stat_register("db", "batches", ""));
	completed = 0;
	for (int i = 0; i < 200; i++) {
		snprintf(jobs[i].key, sizeof(jobs[i].key), i == 100 ? "undone" : "k%d", i);
		jobs[i].fail = i == 100;
		jobs[i].job.run = tjob_run;
		jobs[i].job.done = tjob_done;
		cr_assert_eq(sipd_db_submit(&jobs[i].job), 0);
	}
	pthread_mutex_lock(&done_lock);
	while (completed < 200)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(jobs[i].order, i, "completed in submission order");
		cr_assert_eq(jobs[i].err, i == 100 ? ECANCELED : 0);
	}
	/* 200 writes took far fewer transactions than 200: that is the group commit. */
	cr_assert_lt(sipd_stat_read(sipd_stat_register("db", "batches", "")) - b0, 200);
	snprintf(jobs[0].key, sizeof(jobs[0].key), "k199");
	cr_assert_eq(sipd_db_transaction(check, v), 0);
	cr_assert_eq(v[1], -1, "the failed job's write was undone");
	cr_assert_eq(sipd_db_transaction(put, "k199"), EEXIST, "the others were committed");
}

DB_TEST(data_survives_a_reopen)
{
	int64_t seen[2];

	open_db();
	cr_assert_eq(sipd_db_migrate("m", v1, 1), 0);
	cr_assert_eq(sipd_db_prepare(&st_put, "INSERT INTO t(k, v) VALUES(?, ?)"), 0);
	cr_assert_eq(sipd_db_transaction(put, "kept"), 0);
	db_close();
	open_db();
	cr_assert_eq(sipd_db_migrate("m", v1, 1), 0);
	cr_assert_eq(sipd_db_prepare(&st_get, "SELECT v FROM t WHERE k = ?"), 0);
	cr_assert_eq(sipd_db_transaction(check, seen), 0);
	cr_assert_eq(seen[0], 7);
}

/* ---- notifications ---------------------------------------------------- */

static pthread_mutex_t note_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t note_cond = PTHREAD_COND_INITIALIZER;
static char notes[256];

static void on_note(void *arg, const char *channel, const char *payload)
{
	cr_assert_str_eq(arg, "ctx");
	cr_assert_str_eq(channel, "t_changes");
	pthread_mutex_lock(&note_lock);
	strncat(notes, payload, sizeof(notes) - strlen(notes) - 1);
	pthread_cond_broadcast(&note_cond);
	pthread_mutex_unlock(&note_lock);
}

static int notify_ok(void *arg)
{
	return sipd_db_notify("t_changes", arg);
}

static int notify_then_fail(void *arg)
{
	cr_assert_eq(sipd_db_notify("t_changes", arg), 0);
	return ECANCELED;
}

static int njob_run(struct sipd_db_job *j)
{
	struct tjob *t = (struct tjob *)j;

	cr_assert_eq(sipd_db_notify("t_changes", t->key), 0);
	return t->fail ? ECANCELED : 0;
}

/* Waits until notes holds want (or 5 s), then checks it is exactly that. */
static void expect_notes(const char *want)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&note_lock);
	while (strlen(notes) < strlen(want) && pthread_cond_timedwait(&note_cond, &note_lock, &until) == 0)
		;
	pthread_mutex_unlock(&note_lock);
	usleep(300 * 1000); /* anything wrongly delivered would come now */
	pthread_mutex_lock(&note_lock);
	cr_assert_str_eq(notes, want);
	pthread_mutex_unlock(&note_lock);
}

DB_TEST(notifications_are_delivered_after_commit_only)
{
	static struct tjob jobs[2];

	open_db();
	notes[0] = '\0';
	cr_assert_eq(sipd_db_listen("t_changes", on_note, "ctx"), 0);
	cr_assert_eq(sipd_db_notify("", "x"), EINVAL);
	cr_assert_eq(sipd_db_transaction(notify_ok, "a"), 0);
	cr_assert_eq(sipd_db_transaction(notify_then_fail, "b"), ECANCELED);
	completed = 0;
	for (int i = 0; i < 2; i++) {
		snprintf(jobs[i].key, sizeof(jobs[i].key), i ? "d" : "c");
		jobs[i].fail = i == 1;
		jobs[i].job.run = njob_run;
		jobs[i].job.done = tjob_done;
		cr_assert_eq(sipd_db_submit(&jobs[i].job), 0);
	}
	expect_notes("ac");
}

/* ---- PostgreSQL only -------------------------------------------------- */

Test(db_pg, an_unreachable_server_is_refused_with_a_reason)
{
	char err[512] = "";

	/* Port 1 on loopback: nothing listens there. */
	cr_assert_neq(db_open("host=127.0.0.1 port=1 dbname=x connect_timeout=2", err, sizeof(err)), 0);
	cr_assert(strstr(err, "cannot connect to the PostgreSQL database") != NULL, "message: %s", err);
	cr_assert(!sipd_db_available());
}

static struct sipd_db_stmt *st_big_put, *st_big_get;

static int big_roundtrip(void *arg)
{
	bool row;
	int err;

	(void)arg;
	if ((err = sipd_db_bind_str(st_big_put, 1, sipd_str_c("it's ? here")) ||
		   sipd_db_bind_int(st_big_put, 2, INT64_C(5000000000)) || sipd_db_step(st_big_put, NULL)))
		return err;
	sipd_db_reset(st_big_put);
	cr_assert_eq(sipd_db_bind_int(st_big_get, 1, INT64_C(5000000000)), 0);
	cr_assert_eq(sipd_db_step(st_big_get, &row), 0);
	cr_assert(row);
	cr_assert_eq(sipd_db_column_str(st_big_get, 0).len, strlen("it's ? here"));
	cr_assert_eq(strncmp(sipd_db_column_str(st_big_get, 0).p, "it's ? here", 11), 0);
	cr_assert(sipd_db_column_null(st_big_get, 1));
	cr_assert_eq(sipd_db_step(st_big_get, &row), 0);
	cr_assert(!row, "one row only");
	sipd_db_reset(st_big_get);
	return 0;
}

Test(db_pg, big_integers_quotes_and_question_marks_survive)
{
	static const struct sipd_db_migration m[] = {
	    {1, "CREATE TABLE b(k TEXT NOT NULL, v BIGINT NOT NULL, note TEXT)"},
	};

	open_db();
	cr_assert_eq(sipd_db_migrate("b", m, 1), 0);
	cr_assert_eq(sipd_db_prepare(&st_big_put, "INSERT INTO b(k, v) VALUES(?, ?)"), 0);
	cr_assert_eq(sipd_db_prepare(&st_big_get, "SELECT k, note FROM b WHERE v = ? AND k <> 'why?'"), 0);
	cr_assert_eq(sipd_db_transaction(big_roundtrip, NULL), 0);
	cr_assert_str_eq(sipd_db_engine(), "postgresql");
}

Test(db_pg, a_lost_connection_is_made_again_and_statements_prepared_again)
{
	static struct tjob jobs[1];
	char sql[256];
	int64_t seen[2];

	open_db();
	cr_assert_eq(sipd_db_migrate("m", v1, 1), 0);
	cr_assert_eq(sipd_db_prepare(&st_put, "INSERT INTO t(k, v) VALUES(?, ?)"), 0);
	cr_assert_eq(sipd_db_prepare(&st_get, "SELECT v FROM t WHERE k = ?"), 0);
	/* The server ends our session, as a restart or a network cut would. */
	snprintf(sql, sizeof(sql),
		 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> "
		 "pg_backend_pid()",
		 pg_db);
	pg_admin(sql);
	completed = 0;
	snprintf(jobs[0].key, sizeof(jobs[0].key), "kept");
	jobs[0].job.run = tjob_run;
	jobs[0].job.done = tjob_done;
	cr_assert_eq(sipd_db_submit(&jobs[0].job), 0);
	pthread_mutex_lock(&done_lock);
	while (completed < 1)
		pthread_cond_wait(&done_cond, &done_lock);
	pthread_mutex_unlock(&done_lock);
	cr_assert_eq(jobs[0].err, 0, "the DB thread connected again: %s", strerror(jobs[0].err));
	cr_assert(sipd_db_available());
	cr_assert_eq(sipd_db_transaction(check, seen), 0);
	cr_assert_eq(seen[0], 7);
}
