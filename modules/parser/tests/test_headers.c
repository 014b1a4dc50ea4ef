/* Typed headers: name-addr lists, Via, parameters, CSeq, auth, tokens, numbers. */
#include <criterion/criterion.h>
#include <errno.h>

#include "corpus.h"

static struct parser_arena arena;
static char mem[4096];

static void setup(void)
{
	parser_arena_init(&arena, mem, sizeof(mem));
}

static void teardown(void)
{
	parser_arena_release(&arena);
}

TestSuite(hdr, .init = setup, .fini = teardown);

static bool is(struct sipd_str s, const char *want)
{
	return sipd_str_eq(s, sipd_str_c(want));
}

static int nalist(const char *v, unsigned flags, struct sipd_nameaddr **head)
{
	struct sipd_nameaddr *tail;

	return parser_nameaddr_list(&arena, head, &tail, sipd_str_c(v), flags);
}

Test(hdr, nameaddr_forms)
{
	struct sipd_nameaddr *na;

	cr_assert_eq(nalist("\"A \\\"q\\\" B\" <sip:a@h>;tag=1;foo", 0, &na), 0);
	cr_expect(is(na->display, "A \\\"q\\\" B"));
	cr_expect(is(na->tag, "1"));
	cr_expect(is(na->params, "tag=1;foo"));
	cr_assert_eq(nalist("Bob   Smith<sip:b@h>", 0, &na), 0);
	cr_expect(is(na->display, "Bob   Smith"));
	cr_assert_eq(nalist("sip:a@h;tag=xyz", 0, &na), 0, "addr-spec: params belong to the header");
	cr_expect(is(na->uri.raw, "sip:a@h"));
	cr_expect(is(na->tag, "xyz"));
	cr_assert_eq(nalist("<sip:a@h;tag=inuri>", 0, &na), 0);
	cr_expect(sipd_str_empty(na->tag), "a param inside <> is the URI's");
	cr_expect_eq(nalist("<sip:a@h", 0, &na), EBADMSG);
	cr_expect_eq(nalist("\"open <sip:a@h>", 0, &na), EBADMSG);
	cr_expect_eq(nalist("<sip:a@h>;tag", 0, &na), EBADMSG);
	cr_expect_eq(nalist("<sip:a@h> garbage", 0, &na), EBADMSG);
	cr_expect_eq(nalist("<sip:a@h>, <sip:b@h>", 0, &na), EBADMSG, "From is not a list");
	cr_expect_eq(nalist("", 0, &na), EBADMSG);
}

Test(hdr, contact_lists)
{
	struct sipd_nameaddr *na;

	cr_assert_eq(nalist(" <sip:a@h>;q=0.7 ,\r\n \"x,y\" <sip:b@h;lr>;expires=10, sip:c@h;q=1",
			    PARSER_NA_LIST | PARSER_NA_CONTACT | PARSER_NA_STAR, &na),
		     0);
	cr_expect_eq(na->q, 700);
	cr_expect_eq(na->expires, -1);
	cr_assert_not_null(na->next);
	cr_expect(is(na->next->display, "x,y"));
	cr_expect_eq(na->next->expires, 10);
	cr_expect(na->next->uri.lr);
	cr_assert_not_null(na->next->next);
	cr_expect_eq(na->next->next->q, 1000);
	cr_expect_null(na->next->next->next);
	cr_assert_eq(nalist("*", PARSER_NA_LIST | PARSER_NA_STAR, &na), 0);
	cr_expect(na->star);
	cr_expect_eq(nalist("*, <sip:a@h>", PARSER_NA_LIST | PARSER_NA_STAR, &na), EBADMSG);
	cr_expect_eq(nalist("*", PARSER_NA_LIST, &na), EBADMSG, "* only where a star is allowed");
	cr_expect_eq(nalist("<sip:a@h>,", PARSER_NA_LIST, &na), EBADMSG);
	cr_expect_eq(nalist("<sip:a@h>;q=1.001", PARSER_NA_LIST | PARSER_NA_CONTACT, &na), EBADMSG);
	cr_expect_eq(nalist("<sip:a@h>;q=0.1234", PARSER_NA_LIST | PARSER_NA_CONTACT, &na), EBADMSG);
	cr_expect_eq(nalist("<sip:a@h>;expires=x", PARSER_NA_LIST | PARSER_NA_CONTACT, &na), EBADMSG);
	cr_assert_eq(nalist("<sip:a@h>;expires=99999999999", PARSER_NA_LIST | PARSER_NA_CONTACT, &na), 0);
	cr_expect_eq(na->expires, 4294967295L);
}

