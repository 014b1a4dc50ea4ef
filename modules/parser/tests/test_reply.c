/* reply_build: RFC 3261 8.2.6 fields, Via received/rport, a stable To-tag, none on 100. */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>

#include "corpus.h"

static const char req[] =
    "INVITE sip:bob@example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-r1;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-r0\r\n"
    "v: SIP/2.0/TCP 10.0.0.3;branch=z9hG4bK-rr\r\n"
    "Max-Forwards: 70\r\n"
    "f: Alice <sip:alice@example.com>;tag=from1\r\n"
    "t: Bob <sip:bob@example.com>\r\n"
    "i: reply-1@example.com\r\n"
    "CSeq: 5 INVITE\r\n"
    "Timestamp: 54\r\n"
    "Record-Route: <sip:rr.example.com;lr>\r\n"
    "Content-Length: 0\r\n\r\n";

static struct sipd_msg *parse_from(const char *buf, const char *ip, uint16_t port)
{
	struct sipd_rcvinfo ri = {.proto = SIPD_PROTO_UDP};
	struct sipd_msg *m = NULL;
	const char *why;

	ri.src.sin.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &ri.src.sin.sin_addr);
	ri.src.sin.sin_port = htons(port);
	cr_assert_eq(parser_parse(&m, buf, strlen(buf), &ri, &why), 0);
	return m;
}

static struct sipd_str build(struct sipd_msg *m, int code, const char *reason, const char *extra)
{
	struct sipd_str out;

	cr_assert_eq(parser_reply_build(m, code, sipd_str_c(reason), sipd_str_c(extra), SIPD_STR_NULL,
					SIPD_STR_NULL, &out),
		     0);
	return out;
}

static bool has(struct sipd_str s, const char *needle)
{
	return memmem(s.p, s.len, needle, strlen(needle)) != NULL;
}

static struct sipd_str totag(struct sipd_str r)
{
	const char *p = memmem(r.p, r.len, ";tag=", 5), *e;

	if (!p || !(p = memmem(p + 5, r.len - (size_t)(p + 5 - r.p), ";tag=", 5)))
		return SIPD_STR_NULL;
	e = memchr(p, '\r', r.len - (size_t)(p - r.p));
	return (struct sipd_str){p + 5, (size_t)(e - p - 5)};
}

Test(reply, fields_in_order)
{
	struct sipd_msg *m = parse_from(req, "192.0.2.77", 5099);
	struct sipd_str r = build(m, 486, "", "Warning: 399 sipd \"busy\"\r\n");
	struct sipd_msg *p;
	const char *why;

	cr_expect(has(r, "SIP/2.0 486 Busy Here\r\n"
			 "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-r1;rport=5099;received=192.0.2.77, "
			 "SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-r0\r\n"
			 "Via: SIP/2.0/TCP 10.0.0.3;branch=z9hG4bK-rr\r\n"
			 "From: Alice <sip:alice@example.com>;tag=from1\r\n"
			 "To: Bob <sip:bob@example.com>;tag="),
		  "%.*s", SIPD_STR_FMT(r));
	cr_expect(has(r, "\r\nCall-ID: reply-1@example.com\r\nCSeq: 5 INVITE\r\nServer: "));
	cr_expect(has(r, "\r\nWarning: 399 sipd \"busy\"\r\nContent-Length: 0\r\n\r\n"));
	cr_expect(!has(r, "Record-Route"));
	cr_expect(!has(r, "Timestamp"), "only 100 copies Timestamp");
	/* the reply is itself a valid message */
	cr_assert_eq(parser_parse(&p, r.p, r.len, NULL, &why), 0);
	cr_expect_eq(p->status, 486);
	parser_free(p);
	parser_free(m);
}

Test(reply, to_tag_stable_and_distinct)
{
	struct sipd_msg *a = parse_from(req, "192.0.2.77", 5099), *b = parse_from(req, "192.0.2.77", 5099),
			*c;
	char other[sizeof(req)];
	struct sipd_str ta, tb, tc;

	ta = totag(build(a, 404, "", ""));
	tb = totag(build(b, 404, "Not Here", ""));
	cr_assert_gt(ta.len, 0);
	cr_expect(sipd_str_eq(ta, tb), "retransmission gets the same tag");
	cr_expect(sipd_str_eq(ta, totag(build(a, 480, "", ""))));
	memcpy(other, req, sizeof(req));
	memcpy(strstr(other, "z9hG4bK-r1"), "z9hG4bK-r2", 10);
	c = parse_from(other, "192.0.2.77", 5099);
	tc = totag(build(c, 404, "", ""));
	cr_expect(!sipd_str_eq(ta, tc), "another transaction, another tag");
	parser_free(a);
	parser_free(b);
	parser_free(c);
}

Test(reply, trying_has_no_tag_and_keeps_timestamp)
{
	struct sipd_msg *m = parse_from(req, "192.0.2.77", 5099);
	struct sipd_str r = build(m, 100, "", "");

	cr_expect(has(r, "SIP/2.0 100 Trying\r\n"));
	cr_expect(has(r, "\r\nTo: Bob <sip:bob@example.com>\r\n"), "%.*s", SIPD_STR_FMT(r));
	cr_expect(has(r, "\r\nTimestamp: 54\r\n"));
	parser_free(m);
}

Test(reply, existing_tag_kept_and_body)
{
	struct sipd_msg *m =
	    parse_str("BYE sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-b\r\n"
		      "From: <sip:x@h>;tag=1\r\nTo: <sip:a@h>;tag=2\r\nCall-ID: c\r\nCSeq: 2 BYE\r\n\r\n");
	struct sipd_str r;

	cr_assert_not_null(m);
	cr_assert_eq(parser_reply_build(m, 200, SIPD_STR_NULL, SIPD_STR("X-A: 1"), SIPD_STR("text/plain"),
					SIPD_STR("bye!"), &r),
		     0);
	cr_expect(has(r, "\r\nTo: <sip:a@h>;tag=2\r\n"));
	cr_expect(has(r, "\r\nX-A: 1\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbye!"), "%.*s",
		  SIPD_STR_FMT(r));
	cr_expect_eq(
	    parser_reply_build(m, 99, SIPD_STR_NULL, SIPD_STR_NULL, SIPD_STR_NULL, SIPD_STR_NULL, &r),
	    EINVAL);
	cr_expect_eq(parser_reply_build(m, 200, SIPD_STR("OK\r\nX: y"), SIPD_STR_NULL, SIPD_STR_NULL,
					SIPD_STR_NULL, &r),
		     EINVAL);
	parser_free(m);
}

Test(reply, missing_headers_still_answer)
{
	struct sipd_msg *m =
	    parse_str("OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-m\r\n\r\n");
	struct sipd_str r;

	cr_assert_not_null(m);
	r = build(m, 400, "Missing From header", "");
	cr_expect(
	    has(r, "SIP/2.0 400 Missing From header\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK-m\r\nServer: "));
	parser_free(m);
}
