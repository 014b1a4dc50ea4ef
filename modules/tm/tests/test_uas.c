/* Server transactions (RFC 3261 17.2, RFC 6026): every state change with a fake clock and transport. */
#include <criterion/criterion.h>

#include "fake.h"

static struct tm_cell *server(const char *text, enum sipd_proto proto, struct sipd_msg **out)
{
	static struct sipd_rcvinfo rcv;
	struct sipd_msg *m;
	struct tm_cell *c = NULL;

	rcv = fake_rcv(proto);
	m = fake_msg(text, &rcv);
	cr_assert_not_null(m);
	struct sipd_ctx ctx = {.msg = m, .rcv = &rcv};
	cr_assert_eq(tm_uas_create(&c, &ctx), 0);
	tm_cell_unlock(c);
	*out = m;
	return c;
}

static void reply(struct tm_cell *c, int code, const char *reason)
{
	tm_cell_lock(c);
	cr_assert_eq(tm_uas_reply(c, code, reason, NULL, NULL, NULL), 0);
	tm_cell_check_done(c);
	tm_cell_unlock(c);
}

static bool absorb(const char *text)
{
	struct sipd_rcvinfo rcv = fake_rcv(SIPD_PROTO_UDP);
	struct sipd_msg *m = fake_msg(text, &rcv);
	struct tm_cell *c = tm_match_request(m, false);
	bool r = false;

	if (c) {
		tm_cell_lock(c);
		r = tm_uas_on_request(c, m);
		tm_cell_check_done(c);
		tm_cell_unlock(c);
		tm_cell_unref(c);
	}
	parser_free(m);
	return r;
}

TestSuite(uas, .init = fake_setup);

