/* Interpreter tests over a fake message: control flow, results, regex, pseudo-variables, core functions,
 * receive. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sipd/service.h>

#include "fake_msg.h"
#include "script_test.h"

static char cap[1024]; /* what t_cap() expanded last */
static int cap_route;  /* ctx->route seen by t_cap() */

static enum sipd_result t_cap(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct sipd_str out;
	if (sipd_fmt_eval(ctx, args[0].fmt, cap, sizeof(cap), &out))
		return SIPD_ERROR;
	cap_route = ctx->route;
	return SIPD_TRUE;
}

static const struct sipd_script_fn cap_fns[] = {
    {.name = "t_cap", .fn = t_cap, .args = {SIPD_ARG_FMT}},
    {.name = NULL},
};

static void setup(void)
{
	script_test_setup();
	cr_assert_eq(sipd_script_register("test_cap", cap_fns), 0);
	cap[0] = '\0';
}

TestSuite(script_run, .init = setup, .fini = script_test_teardown);

static struct fake_msg *msg;
static struct sipd_ctx ctx;

/* Loads text as the running script and runs request_route (or reply_route for replies) on raw. */
static enum sipd_result run(const char *text, const char *raw)
{
	char err[1024];
	int rc = script_load(script_test_file(text), err, sizeof(err));
	cr_assert_eq(rc, 0, "%s", err);
	if (msg)
		fake_msg_free(msg);
	msg = fake_msg_new(raw);
	ctx = (struct sipd_ctx){.msg = &msg->m,
				.rcv = msg->m.rcv,
				.route = msg->m.is_request ? SIPD_ROUTE_REQUEST : SIPD_ROUTE_REPLY};
	return sipd_script_run_route(&ctx,
				     msg->m.is_request ? SCRIPT_ROUTE_ID_REQUEST : SCRIPT_ROUTE_ID_REPLY);
}

static const char *expand(const char *fmt, const char *raw)
{
	char text[512];
	snprintf(text, sizeof(text), "request_route { t_cap(\"%s\"); }\nreply_route { t_cap(\"%s\"); }\n",
		 fmt, fmt);
	cr_assert_eq(run(text, raw), SIPD_TRUE);
	return cap;
}

