/* Laziness: the first pass parses no header value; access parses just that header, once. */
#include <criterion/criterion.h>
#include <errno.h>

#include "corpus.h"

static const char req[] = "INVITE sip:bob@example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK-1\r\n"
			  "Contact: <sip:x@h>\r\n"
			  "Via: SIP/2.0/UDP b.example.com;branch=z9hG4bK-0\r\n"
			  "From: <sip:alice@example.com>;tag=1\r\n"
			  "To: <sip:bob@example.com>\r\n"
			  "Call-ID: lazy\r\n"
			  "CSeq: 1 INVITE\r\n"
			  "Contact: <sip:y@h>, <sip:z@h>\r\n"
			  "Require: timer\r\n"
			  "Require: 100rel\r\n"
			  "Content-Length: 0\r\n\r\n";

Test(lazy, first_pass_parses_nothing)
{
	struct sipd_msg *m = parse_str(req);
	unsigned i;

	cr_assert_not_null(m);
	for (i = 0; i < m->hdr_count; i++)
		cr_expect_null(m->hdrs[i].parsed, "header %u parsed early", i);
	cr_expect_eq(parser_msg_of(m)->ruri_state, PARSER_RURI_UNPARSED);
	parser_free(m);
}

Test(lazy, access_parses_only_that_type)
{
	struct sipd_msg *m = parse_str(req);
	const struct sipd_nameaddr *from, *c, *c2;
	const struct sipd_via *v, *v2;
	const struct sipd_tokens *t, *t2;

	cr_assert_not_null(m);
	cr_assert_eq(sipd_msg_from(m, &from), 0);
	cr_expect_not_null(m->h_from->parsed);
	cr_expect_null(m->h_to->parsed);
	cr_expect_null(m->h_via->parsed);
	cr_expect_null(m->h_cseq->parsed);
	/* cached: same object the second time */
	cr_assert_eq(sipd_msg_from(m, &c), 0);
	cr_expect_eq(c, from);
	/* multi-line types link across lines, in message order */
	cr_assert_eq(sipd_msg_via(m, &v), 0);
	cr_assert_not_null(v->next);
	cr_expect(sipd_str_eq(v->next->host, SIPD_STR("b.example.com")));
	cr_assert_eq(sipd_msg_hdr(m, sipd_msg_hdr_next(m, m->h_via), (const void **)&v2), 0);
	cr_expect_eq(v2, v->next);
	cr_assert_eq(sipd_msg_contact(m, &c), 0);
	cr_expect(sipd_str_eq(c->next->next->uri.user, SIPD_STR("z")));
	cr_assert_eq(sipd_msg_hdr(m, sipd_msg_hdr_next(m, m->h_contact), (const void **)&c2), 0);
	cr_expect_eq(c2, c->next);
	/* option tags: one list for all lines of the type */
	cr_assert_eq(sipd_msg_hdr(m, m->h_require, (const void **)&t), 0);
	cr_expect_eq(t->count, 2);
	cr_assert_eq(sipd_msg_hdr(m, sipd_msg_hdr_next(m, m->h_require), (const void **)&t2), 0);
	cr_expect_eq(t, t2);
	cr_expect_null(m->h_to->parsed);
	cr_expect_null(m->h_content_length->parsed);
	parser_free(m);
}

Test(lazy, failures_are_cached_and_strict)
{
	struct sipd_msg *m = parse_str("OPTIONS sip:a@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:a@h\r\n"
				       "CSeq: x OPTIONS\r\nX-Other: whatever\r\n\r\n");
	const struct sipd_nameaddr *na;
	const struct sipd_cseq *cs;
	const struct sipd_str *s;

	cr_assert_not_null(m, "the first pass is lenient");
	cr_expect_eq(sipd_msg_from(m, &na), EBADMSG);
	cr_expect_not_null(m->h_from->parsed);
	cr_expect_eq(sipd_msg_from(m, &na), EBADMSG);
	cr_expect_eq(sipd_msg_cseq(m, &cs), EBADMSG);
	cr_expect_eq(sipd_msg_to(m, &na), ENOENT);
	cr_assert_eq(sipd_msg_hdr(m, sipd_msg_hdr_find(m, SIPD_STR("x-other")), (const void **)&s), 0);
	cr_expect(sipd_str_eq(*s, SIPD_STR("whatever")));
	parser_free(m);
}

Test(lazy, responses_have_no_ruri)
{
	struct sipd_msg *m = parse_str("SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h\r\n\r\n");
	const struct sipd_uri *u;

	cr_assert_not_null(m);
	cr_expect(!m->is_request);
	cr_expect_eq(m->status, 180);
	cr_expect_eq(sipd_msg_ruri(m, &u), EINVAL);
	parser_free(m);
}
