/* The DB helper thread: a job queue run in batches, one transaction per batch (group commit). */
/* pthread_setname_np is a GNU extension. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/loop.h>
#include <sipd/stats.h>

#include "db_backend.h"
#include "db_priv.h"
#include "internal.h"

/* While a server engine is down: how often the DB thread tries again, and polls for notifications. */
#define RECONNECT_EVERY_MS 1000
#define POLL_EVERY_MS      100
/* This node's heartbeat in the nodes table (node.c); idle SQLite wakes this often too. */
#define HEARTBEAT_EVERY_MS 2000
/*
 * Group commit under load: a round starts at least commit_interval_ms after
 * the previous one began (core.db_commit_interval), so the writes that came
 * meanwhile share its commit (one fsync, each index page written once). An
 * idle database commits a write at once; under load a 200 OK waits this much
 * longer at most.
 */
static unsigned commit_interval_ms = DB_COMMIT_INTERVAL_DEFAULT_MS;

static pthread_t thread;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qwake = PTHREAD_COND_INITIALIZER; /* jobs queued or stop asked */
static pthread_cond_t qidle = PTHREAD_COND_INITIALIZER; /* queue empty and no batch running */
static struct sipd_db_job *head, *tail;
static bool started, stopping, busy, wake_asked;
/*
 * Set by the drain at shutdown: the worker loops stop next, so a job taken
 * now would post its completion to a loop that no longer runs it (and its
 * owner's memory would be lost). Later submissions get ESHUTDOWN.
 */
static bool closing;
/* Set once the worker loops are gone: completions then run on the DB thread itself. */
static atomic_bool complete_here;
static atomic_uint pending;
/* False while a server engine is unreachable: submit then fails at once. */
static atomic_bool available = true;
static uint64_t last_attempt_ms, last_beat_ms, last_round_ms;
static struct sipd_stat *st_jobs, *st_batches, *st_failed, *st_unavailable, *st_reconnects;

bool db_thread_available(void)
{
	return atomic_load_explicit(&available, memory_order_relaxed);
}

bool sipd_db_available(void)
{
	return db_be && db_thread_available();
}

int sipd_db_submit(struct sipd_db_job *job)
{
	int err = 0;

	if (!job || !job->run || !job->done)
		return EINVAL;
	if (!db_be)
		return ENODEV;
	if (!db_thread_available()) {
		sipd_stat_inc(st_unavailable);
		return ENOTCONN;
	}
	job->next = NULL;
	job->err = 0;
	job->loop = sipd_loop_self();
	pthread_mutex_lock(&qlock);
	if (stopping || closing) {
		err = ESHUTDOWN;
	} else {
		if (tail)
			tail->next = job;
		else
			head = job;
		tail = job;
		atomic_fetch_add_explicit(&pending, 1, memory_order_relaxed);
		pthread_cond_signal(&qwake);
	}
	pthread_mutex_unlock(&qlock);
	return err;
}

static void complete(void *arg)
{
	struct sipd_db_job *job = arg;

	atomic_fetch_sub_explicit(&pending, 1, memory_order_relaxed);
	job->done(job, job->err);
}

unsigned sipd_db_pending(void)
{
	return atomic_load_explicit(&pending, memory_order_relaxed);
}

/*
 * Runs job j inside the batch's transaction, undoing it alone through a
 * savepoint when it fails. A server engine sends the savepoint with the
 * job's first statement and the release with the next job's (or the
 * COMMIT), so they cost no round trip of their own.
 */
static void run_job(struct sipd_db_job *j)
{
	unsigned mark;

	if ((j->err = db_defer("SAVEPOINT job")) != 0)
		return;
	mark = db_notify_mark();
	j->err = j->run(j);
	if (j->err)
		db_notify_rollback_to(mark);
	/* A job that ran no statement left its savepoint unsent: nothing to undo or release. */
	if (db_cancel("SAVEPOINT job"))
		return;
	if (j->err)
		db_simple("ROLLBACK TO job");
	db_defer("RELEASE job");
}

/* One transaction for the whole batch (group commit); a batch of one job needs no savepoint. */
static void run_batch(struct sipd_db_job *batch)
{
	unsigned n = 0;
	int err;

	pthread_mutex_lock(&db_lock);
	err = db_defer(db_be->begin);
	if (err && db_be->connected && !db_be->connected()) {
		/* The server went away since the last batch: one attempt now, then fail fast. */
		err = db_be->reconnect() == 0 ? db_defer(db_be->begin) : ENOTCONN;
		atomic_store(&available, err != ENOTCONN);
		last_attempt_ms = sipd_now_ms();
	}
	for (struct sipd_db_job *j = batch; j; j = j->next) {
		n++;
		if (err)
			j->err = err;
		else if (batch->next)
			run_job(j);
		else
			j->err = j->run(j);
	}
	if (!err && !batch->next && batch->err) {
		/* The only job failed: nothing to keep. */
		db_simple("ROLLBACK");
		db_notify_discard();
	} else if (!err && (db_notify_send() != 0 || db_simple("COMMIT") != 0)) {
		db_simple("ROLLBACK");
		err = EIO;
	}
	if (err)
		db_notify_discard();
	else
		db_notify_committed();
	if (db_be->connected && !db_be->connected()) {
		if (err)
			err = ENOTCONN;
		atomic_store(&available, false);
		last_attempt_ms = sipd_now_ms();
	}
	pthread_mutex_unlock(&db_lock);
	if (err) {
		for (struct sipd_db_job *j = batch; j; j = j->next)
			j->err = err;
		SIPD_ERR("database: a batch of %u writes was not committed: %s", n, strerror(err));
	}
	sipd_stat_inc(st_batches);
	sipd_stat_add(st_jobs, n);
	while (batch) {
		struct sipd_db_job *next = batch->next;

		if (batch->err)
			sipd_stat_inc(st_failed);
		/* The job may be freed by done: read next first. */
		if (atomic_load(&complete_here) || !batch->loop ||
		    sipd_loop_post(batch->loop, complete, batch) != 0)
			complete(batch);
		batch = next;
	}
}

