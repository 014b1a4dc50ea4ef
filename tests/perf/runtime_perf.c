/* Micro-benchmark of the runtime: timer start/stop, loop posts, counter adds (ns per operation). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <sipd/loop.h>
#include <sipd/stats.h>

#include "internal.h"

#define TIMERS 200000
#define POSTS  1000000
#define ADDS   10000000

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void never(void *arg)
{
}

static atomic_int posted;

static void count(void *arg)
{
	atomic_fetch_add_explicit(&posted, 1, memory_order_relaxed);
}

int main(void)
{
	struct sipd_timer *t = calloc(TIMERS, sizeof(*t));
	if (!t || loops_create(1) || loops_run())
		return 1;
	struct sipd_loop *l = sipd_loop_get(0);
	for (int i = 0; i < TIMERS; i++)
		sipd_timer_init(&t[i], never, NULL);

	/* Deadlines spread from 1 s to 10 min: the levels a SIP server really uses. */
	uint64_t t0 = now_ns();
	for (int i = 0; i < TIMERS; i++)
		sipd_timer_start(&t[i], l, 1000 + (uint64_t)i * 7919 % 600000);
	uint64_t t1 = now_ns();
	for (int i = 0; i < TIMERS; i++)
		sipd_timer_start(&t[i], l, 2000 + (uint64_t)i * 104729 % 600000);
	uint64_t t2 = now_ns();
	for (int i = 0; i < TIMERS; i++)
		sipd_timer_stop(&t[i]);
	uint64_t t3 = now_ns();
	printf("timer start   %6.1f ns/op (%d timers pending)\n", (double)(t1 - t0) / TIMERS, TIMERS);
	printf("timer restart %6.1f ns/op\n", (double)(t2 - t1) / TIMERS);
	printf("timer stop    %6.1f ns/op\n", (double)(t3 - t2) / TIMERS);

	t0 = now_ns();
	for (int i = 0; i < POSTS; i++)
		while (sipd_loop_post(l, count, NULL))
			;
	while (atomic_load(&posted) < POSTS)
		usleep(100);
	t1 = now_ns();
	printf("loop post     %6.1f ns/op (posted and run, other thread)\n", (double)(t1 - t0) / POSTS);

	struct sipd_stat *s = sipd_stat_register("perf", "adds", "benchmark");
	t0 = now_ns();
	for (int i = 0; i < ADDS; i++)
		sipd_stat_inc(s);
	t1 = now_ns();
	printf("stat add      %6.1f ns/op\n", (double)(t1 - t0) / ADDS);

	loops_destroy();
	free(t);
	return sipd_stat_read(s) == ADDS ? 0 : 1;
}
