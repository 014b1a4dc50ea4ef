/* The pacing wheel and the lateness histogram, driven by a fake millisecond clock. */
#include <criterion/criterion.h>
#include <string.h>

#include "media_int.h"

struct rec {
	struct rtc_pace_entry e;
	uint64_t sent[64];
	unsigned n;
	unsigned stop_after;
	struct rtc_pace *p;
};

static unsigned on_due(struct rtc_pace_entry *e, uint64_t now_ms, void *arg)
{
	struct rec *r = (struct rec *)e;
	unsigned periods = (unsigned)((now_ms - e->due_ms) / RTC_PACE_PERIOD) + 1;

	if (r->n < 64)
		r->sent[r->n++] = now_ms;
	if (r->stop_after && r->n == r->stop_after)
		rtc_pace_remove(r->p, e);
	return periods;
}

/* Runs the wheel the way the media thread does: wake at rtc_pace_next, run, repeat. */
static void drive(struct rtc_pace *p, uint64_t *clock, uint64_t until)
{
	uint64_t last = *clock;

	while (*clock < until) {
		uint64_t next = rtc_pace_next(p, *clock);
		if (next == UINT64_MAX || next > until)
			break;
		*clock = next;
		rtc_pace_run(p, last, *clock, on_due, NULL);
		last = *clock;
	}
	*clock = until;
}

Test(pace, every_20_ms_in_its_own_slot)
{
	struct rtc_pace p;
	struct rec a = {0}, b = {0};
	uint64_t clock = 1000;

	rtc_pace_init(&p);
	rtc_pace_add(&p, &a.e, 1001);
	rtc_pace_add(&p, &b.e, 1007);
	cr_assert_eq(rtc_pace_next(&p, 1000), 1001);
	drive(&p, &clock, 1100);
	cr_assert_eq(a.n, 5);
	cr_assert_eq(b.n, 5);
	for (unsigned i = 0; i < 5; i++) {
		cr_assert_eq(a.sent[i], 1001 + 20 * i);
		cr_assert_eq(b.sent[i], 1007 + 20 * i);
	}
	cr_assert_eq(a.e.due_ms, 1101);
	cr_assert_eq(p.total, 2);
}

Test(pace, a_late_wake_catches_up_once)
{
	struct rtc_pace p;
	struct rec a = {0};

	rtc_pace_init(&p);
	rtc_pace_add(&p, &a.e, 1001);
	/* the thread was stalled from 1000 to 1065: 1001, 1021, 1041, 1061 are due */
	rtc_pace_run(&p, 1000, 1065, on_due, NULL);
	cr_assert_eq(a.n, 1, "one call for the whole backlog");
	cr_assert_eq(a.e.due_ms, 1081, "the schedule stays on its grid");
}

Test(pace, an_entry_may_leave_from_its_callback)
{
	struct rtc_pace p;
	struct rec a = {0}, b = {0};
	uint64_t clock = 0;

	rtc_pace_init(&p);
	a.stop_after = 2;
	a.p = &p;
	rtc_pace_add(&p, &a.e, 5);
	rtc_pace_add(&p, &b.e, 5);
	drive(&p, &clock, 200);
	cr_assert_eq(a.n, 2);
	cr_assert_eq(b.n, 10);
	cr_assert(!a.e.linked);
	rtc_pace_remove(&p, &b.e);
	cr_assert_eq(rtc_pace_next(&p, 200), UINT64_MAX);
	cr_assert_eq(p.total, 0);
}

Test(pace, many_sessions_spread_over_slots)
{
	static struct rec r[1000];
	struct rtc_pace p;
	uint64_t clock = 0;

	memset(r, 0, sizeof(r));
	rtc_pace_init(&p);
	for (unsigned i = 0; i < 1000; i++)
		rtc_pace_add(&p, &r[i].e, 1 + i % 37);
	drive(&p, &clock, 1000);
	for (unsigned i = 0; i < 1000; i++) {
		cr_assert_geq(r[i].n, 48);
		for (unsigned k = 1; k < r[i].n; k++)
			cr_assert_eq(r[i].sent[k] - r[i].sent[k - 1], 20);
	}
}

Test(pace, jitter_percentiles)
{
	static struct rtc_jitter_hist h;
	struct rtc_jitter_hist *hs[1] = {&h};
	struct rtc_media_jitter j;

	rtc_jitter_clear(&h);
	for (int i = 0; i < 980; i++)
		rtc_jitter_record(&h, 55); /* 50..59 µs bucket */
	for (int i = 0; i < 20; i++)
		rtc_jitter_record(&h, 3500); /* 3..4 ms bucket */
	rtc_jitter_summarise(&j, hs, 1);
	cr_assert_eq(j.packets, 1000);
	cr_assert_eq(j.p50_us, 60);
	cr_assert_eq(j.p99_us, 3500, "the 3..4 ms bucket, clamped to the largest value seen");
	cr_assert_eq(j.max_us, 3500);
	rtc_jitter_clear(&h);
	rtc_jitter_summarise(&j, hs, 1);
	cr_assert_eq(j.packets, 0);
}
