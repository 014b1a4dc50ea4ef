/* Keep-alive pings to silent WebSocket peers, and the close of those silent for idle_timeout (no pong
 * either). */
#include <stdbool.h>

#include "ws.h"

static struct sipd_timer sweep_timer;
static bool running;

static uint64_t period_ms(void)
{
	uint64_t p = (uint64_t)ws_cfg.keepalive_interval * 1000 / 2;

	if (ws_cfg.idle_timeout && (uint64_t)ws_cfg.idle_timeout * 1000 / 4 < p)
		p = (uint64_t)ws_cfg.idle_timeout * 1000 / 4;
	return p < 500 ? 500 : p > 10000 ? 10000 : p;
}

/*
 * civetweb's own ping/pong mode swallows pongs before our handler sees them,
 * so sipd pings itself: a live browser answers (RFC 6455 5.5.3) and its pong
 * counts as traffic; a peer that is gone stays silent until idle_timeout.
 */
static void check(struct ws_conn *c, void *arg)
{
	uint64_t now = *(const uint64_t *)arg, active = WS_LOAD(c->active_ms);
	uint64_t silent = now > active ? now - active : 0;

	if (ws_cfg.idle_timeout && silent >= (uint64_t)ws_cfg.idle_timeout * 1000)
		ws_conn_close(c, WS_CLOSE_GOING_AWAY, "idle timeout", ws_stats.closed_idle);
	else if (silent >= (uint64_t)ws_cfg.keepalive_interval * 1000)
		ws_conn_write(c, WS_OP_PING, "", 0);
}

static void sweep(void *arg)
{
	uint64_t now = sipd_now_ms();

	(void)arg;
	ws_conn_foreach(check, &now);
	if (__atomic_load_n(&running, __ATOMIC_ACQUIRE))
		sipd_timer_start(&sweep_timer, sipd_loop_get(0), period_ms());
}

void ws_idle_start(void)
{
	__atomic_store_n(&running, true, __ATOMIC_RELEASE);
	sipd_timer_init(&sweep_timer, sweep, NULL);
	sipd_timer_start(&sweep_timer, sipd_loop_get(0), period_ms());
}

void ws_idle_stop(void)
{
	__atomic_store_n(&running, false, __ATOMIC_RELEASE);
	sipd_timer_stop(&sweep_timer);
}
