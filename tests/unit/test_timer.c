/* Timer wheel: ordering, volume, stop/restart, cross-thread use and long delays. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sipd/loop.h>

#include "internal.h"
#include "loop_priv.h"

static bool wait_for(atomic_int *v, int target, int ms)
{
	for (int i = 0; i < ms && atomic_load(v) < target; i++)
		usleep(1000);
	return atomic_load(v) >= target;
}

static void start_loops(unsigned n)
{
	cr_assert_eq(loops_create(n), 0);
	cr_assert_eq(loops_run(), 0);
}

static void stop_loops(void)
{
	loops_destroy();
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- ordering --------------------------------------------------------- */

struct ordered {
	struct sipd_timer t;
	int key;
};

static atomic_int fired, slots;
static int order[16];

static void record(void *arg)
{
	struct ordered *o = arg;
	/* Write the slot first, then publish it: the test thread reads order[] once fired says so. */
	order[atomic_fetch_add(&slots, 1)] = o->key;
	atomic_fetch_add(&fired, 1);
	cr_expect_eq(sipd_loop_self(), sipd_loop_get(0), "timers run on the loop they were started on");
}

Test(timer, fires_in_deadline_order, .fini = stop_loops)
{
	static const int delays[] = {50, 10, 30, 20, 40, 5};
	struct ordered o[6];

	start_loops(1);
	atomic_store(&fired, 0);
	atomic_store(&slots, 0);
	for (int i = 0; i < 6; i++) {
		o[i].key = delays[i];
		sipd_timer_init(&o[i].t, record, &o[i]);
		sipd_timer_start(&o[i].t, sipd_loop_get(0), (uint64_t)delays[i]);
	}
	cr_assert(wait_for(&fired, 6, 2000));
	static const int want[] = {5, 10, 20, 30, 40, 50};
	for (int i = 0; i < 6; i++)
		cr_expect_eq(order[i], want[i], "position %d: fired %d, expected %d", i, order[i], want[i]);
}

/* ---- volume ------------------------------------------------------------ */

#define MANY 200000

static atomic_int many_fired;

static void count_one(void *arg)
{
	atomic_fetch_add(&many_fired, 1);
}

Test(timer, many_timers_start_stop_fast, .fini = stop_loops)
{
	struct sipd_timer *t = calloc(MANY, sizeof(*t));

	cr_assert(t);
	cr_assert_eq(loops_create(1), 0);
	struct sipd_loop *l = sipd_loop_get(0);
	/* Loop not running: measure the pure start/stop cost. */
	for (int i = 0; i < MANY; i++)
		sipd_timer_init(&t[i], count_one, NULL);
	uint64_t t0 = now_ns();
	for (int i = 0; i < MANY; i++)
		sipd_timer_start(&t[i], l, 1000 + (uint64_t)(i * 7919) % 600000);
	uint64_t t1 = now_ns();
	int stopped = 0;
	for (int i = 0; i < MANY; i++)
		stopped += sipd_timer_stop(&t[i]);
	uint64_t t2 = now_ns();
	cr_expect_eq(stopped, MANY, "every armed timer reports pending once");
	cr_expect_eq(l->wheel.count, 0u);
	printf("timer: start %.1f ns/op, stop %.1f ns/op over %d timers\n", (double)(t1 - t0) / MANY,
	       (double)(t2 - t1) / MANY, MANY);
	/* Under TSan every access is instrumented (5-15x slower): printed, not bounded. */
#ifndef __SANITIZE_THREAD__
	cr_expect_lt((t2 - t0) / MANY, 2000u, "start+stop should take well under 2 us");
#endif

	/* And all of them firing for real, spread over 200 ms. */
	atomic_store(&many_fired, 0);
	cr_assert_eq(loops_run(), 0);
	for (int i = 0; i < MANY; i++)
		sipd_timer_start(&t[i], l, (uint64_t)(i % 200));
	cr_assert(wait_for(&many_fired, MANY, 5000), "fired %d of %d", atomic_load(&many_fired), MANY);
	loops_destroy();
	free(t);
}

