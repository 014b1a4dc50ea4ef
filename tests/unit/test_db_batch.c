/* Group commit on both engines: a failing job in a batch undone alone, a lone job, notifications joined per
 * transaction and split again, reads outside a transaction. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sipd/db.h>
#include <sipd/stats.h>

#include "db_fixture.h"

static const struct sipd_db_migration schema[] = {
    {1, "CREATE TABLE t(k TEXT PRIMARY KEY, v INTEGER NOT NULL)"},
};

static struct sipd_db_stmt *st_put, *st_get;

static void open_schema(void)
{
	open_db();
	cr_assert_eq(sipd_db_migrate("m", schema, 1), 0);
	cr_assert_eq(sipd_db_prepare(&st_put, "INSERT INTO t(k, v) VALUES(?, ?)"), 0);
	cr_assert_eq(sipd_db_prepare(&st_get, "SELECT v FROM t WHERE k = ?"), 0);
}

static int put(const char *k, int64_t v)
{
	int err = sipd_db_bind_str(st_put, 1, sipd_str_c(k)) || sipd_db_bind_int(st_put, 2, v) ? ENOMEM : 0;

	if (!err)
		err = sipd_db_step(st_put, NULL);
	sipd_db_reset(st_put);
	return err;
}

struct get {
	const char *k;
	int64_t v; /* -1: no row */
};

static int get(void *arg)
{
	struct get *g = arg;
	bool row;
	int err;

	g->v = -1;
	if ((err = sipd_db_bind_str(st_get, 1, sipd_str_c(g->k))) == 0 &&
	    (err = sipd_db_step(st_get, &row)) == 0 && row)
		g->v = sipd_db_column_int(st_get, 0);
	sipd_db_reset(st_get);
	return err;
}

static int put_dup(void *arg)
{
	(void)arg;
	return put("dup", 7);
}

static int put_r(void *arg)
{
	(void)arg;
	return put("r", 1);
}

/* The value of k as committed (a read outside any transaction), -1 when there is no row. */
static int64_t value(const char *k)
{
	struct get g = {.k = k};

	cr_assert_eq(sipd_db_read(get, &g), 0);
	return g.v;
}

/* ---- jobs held back until all are queued, so that they run as one batch ---- */

struct job {
	struct sipd_db_job job;
	const char *key;  /* written with value 1 unless NULL */
	const char *note; /* raised on t_batch before the write unless NULL */
	int result;       /* returned by run after the write */
	bool gate;        /* waits until the test opens the gate */
	int err;
	bool done;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_reached;
static int completed;

static int job_run(struct sipd_db_job *j)
{
	struct job *t = (struct job *)j;
	int err;

	if (t->gate) {
		pthread_mutex_lock(&lock);
		gate_reached = true;
		pthread_cond_broadcast(&cond);
		while (!gate_open)
			pthread_cond_wait(&cond, &lock);
		pthread_mutex_unlock(&lock);
	}
	if (t->note)
		cr_assert_eq(sipd_db_notify("t_batch", t->note), 0);
	if (t->key && (err = put(t->key, 1)) != 0)
		return err;
	return t->result;
}

static void job_done(struct sipd_db_job *j, int err)
{
	struct job *t = (struct job *)j;

	pthread_mutex_lock(&lock);
	t->err = err;
	t->done = true;
	completed++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Submits jobs[0..n-1] behind a gated first job, so jobs[] run together in the next batch; waits for all. */
static void run_together(struct job *jobs, int n)
{
	static struct job first;

	first = (struct job){.job = {.run = job_run, .done = job_done}, .gate = true};
	gate_open = gate_reached = false;
	completed = 0;
	cr_assert_eq(sipd_db_submit(&first.job), 0);
	/* The DB thread runs the gated job's batch: the others queue behind it. */
	pthread_mutex_lock(&lock);
	while (!gate_reached)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < n; i++) {
		jobs[i].job.run = job_run;
		jobs[i].job.done = job_done;
		cr_assert_eq(sipd_db_submit(&jobs[i].job), 0);
	}
	pthread_mutex_lock(&lock);
	gate_open = true;
	pthread_cond_broadcast(&cond);
	while (completed < n + 1)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	cr_assert_eq(first.err, 0);
}

/* ---- notifications, as they arrive ---- */

static char got[32768];
static unsigned deliveries, payloads_seen;

static void on_many(void *arg, const char *channel, const char *const *payloads, unsigned n)
{
	cr_assert_str_eq(arg, "many");
	cr_assert_str_eq(channel, "t_batch");
	pthread_mutex_lock(&lock);
	deliveries++;
	for (unsigned i = 0; i < n; i++) {
		strncat(got, payloads[i], sizeof(got) - strlen(got) - 2);
		strcat(got, ",");
	}
	payloads_seen += n;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
}

/* Waits until count payloads arrived (or 5 s), then a little longer for any that should not come. */
static void wait_payloads(unsigned count)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&lock);
	while (payloads_seen < count && pthread_cond_timedwait(&cond, &lock, &until) == 0)
		;
	pthread_mutex_unlock(&lock);
	usleep(300 * 1000);
}