Test(hdr, via)
{
	struct sipd_via *v, *tail;

	cr_assert_eq(
	    parser_via_list(&arena, &v, &tail,
			    sipd_str_c("SIP / 2.0 / UDP h.example.com : 5060 ; branch = z9hG4bK1 ; rport ; "
				       "ttl=3 , SIP/2.0/TLS [::1];received=::2;rport=9")),
	    0);
	cr_expect(is(v->protocol, "UDP"));
	cr_expect(is(v->host, "h.example.com"));
	cr_expect_eq(v->port, 5060);
	cr_expect(is(v->branch, "z9hG4bK1"));
	cr_expect(v->rport);
	cr_expect_eq(v->rport_value, -1);
	cr_expect_eq(v->ttl, 3);
	cr_assert_not_null(v->next);
	cr_expect_eq(tail, v->next);
	cr_expect(v->next->host_ipv6);
	cr_expect(is(v->next->host, "::1"));
	cr_expect(is(v->next->received, "::2"));
	cr_expect_eq(v->next->rport_value, 9);
	cr_expect(is(v->next->value, "SIP/2.0/TLS [::1];received=::2;rport=9"));
	cr_expect_eq(parser_via_list(&arena, &v, &tail, sipd_str_c("SIP/2.0/UDP")), EBADMSG);
	cr_expect_eq(parser_via_list(&arena, &v, &tail, sipd_str_c("SIP/2.0 h")), EBADMSG);
	cr_expect_eq(parser_via_list(&arena, &v, &tail, sipd_str_c("SIP/2.0/UDP h;ttl=300")), EBADMSG);
	cr_expect_eq(parser_via_list(&arena, &v, &tail, sipd_str_c("SIP/2.0/UDP h;rport=70000")), EBADMSG);
	cr_expect_eq(parser_via_list(&arena, &v, &tail, sipd_str_c("SIP/2.0/UDP h;received=h..x")), EBADMSG);
	cr_expect_eq(parser_via_list(&arena, &v, &tail, sipd_str_c("SIP/2.0/UDP h, ")), EBADMSG);
	cr_expect_eq(parser_via_list(&arena, &v, &tail, sipd_str_c("SIP/2.0/UDP h;branch")), EBADMSG);
}

Test(hdr, params)
{
	struct parser_cur c = parser_cur_of(sipd_str_c(" ; a = \"q;v\" ;b;  c=[::1] ;"));
	struct sipd_param p;

	cr_assert_eq(parser_param_next(&c, &p), 0);
	cr_expect(is(p.name, "a") && is(p.value, "q;v") && p.has_value);
	cr_assert_eq(parser_param_next(&c, &p), 0);
	cr_expect(is(p.name, "b") && !p.has_value);
	cr_assert_eq(parser_param_next(&c, &p), 0);
	cr_expect(is(p.value, "[::1]"));
	cr_expect_eq(parser_param_next(&c, &p), EBADMSG, "';' naming nothing");
	c = parser_cur_of(sipd_str_c("x"));
	cr_expect_eq(parser_param_next(&c, &p), ENOENT);
	c = parser_cur_of(sipd_str_c(";a=\"open"));
	cr_expect_eq(parser_param_next(&c, &p), EBADMSG);
}

Test(hdr, simple_values)
{
	struct sipd_cseq cs;
	struct sipd_session_expires se;
	struct sipd_str ct;
	uint32_t n;

	cr_assert_eq(parser_cseq_parse(&cs, sipd_str_c("4294967295  REGISTER")), 0);
	cr_expect_eq(cs.number, 4294967295u);
	cr_expect_eq(cs.method_id, SIPD_METHOD_REGISTER);
	cr_expect_eq(parser_cseq_parse(&cs, sipd_str_c("4294967296 REGISTER")), EBADMSG);
	cr_expect_eq(parser_cseq_parse(&cs, sipd_str_c("1REGISTER")), EBADMSG);
	cr_expect_eq(parser_cseq_parse(&cs, sipd_str_c("1 REGISTER x")), EBADMSG);
	cr_expect_eq(parser_uint(&n, sipd_str_c(" 0070 "), 255), 0);
	cr_expect_eq(n, 70);
	cr_expect_eq(parser_uint(&n, sipd_str_c("256"), 255), ERANGE);
	cr_expect_eq(parser_uint(&n, sipd_str_c("-1"), 255), EBADMSG);
	cr_expect_eq(parser_uint(&n, sipd_str_c(""), 255), EBADMSG);
	cr_expect_eq(parser_uint(&n, sipd_str_c("99999999999999999999999"), UINT32_MAX), ERANGE);
	cr_assert_eq(parser_session_expires(&se, sipd_str_c("1800 ; refresher=UAS;x=y")), 0);
	cr_expect_eq(se.delta, 1800);
	cr_expect(is(se.refresher, "UAS"));
	cr_expect_eq(parser_session_expires(&se, sipd_str_c("90;refresher=me")), EBADMSG);
	cr_expect_eq(parser_session_expires(&se, sipd_str_c("abc")), EBADMSG);
	cr_assert_eq(parser_content_type(&ct, sipd_str_c("application/sdp ; charset=utf-8")), 0);
	cr_expect(is(ct, "application/sdp"));
	cr_expect_eq(parser_content_type(&ct, sipd_str_c("application")), EBADMSG);
	cr_expect_eq(parser_callid_valid(sipd_str_c("abc@def")), 0);
	cr_expect_eq(parser_callid_valid(sipd_str_c("a b")), EBADMSG);
	cr_expect_eq(parser_callid_valid(sipd_str_c("a@")), EBADMSG);
}

