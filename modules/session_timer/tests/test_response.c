/* Responses going upstream (RFC 4028 8.2) and the requests' timer headers, with the real parser. */
#include <criterion/criterion.h>

#include "st_fake.h"

#define INVITE(extra)                                                                                        \
	"INVITE sip:bob@127.0.0.2:6000 SIP/2.0\r\n"                                                          \
	"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK1;rport\r\n"                                          \
	"From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"                                                 \
	"To: <sip:bob@example.com>\r\n"                                                                      \
	"Call-ID: call-1@test\r\n"                                                                           \
	"CSeq: 7 INVITE\r\n"                                                                                 \
	"Max-Forwards: 70\r\n"                                                                               \
	"Contact: <sip:alice@127.0.0.1:5999>\r\n" extra "Content-Length: 0\r\n\r\n"

#define INDIALOG(method, cseq, from, to, extra)                                                              \
	method " sip:bob@127.0.0.2:6000 SIP/2.0\r\n"                                                         \
	       "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK2;rport\r\n"                                   \
	       "From: <sip:x@example.com>;tag=" from "\r\n"                                                  \
	       "To: <sip:y@example.com>;tag=" to "\r\n"                                                      \
	       "Call-ID: call-1@test\r\n"                                                                    \
	       "CSeq: " cseq " " method "\r\n"                                                               \
	       "Max-Forwards: 70\r\n"                                                                        \
	       "Contact: <sip:x@127.0.0.1:5999>\r\n" extra "Content-Length: 0\r\n\r\n"

#define OK(cseq, extra)                                                                                      \
	"SIP/2.0 200 OK\r\n"                                                                                 \
	"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK1;rport\r\n"                                          \
	"From: \"Alice\" <sip:alice@example.com>;tag=a1\r\n"                                                 \
	"To: <sip:bob@example.com>;tag=b1\r\n"                                                               \
	"Call-ID: call-1@test\r\n"                                                                           \
	"CSeq: " cseq "\r\n"                                                                                 \
	"Contact: <sip:bob@127.0.0.2:6000>\r\n" extra "Content-Length: 0\r\n\r\n"

#define OUR_RR "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"

struct seen {
	int n;
	struct st_dialog_info d;
	uint64_t expires_in;
	char route_caller[128], route_callee[128];
};

static void grab(const struct st_dialog_info *d, uint64_t wall, uint64_t expires_in, void *arg)
{
	struct seen *s = arg;

	(void)wall;
	s->n++;
	s->d = *d;
	s->expires_in = expires_in;
	snprintf(s->route_caller, sizeof(s->route_caller), "%.*s", SIPD_STR_FMT(d->route_caller));
	snprintf(s->route_callee, sizeof(s->route_callee), "%.*s", SIPD_STR_FMT(d->route_callee));
}

static struct seen table_now(void)
{
	struct seen s = {0};

	st_dialog_foreach(grab, &s);
	return s;
}

/* Runs the hook on a request/response pair; returns the response as it would go upstream. */
static char *pass(const char *req_text, const char *resp_text, int status)
{
	static char out[4096];
	struct sipd_msg *req = fake_msg(req_text), *resp = resp_text ? fake_msg(resp_text) : NULL;
	struct sipd_str s = SIPD_STR_NULL;

	st_on_response(NULL, req, resp, resp ? resp->status : status);
	out[0] = '\0';
	if (resp) {
		cr_assert_eq(resp->ops->serialize(resp, &s), 0);
		snprintf(out, sizeof(out), "%.*s", SIPD_STR_FMT(s));
		parser_free(resp);
	}
	parser_free(req);
	return out;
}

TestSuite(response, .init = fake_setup, .fini = fake_teardown);

Test(response, uas_without_timers_gets_them_added_for_a_supporting_uac)
{
	char *out = pass(INVITE("Supported: timer\r\n"), OK("7 INVITE", OUR_RR), 200);
	struct seen s;

	cr_assert_not_null(strstr(out, "Session-Expires: 1800;refresher=uac\r\n"), "%s", out);
	cr_assert_not_null(strstr(out, "Require: timer\r\n"), "%s", out);
	s = table_now();
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.d.interval, 1800);
	cr_assert_eq(s.d.refresher, ST_PARTY_CALLER);
	cr_assert_eq(s.d.caller_cseq, 7);
	cr_assert_eq(s.expires_in, 1768000);
	cr_assert(sipd_str_eq(s.d.caller_tag, STR("a1")));
	cr_assert(sipd_str_eq(s.d.callee_tag, STR("b1")));
	cr_assert(sipd_str_eq(s.d.caller_contact, STR("sip:alice@127.0.0.1:5999")));
	cr_assert(sipd_str_eq(s.d.callee_contact, STR("sip:bob@127.0.0.2:6000")));
	cr_assert_str_eq(s.route_caller, "");
	cr_assert_str_eq(s.route_callee, "");
}

