/* RFC 3261 10.3 binding rules, one case each, on the registrar's plain-data rule engine. */
#include <criterion/criterion.h>
#include <string.h>

#include "registrar.h"

static const struct reg_config cfg = {
    .default_expires = 3600, .min_expires = 60, .max_expires = 7200, .max_contacts = 3};

#define NOW 1000000

static struct reg_aor aor;

static void reset(void)
{
	memset(&aor, 0, sizeof(aor));
}

static void clear(void)
{
	while (aor.contacts) {
		struct reg_contact *c = aor.contacts;

		aor.contacts = c->next;
		reg_contact_free(c);
	}
}

TestSuite(rules, .init = reset, .fini = clear);

static struct reg_request req(const struct reg_new_contact *c, unsigned n, long expires_hdr,
			      const char *call_id, uint32_t cseq)
{
	return (struct reg_request){.contacts = c,
				    .n = n,
				    .expires_hdr = expires_hdr,
				    .call_id = sipd_str_c(call_id),
				    .cseq = cseq,
				    .path = SIPD_STR_NULL,
				    .user_agent = SIPD_STR("ua/1"),
				    .proto = SIPD_PROTO_UDP,
				    .now = NOW};
}

static struct reg_contact *binding(const char *uri)
{
	for (struct reg_contact *c = aor.contacts; c; c = c->next)
		if (strcmp(c->uri, uri) == 0)
			return c;
	return NULL;
}

static int apply(const struct reg_request *r)
{
	struct reg_verdict v;

	cr_assert_eq(reg_rules_apply(&aor, r, &cfg, &v), 0);
	return v.code;
}

static const struct reg_new_contact A = {SIPD_STR("sip:a@10.0.0.1"), -1, -1};
static const struct reg_new_contact B = {SIPD_STR("sip:b@10.0.0.2"), -1, -1};

