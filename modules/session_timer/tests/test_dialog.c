/* The dialog table: creation, refresh moving the expiry, removal, expiry at Session-Expires - min(32, SE/3).
 */
#include <criterion/criterion.h>
#include <time.h>

#include "st_fake.h"

static struct st_dialog_info info(const char *call_id, uint32_t interval)
{
	return (struct st_dialog_info){
	    .call_id = sipd_str_c(call_id),
	    .caller_tag = STR("a1"),
	    .callee_tag = STR("b1"),
	    .caller = STR("<sip:alice@example.com>;tag=a1"),
	    .callee = STR("<sip:bob@example.com>;tag=b1"),
	    .caller_contact = STR("sip:alice@127.0.0.1:5999"),
	    .callee_contact = STR("sip:bob@127.0.0.1:6000"),
	    .caller_cseq = 1,
	    .interval = interval,
	    .refresher = ST_PARTY_CALLER,
	};
}

static uint64_t expires_in(const char *call_id)
{
	uint64_t ms = 0;

	cr_assert_eq(st_dialog_expires_in(&ms, sipd_str_c(call_id), STR("a1"), STR("b1")), 0);
	return ms;
}

TestSuite(dialog, .init = fake_setup, .fini = fake_teardown);

Test(dialog, created_dialog_expires_at_the_rfc_4028_moment_and_is_ended)
{
	struct st_dialog_info d = info("c1", 90);

	cr_assert_eq(st_dialog_create(&d), 0);
	cr_assert_eq(st_dialog_count(), 1);
	cr_assert_eq(expires_in("c1"), 60000, "90 s - min(32, 30) s");
	fake_advance(59999);
	cr_assert_eq(fake_expired, 0);
	fake_advance(1);
	cr_assert_eq(fake_expired, 1);
	cr_assert_str_eq(fake_expired_call, "c1");
	cr_assert_eq(st_dialog_count(), 0);
}

Test(dialog, refresh_moves_the_expiry)
{
	struct st_dialog_info d = info("c2", 1800);

	cr_assert_eq(st_dialog_create(&d), 0);
	fake_advance(900000); /* the refresher's half-time */
	cr_assert_eq(st_dialog_refresh(STR("c2"), STR("a1"), STR("b1"), 1800, ST_REF_UAC, 2), 0);
	cr_assert_eq(expires_in("c2"), 1768000);
	fake_advance(1767999);
	cr_assert_eq(fake_expired, 0, "the first deadline passed without expiring");
	fake_advance(1);
	cr_assert_eq(fake_expired, 1);
}

Test(dialog, refresh_by_the_callee_matches_with_swapped_tags_and_may_shorten)
{
	struct st_dialog_info d = info("c3", 1800);

	cr_assert_eq(st_dialog_create(&d), 0);
	fake_advance(1000);
	/* The callee's re-INVITE: From carries b1, To a1; a shorter interval takes effect at once. */
	cr_assert_eq(st_dialog_refresh(STR("c3"), STR("b1"), STR("a1"), 120, ST_REF_UAC, 1), 0);
	cr_assert_eq(expires_in("c3"), 88000, "120 s - 32 s");
	fake_advance(88000);
	cr_assert_eq(fake_expired, 1);
}

Test(dialog, refresher_is_named_by_party)
{
	struct st_dialog_info d = info("c4", 600);
	struct {
		enum st_party who;
		int n;
	} seen = {0};

	cr_assert_eq(st_dialog_create(&d), 0);
	/* uac of a request the callee sent is the callee. */
	cr_assert_eq(st_dialog_refresh(STR("c4"), STR("b1"), STR("a1"), 600, ST_REF_UAC, 5), 0);
	void check(const struct st_dialog_info *i, uint64_t w, uint64_t e, void *arg)
	{
		(void)w;
		(void)e;
		((typeof(seen) *)arg)->who = i->refresher;
		((typeof(seen) *)arg)->n++;
		cr_assert_eq(i->callee_cseq, 5);
		cr_assert_eq(i->caller_cseq, 1);
	}
	st_dialog_foreach(check, &seen);
	cr_assert_eq(seen.n, 1);
	cr_assert_eq(seen.who, ST_PARTY_CALLEE);
	cr_assert_eq(st_dialog_refresh(STR("c4"), STR("a1"), STR("b1"), 600, ST_REF_UAS, 2), 0);
	seen.n = 0;
	void who(const struct st_dialog_info *i, uint64_t w, uint64_t e, void *arg)
	{
		(void)w;
		(void)e;
		((typeof(seen) *)arg)->who = i->refresher;
	}
	st_dialog_foreach(who, &seen);
	cr_assert_eq(seen.who, ST_PARTY_CALLEE, "uas of the caller's request");
}