/*
 * Server engines: tries to reconnect once a second while down, and takes
 * the notifications that arrived. Runs on the DB thread without qlock.
 */
static void look_after_server(void)
{
	if (!db_be->connected)
		return;
	pthread_mutex_lock(&db_lock);
	if (!db_be->connected() && sipd_now_ms() - last_attempt_ms >= RECONNECT_EVERY_MS) {
		last_attempt_ms = sipd_now_ms();
		sipd_stat_inc(st_reconnects);
		atomic_store(&available, db_be->reconnect() == 0);
	} else if (db_be->connected() && !db_thread_available()) {
		atomic_store(&available, true);
	}
	db_be->poll();
	pthread_mutex_unlock(&db_lock);
}

static void heartbeat_when_due(void)
{
	uint64_t now = sipd_now_ms();

	if (now - last_beat_ms < HEARTBEAT_EVERY_MS || !db_thread_available())
		return;
	last_beat_ms = now;
	node_heartbeat();
}

static void wait_for_work(void)
{
	struct timespec until;
	long ms = db_be->connected ? POLL_EVERY_MS : HEARTBEAT_EVERY_MS;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&qwake, &qlock, &until);
}

void db_commit_interval_set(unsigned ms)
{
	commit_interval_ms = ms;
}

void db_thread_wake(void)
{
	pthread_mutex_lock(&qlock);
	wake_asked = true;
	pthread_cond_signal(&qwake);
	pthread_mutex_unlock(&qlock);
}

/* Called with qlock held and jobs queued; returns with it held. */
static void gather(void)
{
	uint64_t now = sipd_now_ms(), until = last_round_ms + commit_interval_ms;
	struct timespec ts;

	if (now >= until || stopping)
		return;
	ts.tv_sec = (time_t)((until - now) / 1000);
	ts.tv_nsec = (long)((until - now) % 1000) * 1000000L;
	/* A sleep, not a wait on qwake: every submit would wake a waiter again. */
	pthread_mutex_unlock(&qlock);
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&qlock);
}

static void *db_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&qlock);
	for (;;) {
		struct sipd_db_job *batch;

		while (!head && !stopping) {
			busy = false;
			pthread_cond_broadcast(&qidle);
			if (!wake_asked)
				wait_for_work();
			wake_asked = false;
			pthread_mutex_unlock(&qlock);
			look_after_server();
			heartbeat_when_due();
			db_notify_run_arrived();
			pthread_mutex_lock(&qlock);
		}
		if (!head)
			break;
		gather();
		last_round_ms = sipd_now_ms();
		batch = head;
		head = tail = NULL;
		busy = true;
		pthread_mutex_unlock(&qlock);
		run_batch(batch);
		look_after_server();
		heartbeat_when_due();
		db_notify_run_arrived();
		pthread_mutex_lock(&qlock);
	}
	busy = false;
	pthread_cond_broadcast(&qidle);
	pthread_mutex_unlock(&qlock);
	return NULL;
}

int db_thread_start(void)
{
	int err;

	st_jobs = sipd_stat_register("db", "jobs", "database writes run by the DB thread");
	st_batches = sipd_stat_register("db", "batches", "transactions (group commits) of the DB thread");
	st_failed = sipd_stat_register("db", "failed_jobs", "database writes that failed");
	st_unavailable = sipd_stat_register(
	    "db", "refused_unavailable", "writes refused at once while the database server was unreachable");
	st_reconnects =
	    sipd_stat_register("db", "reconnect_attempts", "attempts to reach the database server again");
	if (!st_jobs || !st_batches || !st_failed || !st_unavailable || !st_reconnects)
		return ENOMEM;
	atomic_store(&available, true);
	stopping = false;
	closing = false;
	atomic_store(&complete_here, false);
	if ((err = pthread_create(&thread, NULL, db_main, NULL)) != 0)
		return err;
	/* Named for top and per-thread CPU figures (tests/bench/register_cpu.sh). */
	pthread_setname_np(thread, "sipd-db");
	started = true;
	return 0;
}

void db_thread_drain(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&qlock);
	closing = true;
	while ((head || busy) && started)
		if (pthread_cond_timedwait(&qidle, &qlock, &until) == ETIMEDOUT) {
			SIPD_WARN("database: writes still queued after 10 s at shutdown");
			break;
		}
	pthread_mutex_unlock(&qlock);
}

void db_thread_stop(void)
{
	if (!started)
		return;
	pthread_mutex_lock(&qlock);
	stopping = true;
	atomic_store(&complete_here, true);
	pthread_cond_signal(&qwake);
	pthread_mutex_unlock(&qlock);
	pthread_join(thread, NULL);
	started = false;
}