/* ---- stop and restart -------------------------------------------------- */

static atomic_int simple_fired;

static void count_simple(void *arg)
{
	atomic_fetch_add(&simple_fired, 1);
}

Test(timer, stop_before_fire, .fini = stop_loops)
{
	struct sipd_timer t;

	start_loops(1);
	atomic_store(&simple_fired, 0);
	sipd_timer_init(&t, count_simple, NULL);
	cr_expect_not(sipd_timer_stop(&t), "a never started timer is not pending");
	sipd_timer_start(&t, NULL, 40);
	cr_expect(sipd_timer_stop(&t));
	cr_expect_not(sipd_timer_stop(&t), "second stop finds nothing");
	usleep(100000);
	cr_expect_eq(atomic_load(&simple_fired), 0);
}

Test(timer, restart_moves_the_deadline, .fini = stop_loops)
{
	struct sipd_timer t;

	start_loops(2);
	atomic_store(&simple_fired, 0);
	sipd_timer_init(&t, count_simple, NULL);
	sipd_timer_start(&t, sipd_loop_get(0), 30);
	sipd_timer_start(&t, sipd_loop_get(1), 150);
	usleep(80000);
	cr_expect_eq(atomic_load(&simple_fired), 0, "the first deadline was replaced");
	cr_assert(wait_for(&simple_fired, 1, 1000));
	usleep(50000);
	cr_expect_eq(atomic_load(&simple_fired), 1, "fires once");
	cr_expect_not(sipd_timer_stop(&t));
}

/* A timer callback stopping another timer due in the same tick prevents it. */
static struct sipd_timer pair[2];
static atomic_int pair_stop_result;

static void stop_other(void *arg)
{
	int me = (int)(intptr_t)arg;
	atomic_fetch_add(&simple_fired, 1);
	atomic_store(&pair_stop_result, sipd_timer_stop(&pair[1 - me]) ? 1 : 0);
}

Test(timer, callback_stops_timer_of_same_tick, .fini = stop_loops)
{
	cr_assert_eq(loops_create(1), 0);
	atomic_store(&simple_fired, 0);
	for (int i = 0; i < 2; i++) {
		sipd_timer_init(&pair[i], stop_other, (void *)(intptr_t)i);
		sipd_timer_start(&pair[i], sipd_loop_get(0), 20);
	}
	pair[1].expires = pair[0].expires;
	cr_assert_eq(loops_run(), 0);
	cr_assert(wait_for(&simple_fired, 1, 1000));
	usleep(50000);
	cr_expect_eq(atomic_load(&simple_fired), 1);
	cr_expect_eq(atomic_load(&pair_stop_result), 1);
}

/* A callback re-arming itself with 0 ms runs once per tick, not forever in one pass. */
static struct sipd_timer self_timer;
static atomic_int self_runs;

static void rearm(void *arg)
{
	if (atomic_fetch_add(&self_runs, 1) < 20)
		sipd_timer_start(&self_timer, NULL, 0);
}

Test(timer, zero_delay_rearm_terminates, .fini = stop_loops)
{
	start_loops(1);
	sipd_timer_init(&self_timer, rearm, NULL);
	sipd_timer_start(&self_timer, sipd_loop_get(0), 0);
	cr_assert(wait_for(&self_runs, 21, 2000));
	usleep(20000);
	cr_expect_eq(atomic_load(&self_runs), 21);
}

/* ---- cross-thread ------------------------------------------------------- */

#define XT_THREADS 4
#define XT_TIMERS  5000

static atomic_int xt_fired, xt_stopped;

static void *cross_thread(void *arg)
{
	struct sipd_timer *t = arg;

	for (int i = 0; i < XT_TIMERS; i++) {
		sipd_timer_init(&t[i], count_one, NULL);
		sipd_timer_start(&t[i], sipd_loop_get((unsigned)i % 2), (uint64_t)(i % 40));
	}
	for (int i = 0; i < XT_TIMERS; i += 2)
		atomic_fetch_add(&xt_stopped, sipd_timer_stop(&t[i]));
	return NULL;
}

