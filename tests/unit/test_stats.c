/* Statistics counters: registration, sums across threads, dump and reset. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include <sipd/loop.h>
#include <sipd/stats.h>

#include "internal.h"

#define THREADS 8
#define ADDS    100000

static struct sipd_stat *hits, *level;

static void *hammer(void *arg)
{
	for (int i = 0; i < ADDS; i++) {
		sipd_stat_inc(hits);
		sipd_stat_add(level, i % 2 ? -3 : 5);
	}
	return NULL;
}

Test(stats, same_name_same_counter)
{
	struct sipd_stat *a = sipd_stat_register("t1", "rx", "received");
	struct sipd_stat *b = sipd_stat_register("t1", "rx", "received again");
	struct sipd_stat *c = sipd_stat_register("t1", "tx", "sent");

	cr_assert_not_null(a);
	cr_expect_eq(a, b);
	cr_expect_neq(a, c);
	cr_expect_null(sipd_stat_register(NULL, "x", NULL));
}

Test(stats, threads_sum_exactly)
{
	pthread_t th[THREADS];

	hits = sipd_stat_register("t2", "hits", "increments");
	level = sipd_stat_register("t2", "level", "a gauge");
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, hammer, NULL);
	/* The main thread counts too, while the others run. */
	hammer(NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	cr_expect_eq(sipd_stat_read(hits), (int64_t)(THREADS + 1) * ADDS);
	cr_expect_eq(sipd_stat_read(level), (int64_t)(THREADS + 1) * (ADDS / 2) * 2);
}

static atomic_int done;

static void count_on_loop(void *arg)
{
	sipd_stat_add(hits, 10);
	atomic_fetch_add(&done, 1);
}

Test(stats, worker_loops_and_others_add_up)
{
	hits = sipd_stat_register("t3", "hits", "from loops");
	cr_assert_eq(loops_create(2), 0);
	cr_assert_eq(loops_run(), 0);
	for (int i = 0; i < 1000; i++)
		cr_assert_eq(sipd_loop_post(sipd_loop_get((unsigned)i % 2), count_on_loop, NULL), 0);
	sipd_stat_add(hits, 7);
	for (int i = 0; i < 2000 && atomic_load(&done) < 1000; i++)
		usleep(1000);
	loops_destroy();
	cr_expect_eq(sipd_stat_read(hits), 10007);
}

Test(stats, dump_and_reset)
{
	struct sipd_stat *s = sipd_stat_register("t4", "drops", "dropped packets");
	json_t *obj = json_object();

	sipd_stat_add(s, 42);
	stats_dump(obj);
	cr_expect_eq(json_integer_value(json_object_get(obj, "t4.drops")), 42);
	json_decref(obj);

	json_t *list = json_array();
	stats_describe(list);
	cr_assert_geq(json_array_size(list), 1);
	json_t *last = json_array_get(list, json_array_size(list) - 1);
	cr_expect_str_eq(json_string_value(json_object_get(last, "help")), "dropped packets");
	json_decref(list);

	stats_reset_all();
	cr_expect_eq(sipd_stat_read(s), 0);
}

Test(stats, null_counter_is_harmless)
{
	sipd_stat_add(NULL, 1);
	sipd_stat_inc(NULL);
	cr_expect_eq(sipd_stat_read(NULL), 0);
}