Test(uas, invite_starts_proceeding_and_provisional_keeps_it)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("INVITE", "z9hG4bK1", "INVITE"), SIPD_PROTO_UDP, &m);

	cr_assert_eq(c->uas.state, TM_PROCEEDING);
	reply(c, 100, "Trying");
	reply(c, 180, "Ringing");
	cr_assert_eq(c->uas.state, TM_PROCEEDING);
	cr_assert_eq(fake_count("SIP/2.0 180"), 1);
	/* A retransmitted INVITE gets the last provisional again. */
	cr_assert(absorb(REQ("INVITE", "z9hG4bK1", "INVITE")));
	cr_assert_eq(fake_count("SIP/2.0 180"), 2);
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, invite_non2xx_retransmits_with_timer_g_until_ack_then_timer_i)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("INVITE", "z9hG4bK2", "INVITE"), SIPD_PROTO_UDP, &m);

	reply(c, 486, "Busy Here");
	cr_assert_eq(c->uas.state, TM_COMPLETED);
	cr_assert_eq(fake_count("SIP/2.0 486"), 1);
	fake_advance(500); /* G = T1 */
	cr_assert_eq(fake_count("SIP/2.0 486"), 2);
	fake_advance(1000); /* G = 2*T1 */
	cr_assert_eq(fake_count("SIP/2.0 486"), 3);
	cr_assert(absorb(REQ("ACK", "z9hG4bK2", "ACK")));
	cr_assert_eq(c->uas.state, TM_CONFIRMED);
	fake_advance(2000);
	cr_assert_eq(fake_count("SIP/2.0 486"), 3, "Timer G stops in Confirmed");
	fake_advance(5000); /* Timer I = T4 */
	cr_assert_eq(c->uas.state, TM_TERMINATED);
	cr_assert_not(c->linked);
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, timer_g_is_capped_at_t2_and_timer_h_ends_without_ack)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("INVITE", "z9hG4bK3", "INVITE"), SIPD_PROTO_UDP, &m);

	reply(c, 603, "Decline");
	fake_advance(500 + 1000 + 2000 + 4000);
	cr_assert_eq(fake_count("SIP/2.0 603"), 5);
	fake_advance(4000);
	cr_assert_eq(fake_count("SIP/2.0 603"), 6, "G stays at T2");
	fake_advance(64 * 500);
	cr_assert_eq(c->uas.state, TM_TERMINATED, "Timer H");
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, reliable_transport_sends_no_retransmissions)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("INVITE", "z9hG4bK4", "INVITE"), SIPD_PROTO_TCP, &m);

	reply(c, 486, "Busy Here");
	fake_advance(10000);
	cr_assert_eq(fake_count("SIP/2.0 486"), 1);
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, invite_2xx_goes_to_accepted_then_timer_l)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("INVITE", "z9hG4bK5", "INVITE"), SIPD_PROTO_UDP, &m);

	static const char ok2[] = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";

	reply(c, 200, "OK");
	cr_assert_eq(c->uas.state, TM_ACCEPTED);
	/* A second 2xx (another fork branch, forwarded as built) still passes; a 486 does not. */
	tm_cell_lock(c);
	cr_assert_eq(tm_uas_send(c, 200, ok2, sizeof(ok2) - 1), 0);
	cr_assert_eq(tm_uas_send(c, 486, ok2, sizeof(ok2) - 1), EINVAL);
	tm_cell_unlock(c);
	fake_advance(1000);
	cr_assert_eq(fake_count("SIP/2.0 200"), 2, "the 2xx is not retransmitted by the transaction");
	cr_assert(absorb(REQ("INVITE", "z9hG4bK5", "INVITE")), "the INVITE retransmission is absorbed");
	fake_advance(64 * 500);
	cr_assert_eq(c->uas.state, TM_TERMINATED);
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, non_invite_trying_completed_timer_j)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("OPTIONS", "z9hG4bK6", "OPTIONS"), SIPD_PROTO_UDP, &m);

	cr_assert_eq(c->uas.state, TM_TRYING);
	cr_assert(absorb(REQ("OPTIONS", "z9hG4bK6", "OPTIONS")));
	cr_assert_eq(fake_nsent, 0, "nothing to resend in Trying");
	reply(c, 200, "OK");
	cr_assert_eq(c->uas.state, TM_COMPLETED);
	cr_assert(absorb(REQ("OPTIONS", "z9hG4bK6", "OPTIONS")));
	cr_assert_eq(fake_count("SIP/2.0 200"), 2);
	fake_advance(64 * 500);
	cr_assert_eq(c->uas.state, TM_TERMINATED, "Timer J");
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, rfc2543_request_and_ack_match_without_cookie)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("INVITE", "old1", "INVITE"), SIPD_PROTO_UDP, &m);

	cr_assert(c->uas.rfc2543);
	reply(c, 486, "Busy Here");
	cr_assert(absorb(REQ("INVITE", "old1", "INVITE")));
	cr_assert_eq(fake_count("SIP/2.0 486"), 2);
	cr_assert(absorb(REQ("ACK", "old1", "ACK")));
	cr_assert_eq(c->uas.state, TM_CONFIRMED);
	/* Another Call-ID is another transaction. */
	cr_assert_not(
	    absorb("INVITE sip:bob@127.0.0.1:5070 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=old1\r\n"
		   "From: <sip:a@x>;tag=a1\r\nTo: <sip:b@x>\r\nCall-ID: other\r\nCSeq: 1 INVITE\r\n"
		   "Content-Length: 0\r\n\r\n"));
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, cancel_matches_its_invite_and_its_own_transaction)
{
	struct sipd_msg *m, *cm;
	struct tm_cell *c = server(REQ("INVITE", "z9hG4bK7", "INVITE"), SIPD_PROTO_UDP, &m), *found, *cc;
	struct sipd_rcvinfo rcv = fake_rcv(SIPD_PROTO_UDP);
	struct sipd_msg *cancel = fake_msg(REQ("CANCEL", "z9hG4bK7", "CANCEL"), &rcv);

	cr_assert_null(tm_match_request(cancel, false), "no CANCEL transaction yet");
	found = tm_match_request(cancel, true);
	cr_assert_eq(found, c);
	tm_cell_unref(found);
	cc = server(REQ("CANCEL", "z9hG4bK7", "CANCEL"), SIPD_PROTO_UDP, &cm);
	cr_assert_neq(cc, c);
	found = tm_match_request(cancel, false);
	cr_assert_eq(found, cc);
	tm_cell_unref(found);
	parser_free(cancel);
	parser_free(cm);
	parser_free(m);
	tm_cell_unref(cc);
	tm_cell_unref(c);
}

