/* Login rate limit: per address, per account, window, lock-out and reset on success. */
#include <errno.h>
#include <stdio.h>

#include <criterion/criterion.h>

#include "webadmin.h"

static void setup(void)
{
	wa_ratelimit_clear();
	wa_login_max_failures = 3;
	wa_login_window = 60;
	wa_login_lockout = 30;
}

TestSuite(ratelimit, .init = setup);

Test(ratelimit, locks_an_address_after_max_failures)
{
	cr_assert_eq(wa_login_blocked("10.0.0.1", "a", 100), 0);
	wa_login_failed("10.0.0.1", "a", 100);
	wa_login_failed("10.0.0.1", "b", 101);
	cr_assert_eq(wa_login_blocked("10.0.0.1", "c", 101), 0);
	wa_login_failed("10.0.0.1", "c", 102);
	cr_assert_eq(wa_login_blocked("10.0.0.1", "d", 102), 30, "third failure from one address");
	cr_assert_eq(wa_login_blocked("10.0.0.1", "d", 120), 12);
	cr_assert_eq(wa_login_blocked("10.0.0.1", "d", 132), 0, "the lock-out ends");
	cr_assert_eq(wa_login_blocked("10.0.0.2", "d", 102), 0, "another address is not locked");
}

Test(ratelimit, locks_an_account_from_many_addresses)
{
	wa_login_failed("10.0.0.1", "root", 0);
	wa_login_failed("10.0.0.2", "root", 0);
	wa_login_failed("10.0.0.3", "root", 0);
	cr_assert_eq(wa_login_blocked("10.0.0.9", "root", 1), 29);
	cr_assert_eq(wa_login_blocked("10.0.0.9", "other", 1), 0);
}

Test(ratelimit, failures_outside_the_window_do_not_add_up)
{
	wa_login_failed("10.0.0.1", "a", 0);
	wa_login_failed("10.0.0.1", "a", 10);
	wa_login_failed("10.0.0.1", "a", 100);
	cr_assert_eq(wa_login_blocked("10.0.0.1", "a", 100), 0);
}

Test(ratelimit, success_clears)
{
	wa_login_failed("10.0.0.1", "a", 0);
	wa_login_failed("10.0.0.1", "a", 0);
	wa_login_succeeded("10.0.0.1", "a");
	wa_login_failed("10.0.0.1", "a", 1);
	cr_assert_eq(wa_login_blocked("10.0.0.1", "a", 1), 0);
}

Test(ratelimit, many_addresses_do_not_exhaust_the_table)
{
	char addr[32];

	for (int i = 0; i < 5000; i++) {
		snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 250, i % 250);
		wa_login_failed(addr, "x", 1000 + i / 100);
	}
	/* The account saw every failure: it stays locked whatever the address. */
	cr_assert_gt(wa_login_blocked("192.0.2.1", "x", 1050), 0);
}
