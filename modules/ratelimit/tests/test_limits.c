/* Per-source token buckets and the global load counter, with explicit clock values. */
#include <arpa/inet.h>
#include <criterion/criterion.h>

#include "rl.h"

struct rl_cfg rl_cfg;
struct rl_stats rl_st;

static union sipd_sockaddr addr(const char *ip)
{
	union sipd_sockaddr a = {0};

	a.sin.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a.sin.sin_addr);
	return a;
}

static void setup(void)
{
	rl_cfg = (struct rl_cfg){.src_rate = 10,
				 .src_burst = 5,
				 .src_table = 64,
				 .load_rate = 0,
				 .load_drops = false,
				 .log_interval = 10};
	cr_assert_eq(rl_src_init((unsigned)rl_cfg.src_table), 0);
	rl_st.udp_drops = sipd_stat_register("udp", "rx_dropped_kernel", "test");
	rl_load_init();
}

static void teardown(void)
{
	rl_src_destroy();
}

TestSuite(src, .init = setup, .fini = teardown);

Test(src, burst_then_refused_then_refilled_at_the_rate)
{
	union sipd_sockaddr a = addr("192.0.2.1");

	for (int i = 0; i < 5; i++)
		cr_assert(rl_src_take(&a, 1000), "request %d of the burst", i);
	cr_assert_not(rl_src_take(&a, 1000), "past the burst");
	cr_assert_not(rl_src_take(&a, 1050), "half a token after 50 ms at 10/s");
	cr_assert(rl_src_take(&a, 1100), "one token after 100 ms");
	cr_assert_not(rl_src_take(&a, 1100));
	/* A long pause refills up to the burst, not beyond. */
	for (int i = 0; i < 5; i++)
		cr_assert(rl_src_take(&a, 60000));
	cr_assert_not(rl_src_take(&a, 60000));
}

Test(src, sources_are_independent)
{
	union sipd_sockaddr flood = addr("127.0.0.2"), legit = addr("127.0.0.1");

	for (int i = 0; i < 1000; i++)
		rl_src_take(&flood, 5000);
	cr_assert_not(rl_src_take(&flood, 5000));
	cr_assert(rl_src_take(&legit, 5000), "another address keeps its own bucket");
}

Test(src, many_sources_stay_in_the_fixed_table)
{
	union sipd_sockaddr a = addr("10.0.0.0");
	unsigned allowed = 0;

	/* 10 000 sources through a 64-entry table: each new one starts with a full bucket. */
	for (uint32_t i = 0; i < 10000; i++) {
		a.sin.sin_addr.s_addr = htonl(0x0a000000u + i);
		allowed += rl_src_take(&a, 7000);
	}
	cr_assert_eq(allowed, 10000);
}

Test(src, ipv6_sources)
{
	union sipd_sockaddr a = {0};

	a.sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &a.sin6.sin6_addr);
	for (int i = 0; i < 5; i++)
		cr_assert(rl_src_take(&a, 1000));
	cr_assert_not(rl_src_take(&a, 1000));
}

Test(src, load_rate_counts_per_second)
{
	rl_cfg.load_rate = 3;
	cr_assert_not(rl_load_over(10000));
	cr_assert_not(rl_load_over(10100));
	cr_assert_not(rl_load_over(10900));
	cr_assert(rl_load_over(10950), "the fourth request in one second");
	cr_assert_not(rl_load_over(11000), "a new second starts over");
}

Test(src, kernel_drops_mean_overload_for_a_second)
{
	rl_cfg.load_drops = true;
	cr_assert_not(rl_load_over(20000), "first look: the counter's base value");
	sipd_stat_add(rl_st.udp_drops, 7);
	cr_assert(rl_load_over(20200), "drops since the last look");
	cr_assert(rl_load_over(21000));
	cr_assert_not(rl_load_over(21300), "a second without new drops");
}