Test(rules, expires_from_contact_param_first)
{
	struct reg_new_contact c = {SIPD_STR("sip:a@10.0.0.1"), 300, -1};
	struct reg_request r = req(&c, 1, 600, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(binding("sip:a@10.0.0.1")->expires, NOW + 300);
}

Test(rules, expires_from_header_then_default)
{
	struct reg_request r = req(&A, 1, 600, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(binding("sip:a@10.0.0.1")->expires, NOW + 600);
	r = req(&B, 1, -1, "cid2", 1);
	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(binding("sip:b@10.0.0.2")->expires, NOW + 3600, "the default applies");
}

Test(rules, max_expires_caps)
{
	struct reg_request r = req(&A, 1, 999999, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(binding("sip:a@10.0.0.1")->expires, NOW + 7200);
}

Test(rules, too_brief_is_423_with_min_expires)
{
	struct reg_new_contact c = {SIPD_STR("sip:a@10.0.0.1"), 30, -1};
	struct reg_request r = req(&c, 1, -1, "cid", 1);
	struct reg_verdict v;

	cr_assert_eq(reg_rules_apply(&aor, &r, &cfg, &v), 0);
	cr_assert_eq(v.code, 423);
	cr_assert_eq(v.min_expires, 60);
	cr_assert_null(aor.contacts, "nothing bound");
}

Test(rules, q_is_stored)
{
	struct reg_new_contact c = {SIPD_STR("sip:a@10.0.0.1"), -1, 700};
	struct reg_request r = req(&c, 1, -1, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(binding("sip:a@10.0.0.1")->q, 700);
}

Test(rules, expires_zero_removes_one)
{
	struct reg_new_contact two[2] = {A, B}, zero = {SIPD_STR("sip:a@10.0.0.1"), 0, -1};
	struct reg_request r = req(two, 2, -1, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(aor.count, 2);
	r = req(&zero, 1, -1, "cid", 2);
	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(aor.count, 1);
	cr_assert_null(binding("sip:a@10.0.0.1"));
	cr_assert_not_null(binding("sip:b@10.0.0.2"));
}

Test(rules, star_with_expires_zero_removes_all)
{
	struct reg_new_contact two[2] = {A, B};
	struct reg_request r = req(two, 2, -1, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	r = req(NULL, 0, 0, "other-call", 1);
	r.star = true;
	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(aor.count, 0);
	cr_assert_null(aor.contacts);
}

Test(rules, star_needs_expires_zero_and_no_other_contact)
{
	struct reg_request r = req(NULL, 0, 3600, "cid", 1);

	r.star = true;
	cr_assert_eq(apply(&r), 400);
	r = req(NULL, 0, -1, "cid", 1);
	r.star = true;
	cr_assert_eq(apply(&r), 400, "Expires absent is not zero");
	r = req(&A, 1, 0, "cid", 1);
	r.star = true;
	cr_assert_eq(apply(&r), 400);
}

Test(rules, star_with_older_cseq_of_same_call_is_500)
{
	struct reg_request r = req(&A, 1, -1, "cid", 5);

	cr_assert_eq(apply(&r), 200);
	r = req(NULL, 0, 0, "cid", 4);
	r.star = true;
	cr_assert_eq(apply(&r), 500);
	cr_assert_eq(aor.count, 1, "the binding stays");
}

Test(rules, older_cseq_same_call_id_is_500)
{
	struct reg_request r = req(&A, 1, 600, "cid", 5);

	cr_assert_eq(apply(&r), 200);
	r = req(&A, 1, 1200, "cid", 4);
	cr_assert_eq(apply(&r), 500);
	cr_assert_eq(binding("sip:a@10.0.0.1")->expires, NOW + 600, "unchanged");
}

Test(rules, equal_cseq_same_call_id_is_a_retransmission)
{
	struct reg_request r = req(&A, 1, 600, "cid", 5);
	struct reg_verdict v;

	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(reg_rules_apply(&aor, &r, &cfg, &v), 0);
	cr_assert_eq(v.code, 200);
	cr_assert_not(v.changed, "nothing to write again");
}

Test(rules, other_call_id_may_use_any_cseq)
{
	struct reg_request r = req(&A, 1, 600, "cid", 50);

	cr_assert_eq(apply(&r), 200);
	r = req(&A, 1, 900, "rebooted-phone", 1);
	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(binding("sip:a@10.0.0.1")->expires, NOW + 900);
	cr_assert_str_eq(binding("sip:a@10.0.0.1")->call_id, "rebooted-phone");
}

Test(rules, higher_cseq_refreshes)
{
	struct reg_request r = req(&A, 1, 600, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	r = req(&A, 1, 1800, "cid", 2);
	r.now = NOW + 100;
	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(aor.count, 1);
	cr_assert_eq(binding("sip:a@10.0.0.1")->expires, NOW + 100 + 1800);
	cr_assert_eq(binding("sip:a@10.0.0.1")->cseq, 2);
}

Test(rules, max_contacts_refuses_all_or_nothing)
{
	struct reg_new_contact c[4] = {{SIPD_STR("sip:1@h"), -1, -1},
				       {SIPD_STR("sip:2@h"), -1, -1},
				       {SIPD_STR("sip:3@h"), -1, -1},
				       {SIPD_STR("sip:4@h"), -1, -1}};
	struct reg_request r = req(c, 2, -1, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	r = req(c + 1, 3, -1, "cid", 2);
	cr_assert_eq(apply(&r), 403);
	cr_assert_eq(aor.count, 2, "no binding added by a refused request");
	cr_assert_null(binding("sip:3@h"));
	/* Replacing one while adding one stays within the limit. */
	struct reg_new_contact swap[2] = {{SIPD_STR("sip:1@h"), 0, -1}, {SIPD_STR("sip:3@h"), -1, -1}};
	r = req(swap, 2, -1, "cid", 3);
	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(aor.count, 2);
}

Test(rules, expired_bindings_do_not_count)
{
	struct reg_request r = req(&A, 1, 60, "cid", 1);

	cr_assert_eq(apply(&r), 200);
	r = req(&B, 1, 60, "cid2", 1);
	r.now = NOW + 61;
	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(aor.count, 1);
	cr_assert_null(binding("sip:a@10.0.0.1"));
}

Test(rules, source_and_user_agent_are_stored)
{
	struct reg_request r = req(&A, 1, -1, "cid", 1);

	r.proto = SIPD_PROTO_TCP;
	r.conn_id = 42;
	r.path = SIPD_STR("<sip:edge.example.com;lr>");
	cr_assert_eq(apply(&r), 200);
	cr_assert_eq(binding("sip:a@10.0.0.1")->conn_id, 42);
	cr_assert_eq(binding("sip:a@10.0.0.1")->proto, SIPD_PROTO_TCP);
	cr_assert_str_eq(binding("sip:a@10.0.0.1")->user_agent, "ua/1");
	cr_assert_str_eq(binding("sip:a@10.0.0.1")->path, "<sip:edge.example.com;lr>");
}
