/* Received messages cross from civetweb's threads to a worker loop, which runs SIP for them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "ws.h"

/* Messages of one connection a worker may have queued before its reader waits (back-pressure). */
#define MAX_PENDING 64

struct rx_job {
	struct rx_job *next, *prev; /* in flight (under jobs_lock) */
	struct ws_conn *c;
	uint64_t time_ms;
	size_t len;
	char data[];
};

/*
 * Jobs posted and not yet run. The core stops the loops before the modules,
 * so at stop whatever is still here will never run: ws_rx_stop frees it.
 */
static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rx_job *jobs;
static bool stopping;

static void unlink_job(struct rx_job *j)
{
	pthread_mutex_lock(&jobs_lock);
	if (j->prev)
		j->prev->next = j->next;
	else
		jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	pthread_mutex_unlock(&jobs_lock);
}

/* Only CR and LF: a keep-alive some clients send, not a SIP message (RFC 5626 4.4.1 style). */
static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

static void rx_run(void *arg)
{
	struct rx_job *j = arg;
	struct ws_conn *c = j->c;
	struct sipd_rcvinfo ri;

	unlink_job(j);
	ri = (struct sipd_rcvinfo){
	    .proto = c->proto,
	    .src = c->peer,
	    .listen = c->listen,
	    .conn_id = c->id,
	    .time_ms = j->time_ms,
	};

	sipd_receive(&ri, j->data, j->len);
	pthread_mutex_lock(&c->lock);
	if (c->pending-- == MAX_PENDING)
		pthread_cond_signal(&c->drained);
	pthread_mutex_unlock(&c->lock);
	ws_conn_unref(c);
	free(j);
}

static void wake(struct ws_conn *c, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->drained);
	pthread_mutex_unlock(&c->lock);
}

void ws_rx_stop(void)
{
	/* A reader waiting for room must not hold up civetweb's shutdown. */
	__atomic_store_n(&stopping, true, __ATOMIC_RELEASE);
	ws_conn_foreach(wake, NULL);
}

void ws_rx_discard(void)
{
	pthread_mutex_lock(&jobs_lock);
	while (jobs) {
		struct rx_job *j = jobs;

		jobs = j->next;
		ws_conn_unref(j->c);
		free(j);
	}
	pthread_mutex_unlock(&jobs_lock);
	__atomic_store_n(&stopping, false, __ATOMIC_RELEASE);
}

int ws_rx_post(struct ws_conn *c, const char *buf, size_t len)
{
	struct rx_job *j;
	int err;

	if (blank(buf, len))
		return 0;
	if (!(j = malloc(sizeof(*j) + len)))
		return ENOMEM;
	j->c = c;
	j->time_ms = sipd_now_ms();
	j->len = len;
	memcpy(j->data, buf, len);
	pthread_mutex_lock(&c->lock);
	while (c->pending >= MAX_PENDING && !__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
		pthread_cond_wait(&c->drained, &c->lock);
	c->pending++;
	pthread_mutex_unlock(&c->lock);
	ws_conn_ref(c);
	pthread_mutex_lock(&jobs_lock);
	j->prev = NULL;
	j->next = jobs;
	if (jobs)
		jobs->prev = j;
	jobs = j;
	pthread_mutex_unlock(&jobs_lock);
	if ((err = sipd_loop_post(c->loop, rx_run, j))) {
		unlink_job(j);
		pthread_mutex_lock(&c->lock);
		c->pending--;
		pthread_mutex_unlock(&c->lock);
		ws_conn_unref(c);
		free(j);
		return err;
	}
	__atomic_add_fetch(&c->rx_msgs, 1, __ATOMIC_RELAXED);
	sipd_stat_inc(ws_stats.rx_messages);
	return 0;
}
