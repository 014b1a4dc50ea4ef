/* Edits and serialization: untouched bytes stay, edits land where they belong. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>

#include "corpus.h"

static const char req[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-e1;rport\r\n"
			  "Max-Forwards: 70\r\n"
			  "From: <sip:alice@example.com>;tag=a\r\n"
			  "To: <sip:bob@example.com>\r\n"
			  "Call-ID: edit-1\r\n"
			  "CSeq: 1 INVITE\r\n"
			  "X-Remove: me\r\n"
			  "Content-Type: text/plain\r\n"
			  "Content-Length: 5\r\n"
			  "\r\n"
			  "hello";

static struct sipd_str ser(struct sipd_msg *m)
{
	struct sipd_str out = {0};

	cr_assert_eq(parser_serialize(m, &out), 0);
	return out;
}

static bool has(struct sipd_str s, const char *needle)
{
	return memmem(s.p, s.len, needle, strlen(needle)) != NULL;
}

Test(edit, no_edits_is_identity)
{
	struct sipd_msg *m = parse_str(req);
	struct sipd_str s;

	cr_assert_not_null(m);
	s = ser(m);
	cr_expect_eq(s.len, sizeof(req) - 1);
	cr_expect_eq(memcmp(s.p, req, s.len), 0);
	parser_free(m);
}

Test(edit, all_kinds)
{
	struct sipd_msg *m = parse_str(req);
	struct sipd_hdr *x;
	struct sipd_str s;

	cr_assert_not_null(m);
	x = sipd_msg_hdr_find(m, SIPD_STR("X-Remove"));
	cr_assert_not_null(x);
	cr_assert_eq(parser_set_ruri(m, SIPD_STR("sip:bob@192.0.2.99:5080")), 0);
	cr_assert_eq(parser_via_push(m, SIPD_STR("SIP/2.0/UDP proxy.example.com;branch=z9hG4bK-p1")), 0);
	cr_assert_eq(parser_via_push(m, SIPD_STR("SIP/2.0/UDP proxy2.example.com;branch=z9hG4bK-p2")), 0);
	cr_assert_eq(parser_hdr_remove(m, x), 0);
	cr_assert_eq(parser_hdr_replace(m, m->h_max_forwards, SIPD_STR("69")), 0);
	cr_assert_eq(parser_hdr_append(m, SIPD_STR("Record-Route"), SIPD_STR("<sip:proxy.example.com;lr>")),
		     0);
	cr_assert_eq(parser_hdr_append(m, SIPD_STR("X-Last"), SIPD_STR("1")), 0);
	s = ser(m);
	cr_expect(has(s, "INVITE sip:bob@192.0.2.99:5080 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP proxy2.example.com;branch=z9hG4bK-p2\r\n"
			 "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK-p1\r\n"
			 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-e1;rport\r\n"
			 "Max-Forwards: 69\r\n"),
		  "%.*s", SIPD_STR_FMT(s));
	cr_expect(!has(s, "X-Remove"));
	cr_expect(
	    has(s, "Content-Length: 5\r\nRecord-Route: <sip:proxy.example.com;lr>\r\nX-Last: 1\r\n\r\nhello"),
	    "%.*s", SIPD_STR_FMT(s));
	cr_expect(sipd_str_eq(parser_current_ruri(m), SIPD_STR("sip:bob@192.0.2.99:5080")));
	/* the original buffer is never written */
	cr_expect(sipd_str_eq(m->ruri, SIPD_STR("sip:bob@example.com")));
	parser_free(m);
}

Test(edit, ruri_reparsed_after_set)
{
	struct sipd_msg *m = parse_str(req);
	const struct sipd_uri *u;

	cr_assert_not_null(m);
	cr_assert_eq(sipd_msg_ruri(m, &u), 0);
	cr_expect(sipd_str_eq(u->host, SIPD_STR("example.com")));
	cr_assert_eq(parser_set_ruri(m, SIPD_STR("sip:carol@192.0.2.5")), 0);
	cr_assert_eq(parser_set_ruri(m, SIPD_STR("sip:dave@192.0.2.6")), 0);
	cr_assert_eq(sipd_msg_ruri(m, &u), 0);
	cr_expect(sipd_str_eq(u->user, SIPD_STR("dave")));
	cr_expect_eq(parser_set_ruri(m, SIPD_STR("sip:a b")), EINVAL);
	cr_expect_eq(parser_set_ruri(m, SIPD_STR("")), EINVAL);
	parser_free(m);
}

