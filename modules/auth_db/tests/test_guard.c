/* The brute-force guard: per user+address back-off, the per-user slow-down, and no lock-out of the user. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "auth_db.h"

static union sipd_sockaddr attacker, attacker2, phone;

static void addr(union sipd_sockaddr *a, const char *ip)
{
	memset(a, 0, sizeof(*a));
	a->sin.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin.sin_addr);
}

static void setup(void)
{
	auth_guard_failures = 5;
	auth_guard_user_failures = 20;
	auth_guard_max_backoff = 300;
	cr_assert_eq(auth_guard_init(4096), 0);
	addr(&attacker, "192.0.2.66");
	addr(&attacker2, "192.0.2.67");
	addr(&phone, "198.51.100.7");
}

static void teardown(void)
{
	auth_guard_fini();
}

TestSuite(guard, .init = setup, .fini = teardown);

#define T0    1700000000000ull
#define ALICE SIPD_STR("alice")

Test(guard, backs_off_after_the_limit_and_doubles)
{
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(auth_guard_check(ALICE, &attacker, T0 + i), 0, "attempt %d is checked", i);
		cr_assert_not(auth_guard_failed(ALICE, &attacker, T0 + i));
	}
	cr_assert(auth_guard_failed(ALICE, &attacker, T0 + 4), "the fifth failure starts the back-off");
	cr_assert_eq(auth_guard_check(ALICE, &attacker, T0 + 5), 999);
	cr_assert_eq(auth_guard_check(ALICE, &attacker, T0 + 1004), 0, "1 s later it may try again");
	auth_guard_failed(ALICE, &attacker, T0 + 1004);
	cr_assert_eq(auth_guard_check(ALICE, &attacker, T0 + 1005), 1999, "then 2 s");
	auth_guard_failed(ALICE, &attacker, T0 + 3004);
	cr_assert_eq(auth_guard_check(ALICE, &attacker, T0 + 3004), 4000, "then 4 s");
}

Test(guard, back_off_is_capped)
{
	auth_guard_max_backoff = 3;
	for (int i = 0; i < 30; i++)
		auth_guard_failed(ALICE, &attacker, T0);
	cr_assert_eq(auth_guard_check(ALICE, &attacker, T0), 3000);
}

Test(guard, the_user_from_another_address_is_not_locked_out)
{
	for (int i = 0; i < 10; i++)
		auth_guard_failed(ALICE, &attacker, T0);
	cr_assert_gt(auth_guard_check(ALICE, &attacker, T0), 0);
	cr_assert_eq(auth_guard_check(ALICE, &phone, T0), 0, "another address is checked at once");
	cr_assert_eq(auth_guard_check(SIPD_STR("bob"), &attacker, T0), 0, "another user is not affected");
}

Test(guard, success_resets_the_address)
{
	for (int i = 0; i < 4; i++)
		auth_guard_failed(ALICE, &phone, T0);
	auth_guard_succeeded(ALICE, &phone, T0);
	cr_assert_not(auth_guard_failed(ALICE, &phone, T0), "counting starts again after a login");
	cr_assert_eq(auth_guard_check(ALICE, &phone, T0), 0);
}

Test(guard, many_addresses_slow_new_ones_but_not_known_ones)
{
	union sipd_sockaddr a;
	char ip[32];

	auth_guard_succeeded(ALICE, &phone, T0);
	/* 20 addresses, one wrong guess each: no address reaches its own limit. */
	for (int i = 0; i < 20; i++) {
		snprintf(ip, sizeof(ip), "203.0.113.%d", i + 1);
		addr(&a, ip);
		auth_guard_failed(ALICE, &a, T0 + (uint64_t)i);
	}
	cr_assert_gt(auth_guard_check(ALICE, &attacker2, T0 + 20), 0, "a new address waits its turn");
	cr_assert_eq(auth_guard_check(ALICE, &phone, T0 + 20), 0, "alice's own phone logs in");
	cr_assert_eq(auth_guard_check(ALICE, &attacker2, T0 + 20 + 1000), 0, "one attempt a second");
}

Test(guard, zero_disables)
{
	auth_guard_failures = 0;
	for (int i = 0; i < 50; i++)
		auth_guard_failed(ALICE, &attacker, T0);
	cr_assert_eq(auth_guard_check(ALICE, &attacker, T0), 0);
}