Test(dialog, unknown_dialogs_are_enoent)
{
	struct st_dialog_info d = info("c5", 90);

	cr_assert_eq(st_dialog_create(&d), 0);
	cr_assert_eq(st_dialog_refresh(STR("c5"), STR("a1"), STR("zz"), 90, ST_REF_UAC, 2), ENOENT);
	cr_assert_eq(st_dialog_refresh(STR("other"), STR("a1"), STR("b1"), 90, ST_REF_UAC, 2), ENOENT);
	cr_assert_eq(st_dialog_remove(STR("c5"), STR("x"), STR("b1")), ENOENT);
	cr_assert_eq(st_dialog_count(), 1);
}

Test(dialog, removal_cancels_the_timer)
{
	struct st_dialog_info d = info("c6", 90);

	cr_assert_eq(st_dialog_create(&d), 0);
	cr_assert_eq(fake_ntimers, 1);
	cr_assert_eq(st_dialog_remove(STR("c6"), STR("b1"), STR("a1")), 0);
	cr_assert_eq(fake_ntimers, 0);
	cr_assert_eq(st_dialog_count(), 0);
	fake_advance(100000);
	cr_assert_eq(fake_expired, 0);
}

Test(dialog, a_session_another_node_took_is_forgotten_without_expiry)
{
	struct st_dialog_info d = info("c6b", 90);

	cr_assert_eq(st_dialog_create(&d), 0);
	cr_assert_eq(st_dialog_forget(STR("c6b"), STR("a1"), STR("zz")), ENOENT);
	cr_assert_eq(st_dialog_forget(STR("c6b"), STR("b1"), STR("a1")), 0, "either tag order");
	cr_assert_eq(fake_ntimers, 0);
	cr_assert_eq(st_dialog_count(), 0);
	fake_advance(100000);
	cr_assert_eq(fake_expired, 0, "the node that took it ends it, not this one");
	cr_assert_eq(st_dialog_forget(STR("c6b"), STR("a1"), STR("b1")), ENOENT);
}

/* With untimed_lifetime 0 (set by fake_setup). */
Test(dialog, untimed_dialogs_never_expire_until_a_refresh_times_them)
{
	struct st_dialog_info d = info("c7", 0);

	cr_assert_eq(st_dialog_create(&d), 0);
	cr_assert_eq(expires_in("c7"), UINT64_MAX);
	cr_assert_eq(fake_ntimers, 0);
	fake_advance(10000000);
	cr_assert_eq(st_dialog_count(), 1);
	cr_assert_eq(st_dialog_refresh(STR("c7"), STR("a1"), STR("b1"), 90, ST_REF_UAC, 2), 0);
	cr_assert_eq(expires_in("c7"), 60000);
	/* And a refresh without a timer makes it untimed again. */
	cr_assert_eq(st_dialog_refresh(STR("c7"), STR("a1"), STR("b1"), 0, ST_REF_NONE, 3), 0);
	cr_assert_eq(fake_ntimers, 0);
	fake_advance(100000);
	cr_assert_eq(fake_expired, 0);
	cr_assert_eq(st_dialog_count(), 1);
}