Test(timer, start_and_stop_from_other_threads, .fini = stop_loops)
{
	pthread_t th[XT_THREADS];
	struct sipd_timer *t = calloc(XT_THREADS * XT_TIMERS, sizeof(*t));

	start_loops(2);
	atomic_store(&many_fired, 0);
	atomic_store(&xt_stopped, 0);
	atomic_store(&xt_fired, 0);
	for (int i = 0; i < XT_THREADS; i++)
		pthread_create(&th[i], NULL, cross_thread, t + i * XT_TIMERS);
	for (int i = 0; i < XT_THREADS; i++)
		pthread_join(th[i], NULL);
	int expected = XT_THREADS * XT_TIMERS - atomic_load(&xt_stopped);
	cr_assert(wait_for(&many_fired, expected, 3000), "fired %d, expected %d", atomic_load(&many_fired),
		  expected);
	usleep(60000);
	cr_expect_eq(atomic_load(&many_fired), expected, "a stopped timer never fires");
	loops_destroy();
	free(t);
}

/* An earlier timer started from another thread wakes a loop sleeping towards a later one. */
Test(timer, earlier_timer_wakes_sleeping_loop, .fini = stop_loops)
{
	struct sipd_timer late, early;

	start_loops(1);
	atomic_store(&simple_fired, 0);
	sipd_timer_init(&late, count_simple, NULL);
	sipd_timer_init(&early, count_simple, NULL);
	sipd_timer_start(&late, sipd_loop_get(0), 60000);
	usleep(20000);
	uint64_t t0 = sipd_now_ms();
	sipd_timer_start(&early, sipd_loop_get(0), 10);
	cr_assert(wait_for(&simple_fired, 1, 1000));
	cr_expect_lt(sipd_now_ms() - t0, 200u);
	cr_expect(sipd_timer_stop(&late));
}

/* ---- long delays, with the wheel driven by a synthetic clock ----------- */

Test(timer, long_delays_cross_every_level, .fini = stop_loops)
{
	static const uint64_t delays[] = {
	    0,        1,        255,      256,           300,           65535,         65536,         70000,
	    16777215, 16777216, 20000000, 4294967295ull, 4294967296ull, 5000000000ull, 40000000000ull};
	enum { N = sizeof(delays) / sizeof(delays[0]) };
	struct sipd_timer t[N];

	cr_assert_eq(loops_create(1), 0);
	struct timer_wheel *w = &sipd_loop_get(0)->wheel;
	atomic_store(&simple_fired, 0);
	for (int i = 0; i < N; i++) {
		sipd_timer_init(&t[i], count_simple, NULL);
		sipd_timer_start(&t[i], sipd_loop_get(0), delays[i]);
	}
	for (int i = 0; i < N; i++) {
		int before = atomic_load(&simple_fired);
		uint64_t now = w->cur;
		cr_assert_leq(now, t[i].expires);
		int timeout = timer_wheel_timeout(w, now);
		cr_expect_geq(timeout, 0, "a pending timer bounds the sleep");
		cr_expect_leq((uint64_t)timeout, t[i].expires - now, "never sleeps past the next deadline");
		if (t[i].expires > w->cur) {
			timer_wheel_run(w, t[i].expires - 1);
			cr_expect_eq(atomic_load(&simple_fired), before, "delay %llu fired early",
				     (unsigned long long)delays[i]);
		}
		timer_wheel_run(w, t[i].expires);
		cr_expect_eq(atomic_load(&simple_fired), before + 1, "delay %llu did not fire on time",
			     (unsigned long long)delays[i]);
		cr_expect_not(t[i].pending);
	}
	cr_expect_eq(w->count, 0u);
	cr_expect_eq(timer_wheel_timeout(w, w->cur), -1, "an empty wheel sleeps without timeout");
}
