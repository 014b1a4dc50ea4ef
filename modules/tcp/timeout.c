/* The one timer of a connection: connect, handshake, read (slow-loris), write and idle timeouts, and a
 * framer's keep-alives. */
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

/* A framer that pings: silence is counted from the peer's last byte, and a kept connection is no exception.
 */
static bool pinging(const struct tcp_conn *c)
{
	return c->proto->framer && c->proto->framer->keepalive_ms;
}

static uint64_t idle_since(struct tcp_conn *c, uint64_t now)
{
	if (pinging(c))
		return c->rx_ms;
	return TCP_LOAD(c->kept) ? now : TCP_LOAD(c->active_ms);
}

/* The framer's handshake deadline (0: none running). */
static uint64_t framer_handshake_end(const struct tcp_conn *c)
{
	const struct stream_framer *fr = c->proto->framer;

	if (!fr || !fr->handshake_timeout_ms || TCP_LOAD(c->ready) || c->state != TCP_ST_OPEN)
		return 0;
	return c->created_ms + fr->handshake_timeout_ms;
}

static uint64_t next_ping(const struct tcp_conn *c)
{
	if (!pinging(c) || !TCP_LOAD(c->ready) || c->state != TCP_ST_OPEN)
		return NEVER;
	return (c->rx_ms > c->ping_ms ? c->rx_ms : c->ping_ms) + c->proto->framer->keepalive_ms;
}

/* Nearest deadline of c given its state; the idle check of a kept connection just repeats. */
static uint64_t next_deadline(struct tcp_conn *c, uint64_t now, struct wstate w)
{
	uint64_t d = NEVER;

	if (framer_handshake_end(c))
		d = earliest(d, framer_handshake_end(c));
	d = earliest(d, next_ping(c));

	if (c->state == TCP_ST_CONNECTING)
		d = earliest(d, c->created_ms + secs(tcp_cfg.connect_timeout));
	if (c->state == TCP_ST_HANDSHAKE && c->hs_start_ms && c->proto->layer->handshake_timeout_ms)
		d = earliest(d, c->hs_start_ms + c->proto->layer->handshake_timeout_ms);
	if (w.queued)
		d = earliest(d, w.progress_ms + secs(tcp_cfg.write_timeout));
	if (c->fr.started_ms)
		d = earliest(d, c->fr.started_ms + secs(tcp_cfg.read_timeout));
	if (c->proto->idle_ms)
		d = earliest(d, idle_since(c, now) + c->proto->idle_ms);
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
	if (framer_handshake_end(c) && now >= framer_handshake_end(c)) {
		tcp_conn_close(c, c->st->closed_read_timeout, ETIMEDOUT,
			       "protocol handshake not done in time");
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
	if (c->proto->idle_ms && !w.queued && (pinging(c) || !TCP_LOAD(c->kept)) &&
	    now >= idle_since(c, now) + c->proto->idle_ms) {
		/* A framer says goodbye in its protocol (ws: close 1001) and ends once that is written. */
		if (c->proto->framer && TCP_LOAD(c->ready) && c->state == TCP_ST_OPEN)
			c->proto->framer->idle((struct stream_conn *)c, c->fstate);
		else
			tcp_conn_close(c, c->st->closed_idle, 0, "idle");
		return;
	}
	if (now >= next_ping(c)) {
		c->ping_ms = now;
		c->proto->framer->keepalive((struct stream_conn *)c, c->fstate);
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
