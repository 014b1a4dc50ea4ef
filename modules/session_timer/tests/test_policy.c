/* The policy of session_timer_check() (RFC 4028 8.1): every header combination, Min-SE, malformed values. */
#include <criterion/criterion.h>

#include "st.h"

static const struct st_policy required = {ST_MODE_REQUIRED, 90, 1800, 7200};
static const struct st_policy supported = {ST_MODE_SUPPORTED, 90, 1800, 7200};
static const struct st_policy off = {ST_MODE_OFF, 90, 1800, 7200};

static struct st_decision decide(const struct st_policy *p, struct st_request r)
{
	struct st_decision d;

	st_policy_decide(&d, p, &r);
	return d;
}

/* Supported: timer, Session-Expires, Min-SE, each present or absent. */
#define SUP    .supports_timer = true
#define SE(v)  .se_present = true, .se = (v)
#define MIN(v) .min_se_present = true, .min_se = (v)

Test(policy, no_support_and_no_session_expires_is_421_when_required)
{
	struct st_decision d = decide(&required, (struct st_request){0});

	cr_assert_eq(d.status, 421);
	cr_assert_str_eq(d.reason, "Extension Required");
	/* Min-SE alone says nothing about support. */
	cr_assert_eq(decide(&required, (struct st_request){MIN(120)}).status, 421);
}

Test(policy, no_support_when_supported_policy_inserts_the_default)
{
	struct st_decision d = decide(&supported, (struct st_request){0});

	cr_assert_eq(d.status, 0);
	cr_assert_eq(d.se_edit, ST_SE_INSERT);
	cr_assert_eq(d.se, 1800);
	cr_assert_eq(d.min_se, 0);
}

Test(policy, off_passes_everything_untouched)
{
	struct st_decision d = decide(&off, (struct st_request){.se_malformed = true, .se_present = true});

	cr_assert_eq(d.status, 0);
	cr_assert_eq(d.se_edit, ST_SE_KEEP);
	cr_assert_eq(decide(&off, (struct st_request){0}).status, 0);
}

Test(policy, support_without_session_expires_inserts_session_expires)
{
	struct st_decision d = decide(&required, (struct st_request){SUP});

	cr_assert_eq(d.status, 0);
	cr_assert_eq(d.se_edit, ST_SE_INSERT);
	cr_assert_eq(d.se, 1800);
}

Test(policy, session_expires_without_supported_counts_as_support)
{
	/* An upstream proxy inserted it: the session is timed (the UAS refreshes). */
	struct st_decision d = decide(&required, (struct st_request){SE(600)});

	cr_assert_eq(d.status, 0);
	cr_assert_eq(d.se_edit, ST_SE_KEEP);
	cr_assert_eq(d.se, 600);
}

Test(policy, acceptable_session_expires_is_kept)
{
	struct st_decision d = decide(&required, (struct st_request){SUP, SE(90)});

	cr_assert_eq(d.status, 0);
	cr_assert_eq(d.se_edit, ST_SE_KEEP);
	cr_assert_eq(d.se, 90);
	cr_assert_eq(decide(&required, (struct st_request){SUP, SE(7200)}).se_edit, ST_SE_KEEP);
}

Test(policy, small_session_expires_with_support_is_422_with_our_min_se)
{
	struct st_decision d = decide(&required, (struct st_request){SUP, SE(89)});

	cr_assert_eq(d.status, 422);
	cr_assert_str_eq(d.reason, "Session Interval Too Small");
	cr_assert_eq(d.min_se, 90);
	cr_assert_eq(decide(&required, (struct st_request){SUP, SE(0)}).status, 422);
}

Test(policy, small_session_expires_without_support_is_raised_not_rejected)
{
	/* 8.1: a UAC that does not know 422 could not retry with a larger interval. */
	struct st_decision d = decide(&required, (struct st_request){SE(30)});

	cr_assert_eq(d.status, 0);
	cr_assert_eq(d.se_edit, ST_SE_SET);
	cr_assert_eq(d.se, 90);
}

Test(policy, min_se_in_the_request_raises_the_minimum)
{
	struct st_decision d = decide(&required, (struct st_request){SUP, SE(150), MIN(200)});

	cr_assert_eq(d.status, 422);
	cr_assert_eq(d.min_se, 200);
	d = decide(&required, (struct st_request){SUP, SE(300), MIN(200)});
	cr_assert_eq(d.status, 0);
	cr_assert_eq(d.se, 300);
	/* A Min-SE below ours: ours governs and goes downstream. */
	d = decide(&(struct st_policy){ST_MODE_REQUIRED, 120, 1800, 7200},
		   (struct st_request){SUP, SE(100), MIN(90)});
	cr_assert_eq(d.status, 422);
	cr_assert_eq(d.min_se, 120);
}

Test(policy, inserted_interval_respects_the_request_min_se)
{
	struct st_decision d = decide(&required, (struct st_request){SUP, MIN(3600)});

	cr_assert_eq(d.se_edit, ST_SE_INSERT);
	cr_assert_eq(d.se, 3600);
	d = decide(&required, (struct st_request){SUP, MIN(10000)});
	cr_assert_eq(d.se, 10000, "above max_se, because the UAC's Min-SE wins (8.1)");
}

