/* Transaction timers (each armed one holds a cell reference), the real clock and network (tm_sys), module
 * settings. */
#include "tm_int.h"

struct tm_cfg tm_cfg = {.t1 = 500, .t2 = 4000, .t4 = 5000, .timer_c = 180000, .buckets = 65536};
const struct sipd_parser_api *tm_parser;

static uint64_t real_now(void)
{
	return sipd_now_ms();
}

static void real_start(struct sipd_timer *t, uint64_t ms)
{
	/* On the calling worker's loop: the transaction's traffic mostly arrives there too. */
	sipd_timer_start(t, NULL, ms);
}

const struct tm_sys tm_sys_real = {
    .now = real_now,
    .timer_start = real_start,
    .timer_stop = sipd_timer_stop,
    .send = sipd_send,
    .run_route = sipd_script_run_route,
};
const struct tm_sys *tm_sys = &tm_sys_real;

static void timer_fired(void *arg)
{
	struct tm_timer *t = arg;
	struct tm_cell *c = t->cell;

	tm_cell_lock(c);
	/*
	 * Stale when disarmed meanwhile, or re-armed while this callback was
	 * already on its way (the timer is pending again and fires later).
	 */
	if (t->armed && !__atomic_load_n(&t->t.pending, __ATOMIC_ACQUIRE)) {
		t->armed = false;
		if (t->owner == &c->uas)
			tm_uas_timer(t);
		else
			tm_uac_timer(t);
		tm_cell_check_done(c);
	}
	tm_cell_unlock(c);
	tm_cell_unref(c);
}

void tm_timer_init(struct tm_timer *t, struct tm_cell *c, void *owner, uint8_t kind)
{
	sipd_timer_init(&t->t, timer_fired, t);
	t->cell = c;
	t->owner = owner;
	t->kind = kind;
	t->armed = false;
}

void tm_timer_arm(struct tm_timer *t, uint64_t ms)
{
	/* A pending timer's reference carries over to the new deadline. */
	if (!tm_sys->timer_stop(&t->t))
		tm_cell_ref(t->cell);
	t->armed = true;
	t->due = tm_sys->now() + ms;
	tm_sys->timer_start(&t->t, ms);
}

void tm_timer_disarm(struct tm_timer *t)
{
	if (!t->cell)
		return;
	t->armed = false;
	/* The caller holds its own reference, so this never frees the locked cell. */
	if (tm_sys->timer_stop(&t->t))
		tm_cell_unref(t->cell);
}
