/* Closes WebSocket connections that nothing came over for idle_timeout (not even a pong to our pings). */
#include <stdbool.h>

#include "ws.h"

static struct sipd_timer sweep_timer;
static bool running;

static uint64_t period_ms(void)
{
	uint64_t p = (uint64_t)ws_cfg.idle_timeout * 1000 / 4;

	return p < 1000 ? 1000 : p > 10000 ? 10000 : p;
}

static void check(struct ws_conn *c, void *arg)
{
	uint64_t now = *(const uint64_t *)arg, active = WS_LOAD(c->active_ms);

	if (now > active && now - active >= (uint64_t)ws_cfg.idle_timeout * 1000)
		ws_conn_close(c, WS_CLOSE_GOING_AWAY, "idle timeout", ws_stats.closed_idle);
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
	if (!ws_cfg.idle_timeout)
		return;
	__atomic_store_n(&running, true, __ATOMIC_RELEASE);
	sipd_timer_init(&sweep_timer, sweep, NULL);
	sipd_timer_start(&sweep_timer, sipd_loop_get(0), period_ms());
}

void ws_idle_stop(void)
{
	__atomic_store_n(&running, false, __ATOMIC_RELEASE);
	sipd_timer_stop(&sweep_timer);
}
