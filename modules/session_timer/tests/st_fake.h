/* Test doubles for session_timer: a fake clock and timer list, and recorded expiries. */
#ifndef ST_FAKE_H
#define ST_FAKE_H

#include <errno.h>
#include <string.h>

#include "internal.h"
#include "parser_int.h"
#include "st.h"

#define FAKE_MAX_TIMERS 1024

static uint64_t fake_clock;
static struct {
	struct sipd_timer *t;
	uint64_t due;
} fake_timers[FAKE_MAX_TIMERS];
static unsigned fake_ntimers, fake_expired;
static char fake_expired_call[128];

static uint64_t fake_now(void)
{
	return fake_clock;
}

static bool fake_timer_stop(struct sipd_timer *t)
{
	for (unsigned i = 0; i < fake_ntimers; i++)
		if (fake_timers[i].t == t) {
			fake_timers[i] = fake_timers[--fake_ntimers];
			return true;
		}
	return false;
}

static void fake_timer_start(struct sipd_timer *t, struct sipd_loop *l, uint64_t ms)
{
	(void)l;
	fake_timer_stop(t);
	fake_timers[fake_ntimers].t = t;
	fake_timers[fake_ntimers++].due = fake_clock + ms;
}

static void fake_expire(const struct st_dialog_info *d)
{
	fake_expired++;
	snprintf(fake_expired_call, sizeof(fake_expired_call), "%.*s", SIPD_STR_FMT(d->call_id));
}

static const struct st_sys fake_sys = {
    .now = fake_now,
    .timer_start = fake_timer_start,
    .timer_stop = fake_timer_stop,
    .expire = fake_expire,
};

/* Moves the clock, firing due timers in order (a callback may re-arm). */
static inline void fake_advance(uint64_t ms)
{
	uint64_t end = fake_clock + ms;

	for (;;) {
		unsigned best = fake_ntimers;

		for (unsigned i = 0; i < fake_ntimers; i++)
			if (fake_timers[i].due <= end &&
			    (best == fake_ntimers || fake_timers[i].due < fake_timers[best].due))
				best = i;
		if (best == fake_ntimers)
			break;
		struct sipd_timer *t = fake_timers[best].t;

		fake_clock = fake_timers[best].due;
		fake_timers[best] = fake_timers[--fake_ntimers];
		t->fn(t->arg);
	}
	fake_clock = end;
}

static inline void fake_setup(void)
{
	static const char *const listen[] = {"udp:127.0.0.1:5060"};
	char err[128];

	fake_clock = 1000000;
	fake_ntimers = fake_expired = 0;
	fake_expired_call[0] = '\0';
	st_sys = &fake_sys;
	st_policy = (struct st_policy){ST_MODE_REQUIRED, 90, 1800, 7200};
	st_st = (struct st_stats){0};
	st_untimed_lifetime = 0;
	listen_reset();
	cr_assert_eq(listen_set((char *const *)listen, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(st_table_init(64), 0);
}

static inline void fake_teardown(void)
{
	st_table_destroy();
	cr_assert_eq(fake_ntimers, 0, "no timer left behind");
}

static inline struct sipd_msg *fake_msg(const char *text)
{
	static const struct sipd_listen l = {.proto = SIPD_PROTO_UDP, .host = "127.0.0.1", .port = 5060};
	struct sipd_rcvinfo rcv = {.proto = SIPD_PROTO_UDP, .listen = &l};
	struct sipd_msg *m = NULL;

	rcv.src.sin.sin_family = AF_INET;
	rcv.src.sin.sin_port = htons(5999);
	rcv.src.sin.sin_addr.s_addr = htonl(0x7f000001);
	cr_assert_eq(parser_parse(&m, text, strlen(text), &rcv, NULL), 0, "fixture parses");
	return m;
}

#define STR(lit) SIPD_STR(lit)

#endif