Test(response, the_uas_choice_is_kept)
{
	char *out =
	    pass(INVITE("Supported: timer\r\nSession-Expires: 600\r\n"),
		 OK("7 INVITE", OUR_RR "Require: timer\r\nSession-Expires: 300;refresher=uas\r\n"), 200);
	struct seen s = table_now();

	cr_assert_null(strstr(out, "refresher=uac"));
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.d.interval, 300);
	cr_assert_eq(s.d.refresher, ST_PARTY_CALLEE);
}

Test(response, nothing_added_when_the_uac_does_not_support_timers)
{
	/* Session-Expires from an upstream proxy, no Supported: timer; the UAS ignored it. */
	char *out = pass(INVITE("Session-Expires: 600\r\n"), OK("7 INVITE", OUR_RR), 200);
	struct seen s = table_now();

	cr_assert_null(strstr(out, "Session-Expires"));
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.d.interval, 0, "tracked, but untimed");
}

Test(response, without_our_record_route_the_session_is_not_tracked)
{
	pass(INVITE("Supported: timer\r\n"), OK("7 INVITE", "Record-Route: <sip:10.9.9.9;lr>\r\n"), 200);
	cr_assert_eq(st_dialog_count(), 0);
	pass(INVITE("Supported: timer\r\n"), OK("7 INVITE", ""), 200);
	cr_assert_eq(st_dialog_count(), 0);
}

Test(response, route_sets_split_around_our_entries)
{
	pass(INVITE("Supported: timer\r\n"),
	     OK("7 INVITE", "Record-Route: <sip:callee-side.example;lr>, <sip:near-callee.example;lr>\r\n"
			    "Record-Route: <sip:127.0.0.1:5060;lr>,<sip:127.0.0.1;transport=tcp;lr>\r\n"
			    "Record-Route: <sip:near-caller.example;lr>\r\n"),
	     200);
	struct seen s = table_now();

	cr_assert_eq(s.n, 1);
	cr_assert_str_eq(s.route_callee, "<sip:near-callee.example;lr>, <sip:callee-side.example;lr>");
	cr_assert_str_eq(s.route_caller, "<sip:near-caller.example;lr>");
}

Test(response, reinvite_and_update_refresh_the_session)
{
	pass(INVITE("Supported: timer\r\nSession-Expires: 90\r\n"),
	     OK("7 INVITE", OUR_RR "Session-Expires: 90;refresher=uac\r\n"), 200);
	cr_assert_eq(table_now().expires_in, 60000);
	fake_advance(45000);
	pass(INDIALOG("INVITE", "8", "a1", "b1", "Supported: timer\r\nSession-Expires: 90;refresher=uac\r\n"),
	     OK("8 INVITE", "Session-Expires: 90;refresher=uac\r\n"), 200);
	cr_assert_eq(table_now().expires_in, 60000, "moved by the re-INVITE");
	fake_advance(45000);
	/* The callee refreshes with UPDATE this time; its 2xx lacks the header, so we add it. */
	char *out = pass(INDIALOG("UPDATE", "1", "b1", "a1", "Supported: timer\r\nSession-Expires: 120\r\n"),
			 OK("1 UPDATE", ""), 200);
	cr_assert_not_null(strstr(out, "Session-Expires: 120;refresher=uac"), "%s", out);
	struct seen s = table_now();

	cr_assert_eq(s.expires_in, 88000, "moved by the UPDATE");
	cr_assert_eq(s.d.refresher, ST_PARTY_CALLEE);
	cr_assert_eq(s.d.callee_cseq, 1);
	cr_assert_eq(s.d.caller_cseq, 8);
	cr_assert_eq(fake_expired, 0);
	fake_advance(88000);
	cr_assert_eq(fake_expired, 1);
}

