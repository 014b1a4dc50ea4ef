/* The stateful proxy's relay (RFC 3261 16.6-16.7) through the C entry point, with a fake transport. */
#include <criterion/criterion.h>

#include "fake.h"

TestSuite(relay, .init = fake_setup);

/*
 * 16.2 / 17.2.1: the 100 Trying leaves before the INVITE is relayed. Sent after it, it could reach the
 * caller behind the callee's 180 when another worker relays that 180 first (seen as 3 calls in 30 000
 * failed by SIPp at 1 500 calls/s: "unexpected 100 while expecting 200").
 */
Test(relay, invite_100_trying_goes_out_before_the_relayed_invite)
{
	static const char text[] = REQ("INVITE", "z9hG4bKrelay1", "INVITE");
	struct sipd_rcvinfo rcv = fake_rcv(SIPD_PROTO_UDP);
	struct sipd_msg *m = fake_msg(text, &rcv);
	struct sipd_ctx ctx = {.msg = m, .rcv = &rcv};

	cr_assert_not_null(m);
	cr_assert_eq(tm_proxy_relay(&ctx), SIPD_STOP);
	cr_assert_geq(fake_nsent, 2, "a 100 and the relayed INVITE: %u sent", fake_nsent);
	cr_assert(!strncmp(fake_sent[0], "SIP/2.0 100 Trying\r\n", 20), "first sent: %.40s", fake_sent[0]);
	cr_assert(!strncmp(fake_sent[1], "INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\n", 39),
		  "second sent: %.40s", fake_sent[1]);
	cr_assert_eq(ntohs(fake_sent_dst[0].addr.sin.sin_port), 5999, "the 100 goes back to the caller");
	cr_assert_eq(ntohs(fake_sent_dst[1].addr.sin.sin_port), 5070, "the INVITE goes to the Request-URI");
	m->ops->free(m);
	tm_table_destroy();
}
