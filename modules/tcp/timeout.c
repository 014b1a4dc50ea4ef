/* The one timer of a connection: connect, read (slow-loris), write and idle timeouts. */
#include <errno.h>
#include <stdio.h>

#include "tcp.h"

#define NEVER UINT64_MAX

static uint64_t secs(int s)
{
	return (uint64_t)s * 1000;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The write side, which other threads change under the lock. */
struct wstate {
	size_t queued;
	uint64_t progress_ms;
};

static struct wstate write_state(struct tcp_conn *c)
{
	pthread_mutex_lock(&c->lock);
	struct wstate w = {c->wq.bytes, c->wprogress_ms};
	pthread_mutex_unlock(&c->lock);
	return w;
}

/* Nearest deadline of c given its state; the idle check of a kept connection just repeats. */
static uint64_t next_deadline(struct tcp_conn *c, uint64_t now, struct wstate w)
{
	uint64_t d = NEVER;

	if (c->state == TCP_ST_CONNECTING)
		d = earliest(d, c->created_ms + secs(tcp_cfg.connect_timeout));
	if (c->state == TCP_ST_HANDSHAKE && c->hs_start_ms && c->proto->layer->handshake_timeout_ms)
		d = earliest(d, c->hs_start_ms + c->proto->layer->handshake_timeout_ms);
	if (w.queued)
		d = earliest(d, w.progress_ms + secs(tcp_cfg.write_timeout));
	if (c->fr.started_ms)
		d = earliest(d, c->fr.started_ms + secs(tcp_cfg.read_timeout));
	if (tcp_cfg.idle_timeout > 0) {
		uint64_t idle = TCP_LOAD(c->kept) ? now : TCP_LOAD(c->active_ms);
		d = earliest(d, idle + secs(tcp_cfg.idle_timeout));
	}
	return d;
}

static void on_timer(void *arg)
{
	struct tcp_conn *c = arg;
	uint64_t now = sipd_now_ms();
	struct wstate w = write_state(c);

	c->timer_at = 0;
	if (c->state == TCP_ST_CLOSED)
		return;
	if (c->state == TCP_ST_CONNECTING && now >= c->created_ms + secs(tcp_cfg.connect_timeout)) {
		tcp_conn_close(c, c->st->closed_error, ETIMEDOUT, "connect timeout");
		return;
	}
	if (c->state == TCP_ST_HANDSHAKE && c->hs_start_ms && c->proto->layer->handshake_timeout_ms &&
	    now >= c->hs_start_ms + c->proto->layer->handshake_timeout_ms) {
		char why[80];
		if (c->st->handshake_failed)
			sipd_stat_inc(c->st->handshake_failed);
		snprintf(why, sizeof(why), "%s handshake not done within %u ms", c->proto->name,
			 c->proto->layer->handshake_timeout_ms);
		tcp_conn_close(c, c->st->closed_error, ETIMEDOUT, why);
		return;
	}
	if (w.queued && now >= w.progress_ms + secs(tcp_cfg.write_timeout)) {
		tcp_conn_close(c, c->st->closed_write_timeout, ETIMEDOUT, "write timeout (peer not reading)");
		return;
	}
	if (c->fr.started_ms && now >= c->fr.started_ms + secs(tcp_cfg.read_timeout)) {
		tcp_conn_close(c, c->st->closed_read_timeout, ETIMEDOUT, "read timeout (message incomplete)");
		return;
	}
	if (tcp_cfg.idle_timeout > 0 && !w.queued && !TCP_LOAD(c->kept) &&
	    now >= TCP_LOAD(c->active_ms) + secs(tcp_cfg.idle_timeout)) {
		tcp_conn_close(c, c->st->closed_idle, 0, "idle");
		return;
	}
	tcp_timer_update(c);
}

void tcp_timer_init(struct tcp_conn *c)
{
	sipd_timer_init(&c->timer, on_timer, c);
	c->timer_at = 0;
}

void tcp_timer_update(struct tcp_conn *c)
{
	if (c->state == TCP_ST_CLOSED)
		return;
	uint64_t now = sipd_now_ms();
	uint64_t d = next_deadline(c, now, write_state(c));
	/* An earlier pending expiry is fine: on_timer recomputes. Re-arm only to fire sooner. */
	if (d == NEVER || (c->timer_at && c->timer_at <= d))
		return;
	sipd_timer_start(&c->timer, c->loop, d > now ? d - now : 0);
	c->timer_at = d;
}

void tcp_timer_stop(struct tcp_conn *c)
{
	sipd_timer_stop(&c->timer);
	c->timer_at = 0;
}