DB_TEST(a_failing_job_in_a_batch_is_undone_alone)
{
	struct job jobs[] = {
	    {.key = "a", .note = "a"},
	    {.key = "dup", .note = "dup"},               /* constraint: undone, its note with it */
	    {.key = "b", .note = "b"},                   /* after the failure: kept */
	    {.note = "x", .result = ECANCELED},          /* no statement, fails: nothing sent for it */
	    {.key = "gone", .note = "y", .result = EIO}, /* wrote, then failed: undone */
	    {.note = "c"},                               /* no statement, succeeds */
	    {.key = "d"},
	};
	int n = sizeof(jobs) / sizeof(jobs[0]);
	int64_t b0;

	open_schema();
	got[0] = '\0';
	deliveries = payloads_seen = 0;
	cr_assert_eq(sipd_db_listen_many("t_batch", on_many, "many"), 0);
	cr_assert_eq(sipd_db_transaction(put_dup, NULL), 0);
	b0 = sipd_stat_read(sipd_stat_register("db", "batches", ""));
	run_together(jobs, n);
	cr_assert_eq(sipd_stat_read(sipd_stat_register("db", "batches", "")) - b0, 2,
		     "the gated job, then one batch");
	cr_assert_eq(jobs[0].err, 0);
	cr_assert_eq(jobs[1].err, EEXIST);
	cr_assert_eq(jobs[2].err, 0);
	cr_assert_eq(jobs[3].err, ECANCELED);
	cr_assert_eq(jobs[4].err, EIO);
	cr_assert_eq(jobs[5].err, 0);
	cr_assert_eq(jobs[6].err, 0);
	cr_assert_eq(value("a"), 1);
	cr_assert_eq(value("b"), 1);
	cr_assert_eq(value("d"), 1);
	cr_assert_eq(value("dup"), 7, "the row that was there stays as it was");
	cr_assert_eq(value("gone"), -1, "the write of a job that failed afterwards is undone");
	wait_payloads(3);
	cr_assert_str_eq(got, "a,b,c,", "the failed jobs' notifications are dropped");
	cr_assert_eq(deliveries, 1, "one transaction's notifications arrive together");
}

DB_TEST(a_lone_failing_job_leaves_nothing)
{
	struct job fail[] = {{.key = "solo", .note = "solo", .result = ECANCELED}};
	struct job dup[] = {{.key = "dup"}};
	struct job ok[] = {{.key = "next", .note = "next"}};

	open_schema();
	got[0] = '\0';
	deliveries = payloads_seen = 0;
	cr_assert_eq(sipd_db_listen_many("t_batch", on_many, "many"), 0);
	cr_assert_eq(sipd_db_transaction(put_dup, NULL), 0);
	run_together(fail, 1);
	cr_assert_eq(fail[0].err, ECANCELED);
	run_together(dup, 1);
	cr_assert_eq(dup[0].err, EEXIST);
	run_together(ok, 1);
	cr_assert_eq(ok[0].err, 0, "the connection is usable after a lone job's rollback");
	cr_assert_eq(value("solo"), -1);
	cr_assert_eq(value("next"), 1);
	wait_payloads(1);
	cr_assert_str_eq(got, "next,");
}