/* Compaction (compact.c): once answered, the clone and the kept copies go; matching and answers stay. */

Test(uas, completed_non_invite_keeps_key_and_last_response_only)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("OPTIONS", "z9hG4bK21", "OPTIONS"), SIPD_PROTO_UDP, &m);

	cr_assert_not_null(c->uas.req);
	reply(c, 200, "OK");
	cr_assert_null(c->uas.req, "the cloned request is dropped once answered");
	cr_assert_not_null(c->uas.key);
	cr_assert_not_null(c->uas.resp, "the last response stays for retransmissions");
	cr_assert(absorb(REQ("OPTIONS", "z9hG4bK21", "OPTIONS")));
	cr_assert_eq(fake_count("SIP/2.0 200"), 2, "a retransmission still gets the last response");
	cr_assert_eq(fake_sent[1][0], 'S');
	cr_assert_str_eq(fake_sent[0], fake_sent[1]);
	/* Another method, or another branch, is another transaction. */
	cr_assert_not(absorb(REQ("INFO", "z9hG4bK21", "INFO")));
	cr_assert_not(absorb(REQ("OPTIONS", "z9hG4bK22", "OPTIONS")));
	fake_advance(64 * 500);
	cr_assert_eq(c->uas.state, TM_TERMINATED, "Timer J");
	cr_assert_not(c->linked);
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, compacted_invite_non2xx_is_retransmitted_and_ack_matches)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("INVITE", "z9hG4bK23", "INVITE"), SIPD_PROTO_UDP, &m);

	reply(c, 486, "Busy Here");
	cr_assert_null(c->uas.req);
	cr_assert(absorb(REQ("INVITE", "z9hG4bK23", "INVITE")));
	cr_assert_eq(fake_count("SIP/2.0 486"), 2, "the retransmitted INVITE gets the 486 again");
	fake_advance(500);
	cr_assert_eq(fake_count("SIP/2.0 486"), 3, "Timer G resends from the kept response");
	cr_assert(absorb(REQ("ACK", "z9hG4bK23", "ACK")),
		  "the ACK of the non-2xx matches the compacted cell");
	cr_assert_eq(c->uas.state, TM_CONFIRMED);
	cr_assert_null(c->uas.resp, "Confirmed answers nothing: the response goes too");
	fake_advance(5000);
	cr_assert_not(c->linked, "Timer I");
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, compacted_invite_2xx_drops_the_response)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("INVITE", "z9hG4bK24", "INVITE"), SIPD_PROTO_UDP, &m);

	reply(c, 200, "OK");
	cr_assert_null(c->uas.req);
	cr_assert_null(c->uas.resp, "Accepted absorbs the INVITE without answering");
	cr_assert(absorb(REQ("INVITE", "z9hG4bK24", "INVITE")));
	cr_assert_eq(fake_count("SIP/2.0 200"), 1);
	parser_free(m);
	tm_cell_unref(c);
}

Test(uas, responses_leave_after_the_cell_lock_is_released)
{
	struct sipd_msg *m;
	struct tm_cell *c = server(REQ("OPTIONS", "z9hG4bK25", "OPTIONS"), SIPD_PROTO_UDP, &m);

	tm_cell_lock(c);
	cr_assert_eq(tm_uas_reply(c, 200, "OK", NULL, NULL, NULL), 0);
	cr_assert_eq(fake_nsent, 0, "nothing is sent while the cell is locked");
	tm_cell_unlock(c);
	cr_assert_eq(fake_count("SIP/2.0 200"), 1, "sent once the lock is gone");
	parser_free(m);
	tm_cell_unref(c);
}