Test(dialog, an_untimed_dialog_is_dropped_after_its_lifetime_without_a_bye)
{
	struct st_dialog_info d = info("c7l", 0);

	st_untimed_lifetime = 3600;
	cr_assert_eq(st_dialog_create(&d), 0);
	cr_assert_eq(expires_in("c7l"), UINT64_MAX, "still untimed for the API");
	cr_assert_eq(fake_ntimers, 1);
	fake_advance(1800000);
	/* A refresh without a timer is a sign of life: the hour starts again. */
	cr_assert_eq(st_dialog_refresh(STR("c7l"), STR("a1"), STR("b1"), 0, ST_REF_NONE, 2), 0);
	fake_advance(3599999);
	cr_assert_eq(st_dialog_count(), 1);
	fake_advance(1);
	cr_assert_eq(st_dialog_count(), 0);
	cr_assert_eq(fake_expired, 0, "dropped, not ended with BYEs");
	cr_assert_eq(fake_ntimers, 0);
}

Test(dialog, a_timer_negotiated_later_replaces_the_lifetime_and_back)
{
	struct st_dialog_info d = info("c7m", 0);

	st_untimed_lifetime = 3600;
	cr_assert_eq(st_dialog_create(&d), 0);
	cr_assert_eq(st_dialog_refresh(STR("c7m"), STR("a1"), STR("b1"), 90, ST_REF_UAC, 2), 0);
	cr_assert_eq(expires_in("c7m"), 60000);
	fake_advance(59999);
	cr_assert_eq(st_dialog_count(), 1);
	/* Untimed again: kept an hour from now, not ended at the old deadline. */
	cr_assert_eq(st_dialog_refresh(STR("c7m"), STR("a1"), STR("b1"), 0, ST_REF_NONE, 3), 0);
	fake_advance(3599000);
	cr_assert_eq(st_dialog_count(), 1);
	cr_assert_eq(fake_expired, 0);
	fake_advance(1000);
	cr_assert_eq(st_dialog_count(), 0);
	cr_assert_eq(fake_expired, 0);
}

Test(dialog, a_restored_untimed_dialog_keeps_what_is_left_of_its_lifetime)
{
	struct st_dialog_info d = info("c7r", 0);

	st_untimed_lifetime = 3600;
	cr_assert_eq(st_dialog_restore(&d, UINT64_MAX, (uint64_t)time(NULL) - 3000), 0);
	fake_advance(599000 - 2000); /* the wall clock may tick during the test: two seconds' slack */
	cr_assert_eq(st_dialog_count(), 1);
	fake_advance(4000);
	cr_assert_eq(st_dialog_count(), 0);
	cr_assert_eq(st_dialog_restore(&d, UINT64_MAX, (uint64_t)time(NULL) - 7200), 0);
	fake_advance(0);
	cr_assert_eq(st_dialog_count(), 0, "past its lifetime at start: dropped at once");
}

Test(dialog, a_retransmitted_2xx_does_not_duplicate)
{
	struct st_dialog_info d = info("c8", 90);

	cr_assert_eq(st_dialog_create(&d), 0);
	fake_advance(30000);
	cr_assert_eq(st_dialog_create(&d), 0);
	cr_assert_eq(st_dialog_count(), 1);
	cr_assert_eq(expires_in("c8"), 60000);
}

Test(dialog, many_dialogs_share_buckets)
{
	char id[32];

	for (int i = 0; i < 500; i++) {
		snprintf(id, sizeof(id), "call-%d", i);
		struct st_dialog_info d = info(id, 90 + (uint32_t)i);

		cr_assert_eq(st_dialog_create(&d), 0);
	}
	cr_assert_eq(st_dialog_count(), 500);
	for (int i = 0; i < 500; i += 2) {
		snprintf(id, sizeof(id), "call-%d", i);
		cr_assert_eq(st_dialog_remove(sipd_str_c(id), STR("a1"), STR("b1")), 0);
	}
	cr_assert_eq(st_dialog_count(), 250);
	fake_advance(10000000);
	cr_assert_eq(fake_expired, 250);
	cr_assert_eq(st_dialog_count(), 0);
}