Test(edit, body_and_length)
{
	struct sipd_msg *m = parse_str(req);
	struct sipd_str s;

	cr_assert_not_null(m);
	cr_assert_eq(parser_set_body(m, SIPD_STR("application/sdp"), SIPD_STR("v=0\r\n")), 0);
	s = ser(m);
	cr_expect(has(s, "Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"), "%.*s",
		  SIPD_STR_FMT(s));
	cr_expect(!has(s, "hello"));
	cr_assert_eq(parser_set_body(m, SIPD_STR(""), SIPD_STR("")), 0);
	s = ser(m);
	cr_expect(!has(s, "Content-Type"));
	cr_expect(has(s, "Content-Length: 0\r\n\r\n"));
	cr_expect_eq(s.p[s.len - 1], '\n');
	parser_free(m);
}

Test(edit, body_without_length_header)
{
	struct sipd_msg *m = parse_str("MESSAGE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n");
	struct sipd_str s;

	cr_assert_not_null(m);
	cr_assert_eq(parser_set_body(m, SIPD_STR("text/plain"), SIPD_STR("hi")), 0);
	cr_assert_eq(parser_set_body(m, SIPD_STR("text/plain"), SIPD_STR("hey")), 0);
	s = ser(m);
	cr_expect(sipd_str_eq(s, SIPD_STR("MESSAGE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n"
					  "Content-Length: 3\r\nContent-Type: text/plain\r\n\r\nhey")),
		  "%.*s", SIPD_STR_FMT(s));
	parser_free(m);
}

Test(edit, unterminated_message_gets_terminated)
{
	struct sipd_msg *m = parse_str("OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h");
	struct sipd_str s;

	cr_assert_not_null(m);
	cr_assert_eq(parser_hdr_append(m, SIPD_STR("X-A"), SIPD_STR("1")), 0);
	s = ser(m);
	cr_expect(sipd_str_eq(s, SIPD_STR("OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nX-A: 1\r\n\r\n")),
		  "%.*s", SIPD_STR_FMT(s));
	parser_free(m);
}

Test(edit, bad_edits_refused)
{
	struct sipd_msg *m = parse_str(req);
	struct sipd_hdr fake = {0};

	cr_assert_not_null(m);
	cr_expect_eq(parser_hdr_append(m, SIPD_STR("Bad Name"), SIPD_STR("v")), EINVAL);
	cr_expect_eq(parser_hdr_append(m, SIPD_STR("X"), SIPD_STR("a\r\nInjected: 1")), EINVAL);
	cr_expect_eq(parser_hdr_remove(m, &fake), EINVAL);
	cr_expect_eq(parser_via_push(m, SIPD_STR("x\ny")), EINVAL);
	/* removing twice or replacing a removed line is one edit */
	cr_expect_eq(parser_hdr_remove(m, m->h_to), 0);
	cr_expect_eq(parser_hdr_replace(m, m->h_to, SIPD_STR("<sip:x@h>")), 0);
	cr_expect(has(ser(m), "\r\nTo: <sip:x@h>\r\n"));
	parser_free(m);
}

static void set_src(struct sipd_rcvinfo *ri, const char *ip, uint16_t port)
{
	memset(ri, 0, sizeof(*ri));
	ri->proto = SIPD_PROTO_UDP;
	if (strchr(ip, ':')) {
		ri->src.sin6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, ip, &ri->src.sin6.sin6_addr);
		ri->src.sin6.sin6_port = htons(port);
	} else {
		ri->src.sin.sin_family = AF_INET;
		inet_pton(AF_INET, ip, &ri->src.sin.sin_addr);
		ri->src.sin.sin_port = htons(port);
	}
}

