/* Responses without a transaction (RFC 3261 16.7, 18.2.1): forwarded per the next Via, or dropped. */
#include <criterion/criterion.h>

#include "fake.h"
#include "internal.h"

static void setup(void)
{
	char *specs[] = {"udp:127.0.0.1:5060"};
	char err[128];

	fake_setup();
	cr_assert_eq(listen_set(specs, 1, err, sizeof(err)), 0, "%s", err);
}

static void teardown(void)
{
	listen_reset();
}

TestSuite(stateless, .init = setup, .fini = teardown);

static bool feed(const char *text)
{
	struct sipd_rcvinfo rcv = fake_rcv(SIPD_PROTO_UDP);
	struct sipd_msg *m = fake_msg(text, &rcv);
	struct sipd_ctx ctx = {.msg = m, .rcv = &rcv, .route = SIPD_ROUTE_REPLY};
	bool r;

	cr_assert_not_null(m);
	r = tm_stateless_response(&ctx);
	parser_free(m);
	return r;
}

#define RESP(top, next)                                                                                      \
	"SIP/2.0 180 Ringing\r\nVia: " top "\r\nVia: " next "\r\nFrom: <sip:a@x>;tag=1\r\n"                  \
	"To: <sip:b@x>;tag=2\r\nCall-ID: sl-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"

Test(stateless, our_via_popped_and_sent_to_received_and_rport)
{
	cr_assert(feed(RESP("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsdx",
			    "SIP/2.0/UDP client.test:5070;branch=z9hG4bKc;received=192.0.2.7;rport=6000")));
	cr_assert_eq(fake_nsent, 1);
	cr_assert_null(strstr(fake_sent[0], "z9hG4bKsdx"), "our Via is gone");
	cr_assert_not_null(strstr(fake_sent[0], "Via: SIP/2.0/UDP client.test:5070"));
	cr_assert_eq(fake_sent_dst[0].proto, SIPD_PROTO_UDP);
	cr_assert_eq(ntohs(fake_sent_dst[0].addr.sin.sin_port), 6000);
	cr_assert_eq(fake_sent_dst[0].addr.sin.sin_addr.s_addr, inet_addr("192.0.2.7"));
}

Test(stateless, sent_by_port_without_rport_and_default_port)
{
	cr_assert(feed(
	    RESP("SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsdx", "SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKc")));
	cr_assert_eq(fake_nsent, 1);
	cr_assert_eq(ntohs(fake_sent_dst[0].addr.sin.sin_port), 5060);
	cr_assert_eq(fake_sent_dst[0].addr.sin.sin_addr.s_addr, inet_addr("192.0.2.8"));
}

Test(stateless, not_our_via_or_no_next_via_is_dropped)
{
	cr_assert(feed(
	    RESP("SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKo", "SIP/2.0/UDP 192.0.2.8;branch=z9hG4bKc")));
	cr_assert_eq(fake_nsent, 0, "misrouted (18.1.2)");
	cr_assert(feed(
	    "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKsdx\r\nFrom: <sip:a@x>;tag=1\r\n"
	    "To: <sip:b@x>;tag=2\r\nCall-ID: sl-2\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"));
	cr_assert_eq(fake_nsent, 0, "only our Via: it was for us");
}
