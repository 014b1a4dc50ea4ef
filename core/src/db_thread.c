/* The DB helper thread: a job queue run in batches, one transaction per batch (group commit). */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/loop.h>
#include <sipd/stats.h>

#include "db_priv.h"

static pthread_t thread;
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qwake = PTHREAD_COND_INITIALIZER; /* jobs queued or stop asked */
static pthread_cond_t qidle = PTHREAD_COND_INITIALIZER; /* queue empty and no batch running */
static struct sipd_db_job *head, *tail;
static bool started, stopping, busy;
/* Set once the worker loops are gone: completions then run on the DB thread itself. */
static atomic_bool complete_here;
static atomic_uint pending;
static struct sipd_stat *st_jobs, *st_batches, *st_failed;

int sipd_db_submit(struct sipd_db_job *job)
{
	int err = 0;

	if (!job || !job->run || !job->done)
		return EINVAL;
	if (!db_conn)
		return ENODEV;
	job->next = NULL;
	job->err = 0;
	job->loop = sipd_loop_self();
	pthread_mutex_lock(&qlock);
	if (stopping) {
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

/* One transaction for the whole batch; a failing job is undone alone through its savepoint. */
static void run_batch(struct sipd_db_job *batch)
{
	unsigned n = 0;
	int err;

	pthread_mutex_lock(&db_lock);
	err = db_simple("BEGIN IMMEDIATE");
	for (struct sipd_db_job *j = batch; j; j = j->next) {
		n++;
		if (err) {
			j->err = err;
			continue;
		}
		if ((j->err = db_simple("SAVEPOINT job")) != 0)
			continue;
		j->err = j->run(j);
		if (j->err)
			db_simple("ROLLBACK TO job");
		db_simple("RELEASE job");
	}
	if (!err && db_simple("COMMIT") != 0) {
		db_simple("ROLLBACK");
		err = EIO;
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

static void *db_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&qlock);
	for (;;) {
		struct sipd_db_job *batch;

		while (!head && !stopping) {
			busy = false;
			pthread_cond_broadcast(&qidle);
			pthread_cond_wait(&qwake, &qlock);
		}
		if (!head)
			break;
		batch = head;
		head = tail = NULL;
		busy = true;
		pthread_mutex_unlock(&qlock);
		run_batch(batch);
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
	if (!st_jobs || !st_batches || !st_failed)
		return ENOMEM;
	stopping = false;
	atomic_store(&complete_here, false);
	if ((err = pthread_create(&thread, NULL, db_main, NULL)) != 0)
		return err;
	started = true;
	return 0;
}

void db_thread_drain(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&qlock);
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
