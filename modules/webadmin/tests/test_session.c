/* Admin sessions: create, look up, expire, end; CSRF comparison. */
#include <string.h>

#include <errno.h>
#include <stdio.h>

#include <criterion/criterion.h>

#include "webadmin.h"

static void setup(void)
{
	wa_sessions_clear();
	wa_session_ttl = 100;
}

TestSuite(session, .init = setup);

Test(session, create_get_end)
{
	char token[64];
	struct wa_session_info a, b;

	cr_assert_eq(wa_session_create("alice", token, sizeof(token), &a, 1000), 0);
	cr_assert_str_eq(a.admin, "alice");
	cr_assert_eq(strlen(a.csrf), 43);
	cr_assert_eq(wa_session_get(token, &b, 1050), 0);
	cr_assert_str_eq(b.admin, "alice");
	cr_assert_str_eq(b.csrf, a.csrf);
	cr_assert_eq(wa_session_get("not-a-token", &b, 1050), ENOENT);
	cr_assert_eq(wa_session_get("", &b, 1050), ENOENT);
	cr_assert_eq(wa_session_get(NULL, &b, 1050), ENOENT);
	cr_assert_eq(wa_session_end(token), 0);
	cr_assert_eq(wa_session_get(token, &b, 1050), ENOENT);
	cr_assert_eq(wa_session_end(token), ENOENT);
}

Test(session, idle_sessions_expire_and_use_extends)
{
	char token[64];
	struct wa_session_info i;

	cr_assert_eq(wa_session_create("bob", token, sizeof(token), &i, 1000), 0);
	cr_assert_eq(wa_session_get(token, &i, 1099), 0, "used just before the ttl");
	cr_assert_eq(wa_session_get(token, &i, 1198), 0, "the last use counts");
	cr_assert_eq(wa_session_get(token, &i, 1298), ENOENT, "idle for the ttl");
}

Test(session, tokens_differ_and_admin_sessions_end_together)
{
	char t1[64], t2[64], t3[64];
	struct wa_session_info i1, i2, i3;

	cr_assert_eq(wa_session_create("carol", t1, sizeof(t1), &i1, 0), 0);
	cr_assert_eq(wa_session_create("carol", t2, sizeof(t2), &i2, 0), 0);
	cr_assert_eq(wa_session_create("dave", t3, sizeof(t3), &i3, 0), 0);
	cr_assert_str_neq(t1, t2);
	cr_assert_str_neq(i1.csrf, i2.csrf);
	wa_session_end_admin("carol");
	cr_assert_eq(wa_session_get(t1, &i1, 1), ENOENT);
	cr_assert_eq(wa_session_get(t2, &i2, 1), ENOENT);
	cr_assert_eq(wa_session_get(t3, &i3, 1), 0);
}

Test(session, csrf_must_match_exactly)
{
	char token[64];
	struct wa_session_info i;
	char wrong[64];

	cr_assert_eq(wa_session_create("erin", token, sizeof(token), &i, 0), 0);
	cr_assert(wa_csrf_ok(&i, i.csrf));
	cr_assert_not(wa_csrf_ok(&i, NULL));
	cr_assert_not(wa_csrf_ok(&i, ""));
	strcpy(wrong, i.csrf);
	wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
	cr_assert_not(wa_csrf_ok(&i, wrong));
	strcpy(wrong, i.csrf);
	wrong[strlen(wrong) - 1] = '\0';
	cr_assert_not(wa_csrf_ok(&i, wrong), "a prefix is not enough");
	cr_assert_not(wa_csrf_ok(&i, token), "the cookie is not the CSRF token");
}

Test(session, a_full_store_drops_the_least_recently_used)
{
	char first[64], t[64];
	struct wa_session_info i;

	cr_assert_eq(wa_session_create("old", first, sizeof(first), &i, 0), 0);
	for (int n = 0; n < 300; n++)
		cr_assert_eq(wa_session_create("many", t, sizeof(t), &i, 1 + n / 100), 0);
	cr_assert_eq(wa_session_get(first, &i, 10), ENOENT);
	cr_assert_eq(wa_session_get(t, &i, 10), 0);
}