/* Six payloads of 3000 bytes, distinct (identical ones in one transaction may arrive once). */
static int notify_many(void *arg)
{
	char *big = arg;

	for (int i = 0; i < 6; i++) {
		int err;

		big[0] = (char)('0' + i);
		if ((err = sipd_db_notify("t_batch", big)) != 0)
			return err;
	}
	return 0;
}

DB_TEST(long_payloads_of_one_transaction_arrive_whole)
{
	static char big[3001], want[sizeof(got)];

	open_schema();
	got[0] = want[0] = '\0';
	deliveries = payloads_seen = 0;
	memset(big, 'p', sizeof(big) - 1);
	cr_assert_eq(sipd_db_listen_many("t_batch", on_many, "many"), 0);
	cr_assert_eq(sipd_db_notify("t_batch", "a\x1e"
					       "b"),
		     EINVAL, "the separator is refused in a payload");
	cr_assert_eq(sipd_db_transaction(notify_many, big), 0);
	wait_payloads(6);
	for (int i = 0; i < 6; i++) {
		big[0] = (char)('0' + i);
		strcat(want, big);
		strcat(want, ",");
	}
	cr_assert_eq(payloads_seen, 6, "seen %u in %u deliveries", payloads_seen, deliveries);
	cr_assert_str_eq(got, want,
			 "6 payloads of 3000 bytes (three notifications' worth) come back as 6, in order");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Submits jobs[0..n-1] at once and waits until all are done. */
static void submit_and_wait(struct job *jobs, int n)
{
	completed = 0;
	for (int i = 0; i < n; i++) {
		jobs[i].job.run = job_run;
		jobs[i].job.done = job_done;
		cr_assert_eq(sipd_db_submit(&jobs[i].job), 0);
	}
	pthread_mutex_lock(&lock);
	while (completed < n)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < n; i++)
		cr_assert_eq(jobs[i].err, 0);
}

/*
 * core.db_commit_interval: an idle database commits a write at once; writes
 * that come within the interval of the last round wait for its end and share
 * one commit.
 */
DB_TEST(writes_within_the_commit_interval_share_one_commit)
{
	struct sipd_stat *batches = sipd_stat_register("db", "batches", NULL);
	struct job first[] = {{.key = "first"}};
	struct job later[] = {{.key = "l1"}, {.key = "l2"}, {.key = "l3"}};
	uint64_t t0, took;
	int64_t before;

	db_commit_interval_set(400);
	open_schema();
	t0 = now_ms();
	submit_and_wait(first, 1);
	cr_assert_lt(now_ms() - t0, 400, "an idle database commits at once");
	before = sipd_stat_read(batches);
	submit_and_wait(later, 3);
	took = now_ms() - t0;
	db_commit_interval_set(DB_COMMIT_INTERVAL_DEFAULT_MS);
	cr_assert_geq(took, 400, "the next round waits for the interval: done after %llu ms",
		      (unsigned long long)took);
	cr_assert_eq(sipd_stat_read(batches) - before, 1, "the three writes share one commit");
	cr_assert_eq(value("l1"), 1);
	cr_assert_eq(value("l3"), 1);
}

DB_TEST(a_read_sees_what_was_committed)
{
	open_schema();
	cr_assert_eq(value("r"), -1);
	cr_assert_eq(sipd_db_transaction(put_r, NULL), 0);
	cr_assert_eq(value("r"), 1);
}

Test(db_pg, a_read_survives_a_lost_connection)
{
	char sql[256];

	open_schema();
	cr_assert_eq(sipd_db_transaction(put_r, NULL), 0);
	/* The server ends our session, as a restart or a network cut would. */
	snprintf(sql, sizeof(sql),
		 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s' AND pid <> "
		 "pg_backend_pid()",
		 pg_db);
	pg_admin(sql);
	usleep(50 * 1000);
	cr_assert_eq(value("r"), 1, "read on a new connection");
}