Test(script_run, pseudo_variables_of_a_request)
{
	static const struct {
		const char *pv, *want;
	} cases[] = {
	    {"$rm", "INVITE"},
	    {"$ru", "sip:alice@example.com:5062;transport=udp"},
	    {"$rU", "alice"},
	    {"$rd", "example.com"},
	    {"$rp", "5062"},
	    {"$fu", "sip:bob@biloxi.example.com"},
	    {"$fU", "bob"},
	    {"$fd", "biloxi.example.com"},
	    {"$ft", "f1"},
	    {"$tu", "sip:alice@example.com"},
	    {"$tU", "alice"},
	    {"$td", "example.com"},
	    {"[$tt]", "[]"},
	    {"$ci", "call-1@biloxi"},
	    {"$cs", "314"},
	    {"$si:$sp", "192.0.2.7:5070"},
	    {"$proto", "udp"},
	    {"$ua", "test-ua/1.0"},
	    {"[$rs$rr]", "[]"},
	    {"$hdr(X-Custom)", "hello"},
	    {"$hdr(v)", "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK1"},
	    {"[$var(unset)]", "[]"},
	    {"$$rm is $rm", "$rm is INVITE"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_str_eq(expand(cases[i].pv, FAKE_INVITE), cases[i].want, "%s", cases[i].pv);
	char ml[16];
	snprintf(ml, sizeof(ml), "%zu", strlen(FAKE_INVITE));
	cr_assert_str_eq(expand("$ml", FAKE_INVITE), ml);
	/* Default port of the scheme when the URI has none. */
	cr_assert_str_eq(expand("$rp", "OPTIONS sips:[::1] SIP/2.0\nCSeq: 1 OPTIONS\n"), "5061");
	cr_assert_str_eq(expand("$rd", "OPTIONS sips:[::1] SIP/2.0\nCSeq: 1 OPTIONS\n"), "[::1]");
}

Test(script_run, pseudo_variables_of_a_reply)
{
	const char *raw = "SIP/2.0 180 Ringing\nVia: SIP/2.0/UDP h\nCSeq: 7 BYE\nTo: <sip:a@b>;tag=t9\n";
	cr_assert_str_eq(expand("$rs $rr $rm $tt $cs [$ru]", raw), "180 Ringing BYE t9 7 []");
	cr_assert_eq(cap_route, SIPD_ROUTE_REPLY);
}

Test(script_run, short_circuit_and_not)
{
	cr_assert_eq(run("request_route {\n"
			 "  if (t_false() && t_count()) t_count();\n"
			 "  if (t_true() || t_count()) ;\n"
			 "  if (!t_false()) t_count();\n"
			 "  if (!(t_true() && t_false()) && !t_false()) t_count();\n"
			 "  if (t_false()) t_count(); else if (t_false()) t_count(); else { t_count(); }\n"
			 "}",
			 FAKE_INVITE),
		     SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 3);
}

Test(script_run, comparisons)
{
	cr_assert_eq(
	    run("request_route {\n"
		"  if ($rm == \"INVITE\") t_count();\n" /* 1 */
		"  if ($rm != \"invite\") t_count();\n" /* 2: case-sensitive */
		"  if ($cs == 314 && $cs > 300 && $cs < 315 && $cs >= 314 && $cs <= 314) t_count();\n"
		"  if ($cs == \"314\") t_count();\n"       /* 4: int vs string compares text */
		"  if ($rU < 5) t_count();\n"              /* not a number: false */
		"  if (\"10\" > 9) t_count();\n"           /* 5 */
		"  if ($hdr(X-None) == \"\") t_count();\n" /* 6: absent reads as empty */
		"  if ($hdr(X-None)) t_count();\n"
		"  if ($hdr(X-Custom) && 1 && \"x\") t_count();\n" /* 7 */
		"  if (0 || \"\") t_count();\n"
		"}",
		FAKE_INVITE),
	    SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 7);
}

Test(script_run, regex_match)
{
	cr_assert_eq(run("request_route {\n"
			 "  if ($ru =~ \"^sip:alice@example\\\\.com\") t_count();\n"
			 "  if ($ru !~ \"^sips:\") t_count();\n"
			 "  if ($ua =~ \"^evil\") t_count();\n"
			 "  if ($cs =~ \"^3[0-9]+$\") t_count();\n"
			 "  if ($hdr(X-None) =~ \"^$\") t_count();\n"
			 "}",
			 FAKE_INVITE),
		     SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 4);
}

Test(script_run, results_stop_error_false_suspend)
{
	const char *text = "request_route { t_false(); t_count(); t_ret(); t_count(); }";
	t_ret_value = SIPD_STOP;
	cr_assert_eq(run(text, FAKE_INVITE), SIPD_STOP);
	cr_assert_eq(atomic_load(&t_calls), 1);
	t_ret_value = SIPD_ERROR;
	cr_assert_eq(run(text, FAKE_INVITE), SIPD_ERROR);
	cr_assert_eq(atomic_load(&t_calls), 2);
	t_ret_value = SIPD_SUSPEND;
	cr_assert_eq(run(text, FAKE_INVITE), SIPD_SUSPEND);
	cr_assert_eq(atomic_load(&t_calls), 3);
	/* Inside an expression too: STOP ends processing, it is not "true". */
	t_ret_value = SIPD_STOP;
	cr_assert_eq(run("request_route { if (t_ret()) t_count(); t_count(); }", FAKE_INVITE), SIPD_STOP);
	cr_assert_eq(atomic_load(&t_calls), 3);
	t_ret_value = (enum sipd_result)42;
	cr_assert_eq(run("request_route { t_ret(); t_count(); }", FAKE_INVITE), SIPD_ERROR);
	cr_assert_eq(atomic_load(&t_calls), 3);
}

Test(script_run, exit_drop_return)
{
	cr_assert_eq(run("request_route { route(A); t_count(); }\nroute A { exit; }", FAKE_INVITE),
		     SIPD_STOP);
	cr_assert_eq(atomic_load(&t_calls), 0);
	cr_assert_not(ctx.dropped);
	cr_assert_eq(run("request_route { drop; t_count(); }", FAKE_INVITE), SIPD_STOP);
	cr_assert(ctx.dropped);
	cr_assert_eq(run("request_route { drop(); }", FAKE_INVITE), SIPD_STOP);
	cr_assert(ctx.dropped);
	cr_assert_eq(run("request_route { return 0; }", FAKE_INVITE), SIPD_FALSE);
	cr_assert_eq(run("request_route { return; t_count(); }", FAKE_INVITE), SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 0);
}

Test(script_run, route_calls_and_return_values)
{
	cr_assert_eq(run("request_route {\n"
			 "  if (route(ZERO)) t_int(1);\n"
			 "  if (route(NEG)) t_int(2);\n"
			 "  if (route(POS)) t_count();\n"
			 "  if (route(BARE)) t_count();\n"
			 "  if (route(FALL)) t_count();\n"
			 "  route(ZERO); t_count();\n"
			 "}\n"
			 "route ZERO { return 0; t_int(3); }\n"
			 "route NEG { return -1; }\n"
			 "route POS { return 7; }\n"
			 "route BARE { return; }\n"
			 "route FALL { if (route(ZERO)) t_int(4); }\n",
			 FAKE_INVITE),
		     SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 4);
	cr_assert_eq(t_last_int, 0, "a false route() ran its then-branch (%ld)", t_last_int);
}

Test(script_run, recursion_is_bounded)
{
	cr_assert_eq(
	    run("request_route { route(R); t_int(1); }\nroute R { t_count(); route(R); }", FAKE_INVITE),
	    SIPD_ERROR);
	cr_assert_eq(atomic_load(&t_calls), SCRIPT_MAX_DEPTH - 1);
	cr_assert_eq(t_last_int, 0);
}

Test(script_run, assignments)
{
	cr_assert_eq(run("request_route {\n"
			 "  $rd = \"b.example\";\n"
			 "  t_cap(\"$ru\");\n"
			 "}",
			 FAKE_INVITE),
		     SIPD_TRUE);
	cr_assert_str_eq(cap, "sip:alice@b.example:5062;transport=udp");
	cr_assert_eq(run("request_route {\n"
			 "  $ru = \"sip:$fU@example.net\";\n"
			 "  $rU = \"carol\";\n"
			 "  $var(n) = 42; $var(s) = \"$rU/$cs\"; $var(copy) = $var(s);\n"
			 "  if ($var(n) == 42 && $var(n) > 41) t_count();\n"
			 "  $var(none) = $hdr(X-None);\n"
			 "  t_cap(\"$ru $var(s) $var(copy) [$var(none)] $var(n)\");\n"
			 "}",
			 FAKE_INVITE),
		     SIPD_TRUE);
	cr_assert_str_eq(cap, "sip:carol@example.net carol/314 carol/314 [] 42");
	cr_assert_eq(msg->ruri_sets, 2);
	cr_assert_eq(atomic_load(&t_calls), 1);
	/* Removing the user; the Request-URI of a reply cannot be set. */
	cr_assert_eq(run("request_route { $rU = \"\"; t_cap(\"$ru\"); }", FAKE_INVITE), SIPD_TRUE);
	cr_assert_str_eq(cap, "sip:example.com:5062;transport=udp");
	cr_assert_eq(run("request_route { exit; }\nreply_route { $ru = \"sip:x@y\"; }",
			 "SIP/2.0 200 OK\nCSeq: 1 INVITE\n"),
		     SIPD_ERROR);
}

Test(script_run, variables_are_per_message)
{
	const char *text = "request_route { t_cap(\"[$var(a)]\"); $var(a) = \"set\"; t_run(SUB); }\n"
			   "route SUB { t_cap(\"$var(a)\"); }";
	cr_assert_eq(run(text, FAKE_INVITE), SIPD_TRUE);
	cr_assert_str_eq(cap, "set");
	/* A new message starts with no variables. */
	cr_assert_eq(run("request_route { t_cap(\"[$var(a)]\"); $var(a) = \"x\"; }", FAKE_INVITE), SIPD_TRUE);
	cr_assert_str_eq(cap, "[]");
}

Test(script_run, run_route_by_id_sets_route_kind)
{
	cr_assert_eq(
	    run("request_route { t_route(F); }\nfailure_route F { t_cap(\"failure\"); }", FAKE_INVITE),
	    SIPD_TRUE);
	cr_assert_geq(t_last_route, 2);
	cr_assert_eq(sipd_script_run_route(&ctx, t_last_route), SIPD_TRUE);
	cr_assert_str_eq(cap, "failure");
	cr_assert_eq(cap_route, SIPD_ROUTE_FAILURE);
	cr_assert_eq(ctx.route, SIPD_ROUTE_REQUEST);
	cr_assert_eq(sipd_script_run_route(&ctx, 9999), SIPD_ERROR);
}

Test(script_run, has_to_tag_and_is_method)
{
	cr_assert_eq(
	    run("request_route { if (has_to_tag()) t_int(1); if (is_method(\"INVITE|FOO\")) t_count(); "
		"if (is_method(\"BYE\")) t_int(2); }",
		FAKE_INVITE),
	    SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 1);
	cr_assert_eq(t_last_int, 0);
	cr_assert_eq(run("request_route { if (has_to_tag() && is_method(\"BAR | FOO\")) t_count(); }",
			 "FOO sip:x@y SIP/2.0\nTo: <sip:x@y>;tag=abc\nCSeq: 1 FOO\n"),
		     SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 2);
	/* A reply is matched on its CSeq method. */
	cr_assert_eq(run("request_route { exit; }\nreply_route { if (is_method(\"REGISTER\")) t_count(); }",
			 "SIP/2.0 200 OK\nCSeq: 2 REGISTER\n"),
		     SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 3);
}

Test(script_run, uri_is_myself)
{
	char *specs[] = {"udp:127.0.0.1:5060"};
	char err[256];
	cr_assert_eq(listen_set(specs, 1, err, sizeof(err)), 0, "%s", err);
	const char *text = "request_route { if (uri_is_myself()) t_count(); }";
	cr_assert_eq(run(text, "OPTIONS sip:127.0.0.1 SIP/2.0\nCSeq: 1 OPTIONS\n"), SIPD_TRUE);
	cr_assert_eq(run(text, "OPTIONS sip:bob@127.0.0.1:5060;lr SIP/2.0\nCSeq: 1 OPTIONS\n"), SIPD_TRUE);
	cr_assert_eq(run(text, "OPTIONS sip:bob@127.0.0.1:5099 SIP/2.0\nCSeq: 1 OPTIONS\n"), SIPD_TRUE);
	cr_assert_eq(run(text, "OPTIONS sip:bob@example.com SIP/2.0\nCSeq: 1 OPTIONS\n"), SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 2);
	listen_reset();
}

Test(script_run, append_and_remove_headers)
{
	cr_assert_eq(
	    run("request_route { append_hf(\"X-User: $rU\"); if (remove_hf(\"X-Custom\")) t_count(); "
		"if (remove_hf(\"X-Nothing\")) t_count(); if (remove_hf(\"i\")) t_count(); }",
		FAKE_INVITE),
	    SIPD_TRUE);
	cr_assert_eq(msg->appended, 1);
	cr_assert(sipd_str_eq(msg->last_name, SIPD_STR("X-User")));
	cr_assert(sipd_str_eq(msg->last_value, SIPD_STR("alice")));
	cr_assert_eq(msg->removed, 3); /* two X-Custom and Call-ID by its compact name */
	cr_assert_eq(atomic_load(&t_calls), 2);
	/* A value expanding to a broken header line is refused at run time. */
	cr_assert_eq(run("request_route { if (!append_hf(\"$hdr(X-None): x\")) t_count(); }", FAKE_INVITE),
		     SIPD_TRUE);
	cr_assert_eq(msg->appended, 0);
	cr_assert_eq(atomic_load(&t_calls), 3);
}

/* A UDP transport that keeps what it was asked to send. */
static char sent[2048];
static int sent_count;
static int capture_send(const struct sipd_dest *dst, const char *buf, size_t len)
{
	snprintf(sent, sizeof(sent), "%.*s", (int)len, buf);
	sent_count++;
	return 0;
}
static const struct sipd_transport capture_udp = {
    .proto = SIPD_PROTO_UDP, .name = "udp", .send = capture_send};

Test(script_run, reply_sends_and_stops)
{
	cr_assert_eq(sipd_transport_register(&capture_udp), 0);
	cr_assert_eq(run("request_route { reply(404, \"No $rU here\"); t_count(); }", FAKE_INVITE),
		     SIPD_STOP);
	cr_assert_eq(sent_count, 1);
	cr_assert(strncmp(sent, "SIP/2.0 404 No alice here\r\n", 27) == 0, "%s", sent);
	cr_assert(ctx.replied);
	cr_assert_eq(atomic_load(&t_calls), 0);
	/* A provisional reply lets the route go on. */
	cr_assert_eq(run("request_route { reply(100, \"Trying\"); t_count(); }", FAKE_INVITE), SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 1);
}

/* ---- receive.c over a fake parser service ---- */

static struct fake_msg *parsed;
static int freed;

static int fake_parse(struct sipd_msg **out, const char *buf, size_t len, const struct sipd_rcvinfo *rcv,
		      const char **why)
{
	if (len < 3 || memcmp(buf, "BAD", 3) == 0) {
		*why = "not SIP";
		return EBADMSG;
	}
	parsed = fake_msg_new(buf);
	*out = &parsed->m;
	return 0;
}

static void fake_free(struct sipd_msg *m)
{
	fake_msg_free((struct fake_msg *)m);
	freed++;
}

static const struct sipd_parser_api fake_parser = {.parse = fake_parse, .free = fake_free};

static void rx(const struct sipd_rcvinfo *ri, const char *text)
{
	sipd_receive(ri, text, strlen(text));
}

Test(script_run, receive_answers_500_on_error)
{
	char err[512];
	struct sipd_rcvinfo ri = {.proto = SIPD_PROTO_UDP};
	ri.src.sin.sin_family = AF_INET;
	ri.src.sin.sin_port = htons(5070);
	inet_pton(AF_INET, "127.0.0.1", &ri.src.sin.sin_addr);

	cr_assert_eq(sipd_service_provide(SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION, &fake_parser), 0);
	cr_assert_eq(sipd_transport_register(&capture_udp), 0);
	cr_assert_eq(receive_start(), 0);
	cr_assert_eq(script_load(script_test_file("request_route { if (is_method(\"BYE\")) exit; t_ret(); }\n"
						  "reply_route { t_count(); }"),
				 err, sizeof(err)),
		     0, "%s", err);

	t_ret_value = SIPD_ERROR;
	rx(&ri, FAKE_INVITE);
	cr_assert_eq(sent_count, 1);
	cr_assert(strncmp(sent, "SIP/2.0 500 Server Internal Error", 33) == 0, "%s", sent);
	cr_assert_eq(freed, 1);
	/* ACK is never answered, even on error; exit sends nothing. */
	rx(&ri, "ACK sip:a@b SIP/2.0\nCSeq: 1 ACK\nVia: x\n");
	rx(&ri, "BYE sip:a@b SIP/2.0\nCSeq: 2 BYE\nVia: x\n");
	cr_assert_eq(sent_count, 1);
	/* Replies run reply_route and are dropped; garbage is counted and dropped. */
	rx(&ri, "SIP/2.0 200 OK\nCSeq: 1 INVITE\n");
	cr_assert_eq(atomic_load(&t_calls), 1);
	rx(&ri, "BAD");
	cr_assert_eq(freed, 4);
	cr_assert_eq(sent_count, 1);
}
