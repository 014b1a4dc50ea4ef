/* Player calls: the dialog table, references, timers, and the one teardown every ending goes through. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "rtc_player.h"

#define BUCKETS 1024

static struct {
	pthread_mutex_t lock;
	struct rp_call *bucket[BUCKETS];
	unsigned count;
} table = {.lock = PTHREAD_MUTEX_INITIALIZER};

static unsigned hash(struct sipd_str s)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < s.len; i++)
		h = (h ^ (uint8_t)s.p[i]) * 16777619u;
	return h % BUCKETS;
}

void rp_call_ref(struct rp_call *c)
{
	atomic_fetch_add(&c->refs, 1);
}

void rp_call_unref(struct rp_call *c)
{
	if (!c || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	if (c->invite)
		rp_tm->release(c->invite);
	if (c->media)
		rtc_media_session_destroy(c->media);
	pthread_mutex_destroy(&c->lock);
	free(c->call_id);
	free(c->local_tag);
	free(c->remote_tag);
	free(c->user);
	free(c->caller);
	free(c->local_hdr);
	free(c->remote_hdr);
	free(c->remote_target);
	free(c->route_set);
	free(c->contact);
	free(c->answer);
	free(c);
}

void rp_call_link(struct rp_call *c)
{
	unsigned b = hash(sipd_str_c(c->call_id));

	rp_call_ref(c);
	pthread_mutex_lock(&table.lock);
	c->next = table.bucket[b];
	table.bucket[b] = c;
	table.count++;
	pthread_mutex_unlock(&table.lock);
}

/* Unlinks c; returns true if it was linked (the caller then owns the table's reference). */
static bool unlink_call(struct rp_call *c)
{
	unsigned b = hash(sipd_str_c(c->call_id));
	bool found = false;

	pthread_mutex_lock(&table.lock);
	for (struct rp_call **p = &table.bucket[b]; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			table.count--;
			found = true;
			break;
		}
	pthread_mutex_unlock(&table.lock);
	return found;
}

struct rp_call *rp_call_find(struct sipd_str call_id, struct sipd_str from_tag, struct sipd_str to_tag)
{
	struct rp_call *found = NULL;

	pthread_mutex_lock(&table.lock);
	for (struct rp_call *c = table.bucket[hash(call_id)]; c; c = c->next)
		if (sipd_str_eq(call_id, sipd_str_c(c->call_id)) &&
		    sipd_str_eq(from_tag, sipd_str_c(c->remote_tag)) &&
		    (!to_tag.len || sipd_str_eq(to_tag, sipd_str_c(c->local_tag)))) {
			found = c;
			rp_call_ref(c);
			break;
		}
	pthread_mutex_unlock(&table.lock);
	return found;
}

/* A pending timer holds a reference: its callback drops it (or the stop that disarmed it does). */
void rp_call_timer(struct rp_call *c, struct sipd_timer *t, bool *on, uint64_t ms)
{
	if (*on && sipd_timer_stop(t))
		rp_call_unref(c);
	rp_call_ref(c);
	*on = true;
	sipd_timer_start(t, c->loop, ms);
}

void rp_call_timer_stop(struct rp_call *c, struct sipd_timer *t, bool *on)
{
	if (*on && sipd_timer_stop(t)) {
		*on = false;
		/* The lock is held: the reference dropped here is never the last (the caller holds one). */
		rp_call_unref(c);
	}
}

void rp_call_end(struct rp_call *c, const char *reason, bool send_bye)
{
	struct rtc_media_session *media;
	bool answered;

	pthread_mutex_lock(&c->lock);
	if (c->state == RP_ENDED) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	answered = c->state != RP_RINGING;
	c->state = RP_ENDED;
	c->end_reason = reason;
	rp_call_timer_stop(c, &c->ring, &c->ring_on);
	rp_call_timer_stop(c, &c->retr, &c->retr_on);
	rp_call_timer_stop(c, &c->session, &c->session_on);
	media = c->media;
	c->media = NULL;
	pthread_mutex_unlock(&c->lock);
	if (media)
		rtc_media_session_destroy(media);
	if (send_bye && answered && rp_send_bye(c))
		SIPD_WARN("call %s: BYE not sent", c->call_id);
	SIPD_INFO("call %s to %s ended: %s", c->call_id, c->user, reason);
	rp_event_call(c, false);
	if (unlink_call(c))
		rp_call_unref(c);
}

void rp_calls_foreach(void (*fn)(struct rp_call *c, void *arg), void *arg)
{
	pthread_mutex_lock(&table.lock);
	for (unsigned i = 0; i < BUCKETS; i++)
		for (struct rp_call *c = table.bucket[i]; c; c = c->next)
			fn(c, arg);
	pthread_mutex_unlock(&table.lock);
}

unsigned rp_calls_count(void)
{
	unsigned n;

	pthread_mutex_lock(&table.lock);
	n = table.count;
	pthread_mutex_unlock(&table.lock);
	return n;
}

/* At stop the workers are gone: no BYE can be sent, media stops and every call goes. */
void rp_calls_shutdown(void)
{
	for (;;) {
		struct rp_call *c = NULL;

		pthread_mutex_lock(&table.lock);
		for (unsigned i = 0; i < BUCKETS && !c; i++)
			if ((c = table.bucket[i]))
				rp_call_ref(c);
		pthread_mutex_unlock(&table.lock);
		if (!c)
			break;
		rp_call_end(c, "shutdown", false);
		rp_call_unref(c);
	}
}