Test(response, bye_removes_the_dialog)
{
	pass(INVITE("Supported: timer\r\n"), OK("7 INVITE", OUR_RR), 200);
	pass(INDIALOG("BYE", "9", "b1", "a1", ""), OK("9 BYE", ""), 200);
	cr_assert_eq(st_dialog_count(), 0);
	cr_assert_eq(fake_ntimers, 0);
}

Test(response, a_bye_that_fails_leaves_the_dialog)
{
	pass(INVITE("Supported: timer\r\n"), OK("7 INVITE", OUR_RR), 200);
	pass(INDIALOG("BYE", "9", "a1", "b1", ""), NULL, 500);
	cr_assert_eq(st_dialog_count(), 1);
}

Test(response, refresh_failures_481_and_408_remove_the_dialog)
{
	pass(INVITE("Supported: timer\r\n"), OK("7 INVITE", OUR_RR), 200);
	pass(INDIALOG("INVITE", "8", "a1", "b1", "Supported: timer\r\n"), NULL, 408);
	cr_assert_eq(st_dialog_count(), 0);
	pass(INVITE("Supported: timer\r\n"), OK("7 INVITE", OUR_RR), 200);
	pass(INDIALOG("UPDATE", "8", "a1", "b1", "Supported: timer\r\n"), NULL, 481);
	cr_assert_eq(st_dialog_count(), 0);
	/* Any other failure of a refresh keeps the session (it is refreshed later or expires). */
	pass(INVITE("Supported: timer\r\n"), OK("7 INVITE", OUR_RR), 200);
	pass(INDIALOG("INVITE", "8", "a1", "b1", "Supported: timer\r\n"), NULL, 491);
	cr_assert_eq(st_dialog_count(), 1);
}

Test(response, failures_of_the_initial_invite_create_nothing)
{
	pass(INVITE("Supported: timer\r\n"), NULL, 486);
	pass(INVITE("Supported: timer\r\n"),
	     "SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK1\r\n"
	     "From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>;tag=b1\r\n"
	     "Call-ID: call-1@test\r\nCSeq: 7 INVITE\r\n" OUR_RR "Contact: <sip:bob@127.0.0.2:6000>\r\n"
	     "Content-Length: 0\r\n\r\n",
	     180);
	cr_assert_eq(st_dialog_count(), 0);
}

static struct st_request read_req(const char *extra)
{
	char text[1024];
	struct st_request r;
	struct sipd_msg *m;

	snprintf(text, sizeof(text), INVITE("%s"), extra);
	m = fake_msg(text);
	st_request_read(&r, m);
	/* m's buffer is text: read everything before freeing. */
	parser_free(m);
	return r;
}

Test(request, timer_headers_are_read_in_all_their_forms)
{
	struct st_request r =
	    read_req("Supported: 100rel, TIMER\r\nx: 1800;refresher=uac\r\nMin-SE: 120\r\n");

	cr_assert(r.supports_timer);
	cr_assert(r.se_present && !r.se_malformed);
	cr_assert_eq(r.se, 1800);
	cr_assert(r.min_se_present && !r.min_se_malformed);
	cr_assert_eq(r.min_se, 120);
	r = read_req("k: replaces\r\nk: timer\r\n");
	cr_assert(r.supports_timer, "a second Supported line counts");
	cr_assert(!r.se_present && !r.min_se_present);
	r = read_req("Supported: timers\r\n");
	cr_assert(!r.supports_timer, "only the exact option tag");
}

Test(request, malformed_values_are_flagged)
{
	const char *bad_se[] = {"Session-Expires: abc\r\n",
				"Session-Expires: -5\r\n",
				"Session-Expires: 99999999999\r\n",
				"Session-Expires: 90;refresher=me\r\n",
				"Session-Expires: 90\r\nSession-Expires: 120\r\n",
				"Session-Expires: 1800, 900\r\n",
				"Session-Expires: \r\n"};
	const char *bad_min[] = {"Min-SE: x\r\n", "Min-SE: 90\r\nMin-SE: 100\r\n", "Min-SE: 4294967296\r\n"};

	for (size_t i = 0; i < sizeof(bad_se) / sizeof(bad_se[0]); i++) {
		struct st_request r = read_req(bad_se[i]);

		cr_assert(r.se_present && r.se_malformed, "%s", bad_se[i]);
	}
	for (size_t i = 0; i < sizeof(bad_min) / sizeof(bad_min[0]); i++) {
		struct st_request r = read_req(bad_min[i]);

		cr_assert(r.min_se_present && r.min_se_malformed, "%s", bad_min[i]);
	}
}
