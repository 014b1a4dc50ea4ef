/* URI parser: sip/sips/tel, userinfo, hosts, ports, parameters, headers, escapes. */
#include <criterion/criterion.h>
#include <errno.h>

#include "corpus.h"

static int uri(const char *s, struct sipd_uri *u)
{
	return parser_uri_parse(u, sipd_str_c(s));
}

static bool is(struct sipd_str s, const char *want)
{
	return sipd_str_eq(s, sipd_str_c(want));
}

Test(uri, full_sip)
{
	struct sipd_uri u;

	cr_assert_eq(uri("sip:alice:pw@atlanta.example.com:5070;transport=TCP;lr;user=phone;method=INVITE;"
			 "maddr=10.0.0.1"
			 "?subject=x&h=%20y",
			 &u),
		     0);
	cr_expect_eq(u.scheme, SIPD_URI_SIP);
	cr_expect(is(u.user, "alice"));
	cr_expect(is(u.password, "pw"));
	cr_expect(is(u.host, "atlanta.example.com"));
	cr_expect_eq(u.port, 5070);
	cr_expect(is(u.transport, "TCP"));
	cr_expect(is(u.user_param, "phone"));
	cr_expect(is(u.method, "INVITE"));
	cr_expect(is(u.maddr, "10.0.0.1"));
	cr_expect(u.lr);
	cr_expect(is(u.params, "transport=TCP;lr;user=phone;method=INVITE;maddr=10.0.0.1"));
	cr_expect(is(u.headers, "subject=x&h=%20y"));
}

Test(uri, hosts)
{
	struct sipd_uri u;

	cr_expect_eq(uri("sip:example.com", &u), 0);
	cr_expect(sipd_str_empty(u.user));
	cr_expect_eq(u.port, 0);
	cr_expect_eq(uri("SIPS:[2001:db8::1]:5061", &u), 0);
	cr_expect_eq(u.scheme, SIPD_URI_SIPS);
	cr_expect(u.host_ipv6);
	cr_expect(is(u.host, "2001:db8::1"));
	cr_expect_eq(u.port, 5061);
	cr_expect_eq(uri("sip:192.0.2.1", &u), 0);
	cr_expect_eq(uri("sip:host.example.com.", &u), 0);
	cr_expect_eq(uri("sip:a-b.c-d.example", &u), 0);
	cr_expect_eq(uri("sip:256.1.1.1", &u), EBADMSG);
	cr_expect_eq(uri("sip:1.2.3", &u), EBADMSG);
	cr_expect_eq(uri("sip:-a.example.com", &u), EBADMSG);
	cr_expect_eq(uri("sip:a..example.com", &u), EBADMSG);
	cr_expect_eq(uri("sip:[2001:db8::zz]", &u), EBADMSG);
	cr_expect_eq(uri("sip:2001:db8::1", &u), EBADMSG);
	cr_expect_eq(uri("sip:[::1", &u), EBADMSG);
	cr_expect_eq(uri("sip:host:65536", &u), EBADMSG);
	cr_expect_eq(uri("sip:host:", &u), EBADMSG);
	cr_expect_eq(uri("sip:", &u), EBADMSG);
	cr_expect_eq(uri("sip:@host", &u), EBADMSG);
}

Test(uri, escapes_and_chars)
{
	struct sipd_uri u;

	cr_expect_eq(uri("sip:%61lice@host", &u), 0);
	cr_expect_eq(uri("sip:a%4@host", &u), EBADMSG);
	cr_expect_eq(uri("sip:a%@host", &u), EBADMSG);
	cr_expect_eq(uri("sip:a b@host", &u), EBADMSG);
	cr_expect_eq(uri("sip:user;x=1?@host", &u), 0, "user-unreserved ; and ? are legal in user");
	cr_expect_eq(uri("sip:host;a=%zz", &u), EBADMSG);
	cr_expect_eq(uri("sip:host;", &u), EBADMSG);
	cr_expect_eq(uri("sip:host;=v", &u), EBADMSG);
	cr_expect_eq(uri("sip:host?", &u), EBADMSG);
	cr_expect_eq(uri("sip:host x", &u), EBADMSG);
}

Test(uri, tel_and_schemes)
{
	struct sipd_uri u;

	cr_expect_eq(uri("tel:+1-201-555-0123", &u), 0);
	cr_expect_eq(u.scheme, SIPD_URI_TEL);
	cr_expect(is(u.user, "+1-201-555-0123"));
	cr_expect_eq(uri("tel:7042;phone-context=example.com", &u), 0);
	cr_expect(is(u.params, "phone-context=example.com"));
	cr_expect_eq(uri("tel:+", &u), EBADMSG);
	cr_expect_eq(uri("tel:12+3", &u), EBADMSG);
	cr_expect_eq(uri("tel:abc x", &u), EBADMSG);
	cr_expect_eq(uri("mailto:a@example.com", &u), EPROTONOSUPPORT);
	cr_expect_eq(uri("http://example.com/", &u), EPROTONOSUPPORT);
	cr_expect_eq(uri("1sip:host", &u), EBADMSG);
	cr_expect_eq(uri("nocolon", &u), EBADMSG);
}

Test(uri, length_limit)
{
	static char big[8000];
	struct sipd_uri u;

	memcpy(big, "sip:", 4);
	memset(big + 4, 'a', sizeof(big) - 5);
	memcpy(big + sizeof(big) - 10, "@host.com", 9);
	cr_expect_eq(uri(big, &u), EBADMSG);
}
