/* Stateless nonces: validity, expiry (stale), forgery, and nonce-count replay tracking. */
#include <criterion/criterion.h>
#include <string.h>

#include "auth_db.h"

static const unsigned char secret[32] = "0123456789abcdef0123456789abcde";

static void setup(void)
{
	cr_assert_eq(auth_digest_init(), 0);
	cr_assert_eq(auth_nonce_init(secret, sizeof(secret), 64), 0);
}

static void teardown(void)
{
	auth_nonce_fini();
	auth_digest_fini();
}

TestSuite(nonce, .init = setup, .fini = teardown);

#define T0  1700000000000ull
#define TTL 300000ull

Test(nonce, fresh_nonce_is_valid)
{
	char n[AUTH_NONCE_LEN + 1];
	uint64_t issued = 0;

	cr_assert_eq(auth_nonce_make(n, T0), 0);
	cr_assert_eq(strlen(n), AUTH_NONCE_LEN);
	cr_assert_eq(auth_nonce_check(sipd_str_c(n), T0 + 1000, TTL, &issued), AUTH_NONCE_VALID);
	cr_assert_eq(issued, T0);
}

Test(nonce, two_nonces_in_one_millisecond_differ)
{
	char a[AUTH_NONCE_LEN + 1], b[AUTH_NONCE_LEN + 1];

	cr_assert_eq(auth_nonce_make(a, T0), 0);
	cr_assert_eq(auth_nonce_make(b, T0), 0);
	cr_assert_str_neq(a, b);
}

Test(nonce, expired_nonce_is_stale)
{
	char n[AUTH_NONCE_LEN + 1];
	uint64_t issued;

	cr_assert_eq(auth_nonce_make(n, T0), 0);
	cr_assert_eq(auth_nonce_check(sipd_str_c(n), T0 + TTL, TTL, &issued), AUTH_NONCE_VALID);
	cr_assert_eq(auth_nonce_check(sipd_str_c(n), T0 + TTL + 1, TTL, &issued), AUTH_NONCE_STALE);
	/* The clock went back: not trusted either. */
	cr_assert_eq(auth_nonce_check(sipd_str_c(n), T0 - 1, TTL, &issued), AUTH_NONCE_STALE);
}

Test(nonce, tampered_nonce_is_invalid)
{
	char n[AUTH_NONCE_LEN + 1];
	uint64_t issued;

	cr_assert_eq(auth_nonce_make(n, T0), 0);
	/* Moving the time forward to escape expiry breaks the MAC. */
	n[15] = n[15] == '0' ? '1' : '0';
	cr_assert_eq(auth_nonce_check(sipd_str_c(n), T0, TTL, &issued), AUTH_NONCE_INVALID);
	cr_assert_eq(auth_nonce_check(SIPD_STR("abc"), T0, TTL, &issued), AUTH_NONCE_INVALID);
	memset(n, 'Z', AUTH_NONCE_LEN);
	cr_assert_eq(auth_nonce_check(sipd_str_c(n), T0, TTL, &issued), AUTH_NONCE_INVALID);
}

Test(nonce, another_secret_does_not_validate)
{
	static const unsigned char other[32] = "another secret, another server";
	char n[AUTH_NONCE_LEN + 1];
	uint64_t issued;

	cr_assert_eq(auth_nonce_make(n, T0), 0);
	auth_nonce_fini();
	cr_assert_eq(auth_nonce_init(other, sizeof(other), 64), 0);
	cr_assert_eq(auth_nonce_check(sipd_str_c(n), T0, TTL, &issued), AUTH_NONCE_INVALID);
}

Test(nonce, nonce_count_must_increase)
{
	char n[AUTH_NONCE_LEN + 1];
	struct sipd_str s;

	cr_assert_eq(auth_nonce_make(n, T0), 0);
	s = sipd_str_c(n);
	cr_assert(auth_nc_accept(s, T0, 1, 7, T0));
	cr_assert_not(auth_nc_accept(s, T0, 1, 8, T0), "the same nc in another request is a replay");
	cr_assert(auth_nc_accept(s, T0, 2, 7, T0));
	cr_assert(auth_nc_accept(s, T0, 5, 7, T0));
	cr_assert_not(auth_nc_accept(s, T0, 3, 7, T0), "an older nc is a replay");
}

Test(nonce, a_retransmission_is_not_a_replay)
{
	char n[AUTH_NONCE_LEN + 1];
	struct sipd_str s;

	cr_assert_eq(auth_nonce_make(n, T0), 0);
	s = sipd_str_c(n);
	cr_assert(auth_nc_accept(s, T0, 1, 1234, T0));
	cr_assert(auth_nc_accept(s, T0, 1, 1234, T0 + 500), "same request resent");
	cr_assert_not(auth_nc_accept(s, T0, 1, 999, T0 + 500), "same nc, another request: replay");
	cr_assert_not(auth_nc_accept(s, T0, 1, 0, T0 + 500), "no branch: replay");
	cr_assert_not(auth_nc_accept(s, T0, 1, 1234, T0 + 40000), "too late for a retransmission");
}

Test(nonce, nonces_have_separate_counts)
{
	char a[AUTH_NONCE_LEN + 1], b[AUTH_NONCE_LEN + 1];

	cr_assert_eq(auth_nonce_make(a, T0), 0);
	cr_assert_eq(auth_nonce_make(b, T0), 0);
	cr_assert(auth_nc_accept(sipd_str_c(a), T0, 1, 7, T0));
	cr_assert(auth_nc_accept(sipd_str_c(b), T0, 1, 7, T0));
}

Test(nonce, evicted_history_is_refused_not_trusted)
{
	/* 64 entries: far more nonces than that push the first one out of its bucket. */
	char first[AUTH_NONCE_LEN + 1], n[AUTH_NONCE_LEN + 1];

	cr_assert_eq(auth_nonce_make(first, T0), 0);
	cr_assert(auth_nc_accept(sipd_str_c(first), T0, 1, 7, T0));
	for (unsigned i = 1; i <= 2000; i++) {
		cr_assert_eq(auth_nonce_make(n, T0 + i), 0);
		cr_assert(auth_nc_accept(sipd_str_c(n), T0 + i, 1, 7, T0), "a new nonce %u is accepted", i);
	}
	/* Its nc history may be gone: a replay of nc 1 must not pass. */
	cr_assert_not(auth_nc_accept(sipd_str_c(first), T0, 1, 7, T0));
	cr_assert_not(auth_nc_accept(sipd_str_c(first), T0, 2, 7, T0),
		      "refused as stale, the client gets a new nonce");
}