Test(policy, large_session_expires_is_lowered_to_max_but_not_below_min_se)
{
	struct st_decision d = decide(&required, (struct st_request){SUP, SE(86400)});

	cr_assert_eq(d.status, 0);
	cr_assert_eq(d.se_edit, ST_SE_SET);
	cr_assert_eq(d.se, 7200);
	d = decide(&required, (struct st_request){SUP, SE(86400), MIN(9000)});
	cr_assert_eq(d.se, 9000);
	d = decide(&required, (struct st_request){SUP, SE(UINT32_MAX)});
	cr_assert_eq(d.se, 7200);
}

Test(policy, our_larger_minimum_is_announced_downstream)
{
	const struct st_policy p = {ST_MODE_REQUIRED, 300, 1800, 7200};
	struct st_decision d = decide(&p, (struct st_request){SUP, SE(600)});

	cr_assert_eq(d.min_se, 300, "no Min-SE means 90, lower than ours");
	d = decide(&p, (struct st_request){SUP, SE(600), MIN(400)});
	cr_assert_eq(d.min_se, 0, "the request's own Min-SE is higher: left alone");
	d = decide(&required, (struct st_request){SUP, SE(600)});
	cr_assert_eq(d.min_se, 0, "ours is the RFC default: nothing to add");
}

Test(policy, malformed_session_expires_is_400_before_anything_else)
{
	struct st_decision d =
	    decide(&required, (struct st_request){.se_present = true, .se_malformed = true});

	cr_assert_eq(d.status, 400);
	cr_assert_not_null(strstr(d.warning, "Session-Expires"));
	d = decide(&supported, (struct st_request){SUP, .se_present = true, .se_malformed = true, MIN(100)});
	cr_assert_eq(d.status, 400);
}

Test(policy, malformed_min_se_is_400)
{
	struct st_decision d = decide(
	    &required, (struct st_request){SUP, SE(1800), .min_se_present = true, .min_se_malformed = true});

	cr_assert_eq(d.status, 400);
	cr_assert_not_null(strstr(d.warning, "Min-SE"));
	/* Reported even when the UAC lacks timer support: the syntax error is the first problem. */
	cr_assert_eq(
	    decide(&required, (struct st_request){.min_se_present = true, .min_se_malformed = true}).status,
	    400);
}

/* Every combination of (Supported: timer) x (Session-Expires: none/small/ok/large) x (Min-SE: none/low/high).
 */
Test(policy, the_whole_matrix)
{
	const uint32_t ses[] = {0, 60, 1800, 100000};
	const uint32_t mins[] = {0, 90, 2400};

	for (int sup = 0; sup < 2; sup++)
		for (unsigned i = 0; i < 4; i++)
			for (unsigned j = 0; j < 3; j++) {
				struct st_request r = {.supports_timer = sup,
						       .se_present = i > 0,
						       .se = ses[i],
						       .min_se_present = j > 0,
						       .min_se = mins[j]};
				struct st_decision d = decide(&required, r);
				uint32_t eff = j == 2 ? 2400 : 90;

				if (!sup && !i) {
					cr_assert_eq(d.status, 421);
					continue;
				}
				if (sup && i && ses[i] < eff) {
					cr_assert_eq(d.status, 422, "sup %d se %u min %u", sup, ses[i],
						     mins[j]);
					cr_assert_eq(d.min_se, eff);
					continue;
				}
				cr_assert_eq(d.status, 0, "sup %d se %u min %u", sup, ses[i], mins[j]);
				cr_assert_geq(d.se, eff, "never below the effective minimum");
				cr_assert_leq(d.se, 7200 > eff ? 7200 : eff,
					      "never above max_se unless Min-SE says so");
			}
}

Test(policy, expiry_is_interval_minus_min_of_32s_and_a_third)
{
	cr_assert_eq(st_expiry_ms(1800), 1768000);
	cr_assert_eq(st_expiry_ms(90), 60000);
	cr_assert_eq(st_expiry_ms(96), 64000);
	cr_assert_eq(st_expiry_ms(97), 65000);
	cr_assert_eq(st_expiry_ms(3), 2000);
	cr_assert_eq(st_expiry_ms(2), 1334);
	cr_assert_eq(st_expiry_ms(0), 0);
	cr_assert_eq(st_expiry_ms(UINT32_MAX), (uint64_t)UINT32_MAX * 1000 - 32000);
}

Test(policy, mode_names)
{
	cr_assert_eq(st_mode_parse("required"), ST_MODE_REQUIRED);
	cr_assert_eq(st_mode_parse("Supported"), ST_MODE_SUPPORTED);
	cr_assert_eq(st_mode_parse("off"), ST_MODE_OFF);
	cr_assert_eq(st_mode_parse("yes"), -1);
	cr_assert_eq(st_mode_parse(NULL), -1);
}