Test(hdr, auth)
{
	struct sipd_auth a;

	cr_assert_eq(
	    parser_auth_parse(&a, sipd_str_c("Digest realm=\"r\", nonce=\"n,1\",\r\n qop=\"auth,auth-int\", "
					     "stale=TRUE, algorithm=SHA-256")),
	    0);
	cr_expect(is(a.scheme, "Digest"));
	cr_expect(is(a.realm, "r"));
	cr_expect(is(a.nonce, "n,1"));
	cr_expect(is(a.qop, "auth,auth-int"));
	cr_expect(is(a.algorithm, "SHA-256"));
	cr_expect(a.stale);
	cr_assert_eq(parser_auth_parse(&a, sipd_str_c("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")), 0);
	cr_expect(is(a.params, "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
	cr_expect_eq(parser_auth_parse(&a, sipd_str_c("Digest realm=\"open")), EBADMSG);
	cr_expect_eq(parser_auth_parse(&a, sipd_str_c("Digest realm")), EBADMSG);
	cr_expect_eq(parser_auth_parse(&a, sipd_str_c("Digest a=1 b=2")), EBADMSG);
}

Test(hdr, tokens)
{
	struct sipd_str items[4];
	struct sipd_tokens t = {0, items};

	cr_assert_eq(parser_tokens_add(&t, 4, sipd_str_c(" timer ,100rel,\r\n replaces")), 0);
	cr_expect_eq(t.count, 3);
	cr_expect(is(items[1], "100rel"));
	cr_expect_eq(parser_tokens_add(&t, 4, sipd_str_c("")), 0, "an empty Supported is legal");
	cr_expect_eq(parser_tokens_add(&t, 4, sipd_str_c("a,,b")), EBADMSG);
	cr_expect_eq(parser_tokens_add(&t, 4, sipd_str_c("a b")), EBADMSG);
}

Test(hdr, names)
{
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("v")), SIPD_HDR_VIA);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("I")), SIPD_HDR_CALL_ID);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("x")), SIPD_HDR_SESSION_EXPIRES);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("u")), SIPD_HDR_OTHER);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("PROXY-AUTHORIZATION")), SIPD_HDR_PROXY_AUTHORIZATION);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("call-id")), SIPD_HDR_CALL_ID);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("Contact")), SIPD_HDR_CONTACT);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("Contacts")), SIPD_HDR_OTHER);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("Min-SE")), SIPD_HDR_MIN_SE);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("Min-Expires")), SIPD_HDR_MIN_EXPIRES);
	cr_expect_eq(sipd_hdr_type_of(SIPD_STR("Unsupported")), SIPD_HDR_UNSUPPORTED);
	cr_expect_eq(sipd_method_of(SIPD_STR("INVITE")), SIPD_METHOD_INVITE);
	cr_expect_eq(sipd_method_of(SIPD_STR("invite")), SIPD_METHOD_OTHER);
	cr_expect_eq(sipd_method_of(SIPD_STR("REFER")), SIPD_METHOD_REFER);
	cr_expect_eq(sipd_method_of(SIPD_STR("PRACK")), SIPD_METHOD_PRACK);
	cr_expect_eq(sipd_method_of(SIPD_STR("PUBLISH")), SIPD_METHOD_PUBLISH);
}

Test(hdr, find_and_next)
{
	struct sipd_msg *m =
	    parse_str("OPTIONS sip:a@h SIP/2.0\r\nu: x\r\nVia: SIP/2.0/UDP h\r\nAllow-Events: y\r\n"
		      "v: SIP/2.0/UDP g\r\nX-A: 1\r\nx-a: 2\r\n\r\n");
	struct sipd_hdr *h;

	cr_assert_not_null(m);
	h = sipd_msg_hdr_find(m, SIPD_STR("Allow-Events"));
	cr_assert_not_null(h);
	cr_expect(is(h->value, "x"), "compact u is Allow-Events");
	h = sipd_msg_hdr_next(m, h);
	cr_assert_not_null(h);
	cr_expect(is(h->value, "y"));
	cr_expect_null(sipd_msg_hdr_next(m, h));
	h = sipd_msg_hdr_next(m, m->h_via);
	cr_assert_not_null(h);
	cr_expect(is(h->name, "v"));
	h = sipd_msg_hdr_find(m, SIPD_STR("X-A"));
	cr_assert_not_null(sipd_msg_hdr_next(m, h));
	cr_expect_null(sipd_msg_hdr_find(m, SIPD_STR("X-B")));
	parser_free(m);
}