Test(edit, via_mark_received)
{
	struct sipd_rcvinfo ri;
	struct sipd_msg *m;
	const char *why;
	struct sipd_str s;

	set_src(&ri, "198.51.100.9", 40000);
	cr_assert_eq(parser_parse(&m, req, sizeof(req) - 1, &ri, &why), 0);
	cr_assert_eq(parser_via_mark_received(m), 0);
	cr_assert_eq(parser_via_mark_received(m), 0, "idempotent");
	s = ser(m);
	cr_expect(
	    has(s, "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-e1;rport=40000;received=198.51.100.9\r\n"),
	    "%.*s", SIPD_STR_FMT(s));
	parser_free(m);

	/* same address and no rport: nothing to add */
	set_src(&ri, "192.0.2.1", 5060);
	cr_assert_eq(
	    parser_parse(&m, "OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-x\r\n\r\n",
			 69, &ri, &why),
	    0);
	cr_assert_eq(parser_via_mark_received(m), 0);
	cr_expect_eq(parser_msg_of(m)->edit_count, 0);
	parser_free(m);

	/* a host name always gets received */
	set_src(&ri, "2001:db8::5", 5062);
	cr_assert_eq(parser_parse(&m, "OPTIONS sip:a@h SIP/2.0\r\nv: SIP/2.0/UDP pc.example.com\r\n\r\n", 58,
				  &ri, &why),
		     0);
	cr_assert_eq(parser_via_mark_received(m), 0);
	cr_expect(has(ser(m), "v: SIP/2.0/UDP pc.example.com;received=2001:db8::5\r\n"));
	parser_free(m);
}

/* Found by the fuzzer: a folded line of only white space must not move the end of the Via value. */
Test(edit, received_after_blank_continuation_line)
{
	static const char folded[] = "OPTIONS sip:a@h SIP/2.0\r\n"
				     "Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-f\r\n"
				     "   \r\n"
				     "Call-ID: fold-1\r\n"
				     "\r\n";
	struct sipd_msg *m, *again = NULL;
	struct sipd_rcvinfo ri;
	const struct sipd_via *v;
	const char *why;
	struct sipd_str s;

	set_src(&ri, "198.51.100.9", 40000);
	cr_assert_eq(parser_parse(&m, folded, sizeof(folded) - 1, &ri, &why), 0);
	cr_assert_eq(sipd_msg_via(m, &v), 0);
	cr_expect(sipd_str_eq(v->branch, SIPD_STR("z9hG4bK-f")));
	cr_expect(sipd_str_eq(m->h_via->value, SIPD_STR("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-f")), "%.*s",
		  SIPD_STR_FMT(m->h_via->value));
	cr_assert_eq(parser_via_mark_received(m), 0);
	s = ser(m);
	cr_expect(has(s, "branch=z9hG4bK-f;received=198.51.100.9\r\n"), "%.*s", SIPD_STR_FMT(s));
	cr_expect_eq(parser_parse(&again, s.p, s.len, NULL, &why), 0, "the edited message parses again");
	parser_free(again);
	parser_free(m);
}

Test(edit, clone_keeps_edits)
{
	struct sipd_msg *m = parse_str(req), *c;
	struct sipd_str a, b;

	cr_assert_not_null(m);
	cr_assert_eq(parser_hdr_append(m, SIPD_STR("X-A"), SIPD_STR("1")), 0);
	cr_assert_eq(parser_hdr_remove(m, m->h_to), 0);
	cr_assert_eq(parser_clone(&c, m), 0);
	cr_expect_neq(c->buf, m->buf);
	a = ser(m);
	b = ser(c);
	cr_expect(sipd_str_eq(a, b));
	parser_free(m);
	/* the clone lives on its own */
	cr_assert_eq(parser_hdr_append(c, SIPD_STR("X-B"), SIPD_STR("2")), 0);
	cr_expect(has(ser(c), "X-A: 1\r\nX-B: 2\r\n"));
	cr_expect(sipd_str_eq(c->call_id, SIPD_STR("edit-1")));
	parser_free(c);
}
