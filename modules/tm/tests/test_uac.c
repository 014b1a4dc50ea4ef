/* Client transactions (RFC 3261 17.1): timers A-F, K, D, M, ACK, CANCEL and transport errors, via the C API.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "fake.h"

static int got_final, got_failure, got_prov, fail_status;

static void on_prov(void *arg, struct sipd_msg *r)
{
	got_prov++;
}
static void on_final(void *arg, struct sipd_msg *r)
{
	got_final = r->status;
}
static void on_fail(void *arg, int status, int err)
{
	got_failure++;
	fail_status = status;
}
static const struct tm_callbacks cbs = {
    .on_provisional = on_prov, .on_final = on_final, .on_failure = on_fail};

static struct sipd_dest dst;

static void setup(void)
{
	fake_setup();
	got_final = got_failure = got_prov = fail_status = 0;
	memset(&dst, 0, sizeof(dst));
	dst.proto = SIPD_PROTO_UDP;
	dst.addr.sin.sin_family = AF_INET;
	dst.addr.sin.sin_port = htons(5070);
	inet_pton(AF_INET, "127.0.0.1", &dst.addr.sin.sin_addr);
	dst.from = &fake_listen;
}

#define OUT(method)                                                                                          \
	method " sip:bob@127.0.0.1:5070 SIP/2.0\r\nFrom: <sip:a@x>;tag=f1\r\nTo: <sip:bob@x>\r\n"            \
	       "Call-ID: uac-1\r\nCSeq: 5 " method "\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"

/* The branch tm put in the first message it sent. */
static void sent_branch(char *buf, size_t size)
{
	const char *b = strstr(fake_sent[0], "branch=");
	size_t n;

	cr_assert_not_null(b);
	b += 7;
	n = strcspn(b, ";\r\n");
	snprintf(buf, size, "%.*s", (int)n, b);
}

/* Feeds a response to the request with branch, as the reply handler would. */
static void respond_on(const char *branch, int status, const char *method)
{
	char *text;
	struct sipd_msg *m;
	struct tm_uac *u;
	struct tm_cell *c;

	asprintf(&text,
		 "SIP/2.0 %d X\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\nFrom: <sip:a@x>;tag=f1\r\n"
		 "To: <sip:bob@x>;tag=t9\r\nCall-ID: uac-1\r\nCSeq: 5 %s\r\nContent-Length: 0\r\n\r\n",
		 status, branch, method);
	m = fake_msg(text, NULL);
	cr_assert_not_null(m);
	c = tm_match_response(m, &u);
	cr_assert_not_null(c, "response not matched");
	tm_cell_lock(c);
	tm_uac_on_response(u, m);
	tm_cell_check_done(c);
	tm_cell_unlock(c);
	tm_cell_unref(c);
	parser_free(m);
	free(text);
}

/* Feeds a response to the first request tm sent. */
static void respond(int status, const char *method)
{
	char branch[64];

	sent_branch(branch, sizeof(branch));
	respond_on(branch, status, method);
}

TestSuite(uac, .init = setup);

Test(uac, invite_timer_a_doubles_and_timer_b_gives_408)
{
	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	cr_assert_eq(fake_count("INVITE"), 1);
	cr_assert_not_null(strstr(fake_sent[0], "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=" TM_BRANCH_PREFIX));
	fake_advance(500);
	cr_assert_eq(fake_count("INVITE"), 2);
	fake_advance(1000);
	cr_assert_eq(fake_count("INVITE"), 3);
	fake_advance(2000);
	cr_assert_eq(fake_count("INVITE"), 4);
	fake_advance(64 * 500);
	cr_assert_eq(got_failure, 1);
	cr_assert_eq(fail_status, 408);
	cr_assert_eq(tm_cell_count(), 0, "the cell is freed");
}

Test(uac, invite_provisional_stops_retransmissions_final_gets_ack_and_timer_d)
{
	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	respond(180, "INVITE");
	cr_assert_eq(got_prov, 1);
	fake_advance(10000);
	cr_assert_eq(fake_count("INVITE"), 1, "no retransmission in Proceeding");
	cr_assert_eq(got_failure, 0, "Timer B does not run in Proceeding");
	respond(486, "INVITE");
	cr_assert_eq(got_final, 486);
	cr_assert_eq(fake_count("ACK sip:bob@127.0.0.1:5070"), 1);
	cr_assert_not_null(strstr(fake_sent[fake_nsent - 1], "CSeq: 5 ACK"));
	cr_assert_not_null(strstr(fake_sent[fake_nsent - 1], "tag=t9"), "the ACK carries the response's To");
	respond(486, "INVITE");
	cr_assert_eq(fake_count("ACK"), 2, "a retransmitted final is acknowledged again");
	cr_assert_str_eq(fake_sent[fake_nsent - 1], fake_sent[fake_nsent - 2],
			 "from the ACK kept in place of the request (compacted)");
	cr_assert_eq(tm_cell_count(), 1);
	fake_advance(64 * 500);
	cr_assert_eq(tm_cell_count(), 0, "Timer D");
}

Test(uac, invite_2xx_accepted_passes_every_2xx_until_timer_m)
{
	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	respond(200, "INVITE");
	cr_assert_eq(got_final, 200);
	got_final = 0;
	respond(200, "INVITE");
	cr_assert_eq(got_final, 200, "a retransmitted or forked 2xx reaches the TU");
	cr_assert_eq(fake_count("ACK"), 0, "the 2xx ACK is the TU's");
	fake_advance(64 * 500);
	cr_assert_eq(tm_cell_count(), 0);
}

Test(uac, transactions_in_flight_are_freed_at_shutdown)
{
	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	cr_assert_eq(tm_api_table.request(OUT("OPTIONS"), strlen(OUT("OPTIONS")), &dst, &cbs, NULL), 0);
	cr_assert_eq(tm_cell_count(), 2);
	cr_assert_gt(fake_ntimers, 0);
	tm_table_destroy();
	cr_assert_eq(tm_cell_count(), 0, "every cell is freed");
	cr_assert_eq(fake_ntimers, 0, "no timer is left pending on a freed cell");
	cr_assert_eq(got_failure + got_final, 0, "nobody is answered at shutdown");
}

Test(uac, non_invite_timer_e_capped_at_t2_then_timer_f)
{
	cr_assert_eq(tm_api_table.request(OUT("OPTIONS"), strlen(OUT("OPTIONS")), &dst, &cbs, NULL), 0);
	fake_advance(500 + 1000 + 2000 + 4000);
	cr_assert_eq(fake_count("OPTIONS"), 5);
	fake_advance(4000);
	cr_assert_eq(fake_count("OPTIONS"), 6);
	fake_advance(64 * 500);
	cr_assert_eq(fail_status, 408);
}

Test(uac, non_invite_proceeding_retransmits_at_t2_and_final_waits_timer_k)
{
	cr_assert_eq(tm_api_table.request(OUT("OPTIONS"), strlen(OUT("OPTIONS")), &dst, &cbs, NULL), 0);
	respond(100, "OPTIONS");
	fake_advance(500);
	cr_assert_eq(fake_count("OPTIONS"), 2);
	fake_advance(4000);
	cr_assert_eq(fake_count("OPTIONS"), 3, "T2 in Proceeding");
	respond(200, "OPTIONS");
	cr_assert_eq(got_final, 200);
	respond(200, "OPTIONS");
	cr_assert_eq(tm_cell_count(), 1, "Completed absorbs retransmissions");
	fake_advance(5000);
	cr_assert_eq(tm_cell_count(), 0, "Timer K");
}

Test(uac, send_failure_is_503)
{
	fake_send_error = ECONNREFUSED;
	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	cr_assert_eq(got_failure, 1, "reported like a later transport error");
	cr_assert_eq(fail_status, 503);
	cr_assert_eq(tm_cell_count(), 0);
}

Test(uac, later_transport_error_is_503)
{
	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	tm_fail_dest(&dst, ECONNRESET);
	cr_assert_eq(fail_status, 503);
	cr_assert_eq(tm_cell_count(), 0);
}

Test(uac, cancel_waits_for_a_provisional)
{
	struct tm_cell *c;
	struct tm_uac *u;
	char branch[64];

	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	sent_branch(branch, sizeof(branch));
	unsigned bucket, idx;
	uint32_t label, loop;
	cr_assert(tm_branch_parse(sipd_str_c(branch), &bucket, &label, &idx, &loop));
	c = tm_cell_by_label(bucket, label);
	cr_assert_not_null(c);
	u = c->uac[idx];
	tm_cell_lock(c);
	tm_uac_cancel(u);
	tm_cell_unlock(c);
	cr_assert_eq(fake_count("CANCEL"), 0, "9.1: no CANCEL before a provisional");
	respond(180, "INVITE");
	cr_assert_eq(fake_count("CANCEL"), 1);
	cr_assert_not_null(strstr(fake_sent[fake_nsent - 1], branch), "CANCEL has the INVITE's branch");
	respond(200, "CANCEL");
	respond(487, "INVITE");
	cr_assert_eq(got_final, 487);
	tm_cell_unref(c);
}

Test(uac, branch_roundtrip_and_foreign_branches)
{
	struct tm_cell c = {.bucket = 0x2a, .label = 0xdeadbeef, .loop_hash = 0x1234};
	char b[64];
	unsigned bucket, idx;
	uint32_t label, loop;

	tm_branch_make(b, sizeof(b), &c, 3);
	cr_assert(tm_branch_parse(sipd_str_c(b), &bucket, &label, &idx, &loop));
	cr_assert_eq(bucket, 0x2a);
	cr_assert_eq(label, 0xdeadbeef);
	cr_assert_eq(idx, 3);
	cr_assert_eq(loop, 0x1234);
	cr_assert_not(tm_branch_parse(SIPD_STR("z9hG4bK776asdhds"), &bucket, &label, &idx, &loop));
	cr_assert_not(tm_branch_parse(SIPD_STR(TM_BRANCH_PREFIX "zz.1.2.3"), &bucket, &label, &idx, &loop));
	cr_assert_not(tm_branch_parse(SIPD_STR(TM_BRANCH_PREFIX "1.2.3."), &bucket, &label, &idx, &loop));
}

/* RFC 3263 4.3: the lookup's next target gets the request as a new branch after a 503 or a transport error.
 */

static struct tm_uac *first_uac(struct tm_cell **cell)
{
	char branch[64], *text;
	struct sipd_msg *m;
	struct tm_uac *u;

	sent_branch(branch, sizeof(branch));
	asprintf(
	    &text,
	    "SIP/2.0 100 Trying\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=%s\r\nFrom: <sip:a@x>;tag=f1\r\n"
	    "To: <sip:bob@x>\r\nCall-ID: uac-1\r\nCSeq: 5 INVITE\r\nContent-Length: 0\r\n\r\n",
	    branch);
	m = fake_msg(text, NULL);
	*cell = tm_match_response(m, &u);
	cr_assert_not_null(*cell);
	parser_free(m);
	free(text);
	return u;
}

static void give_alternative(uint16_t port)
{
	struct tm_cell *c;
	struct tm_uac *u = first_uac(&c);

	tm_cell_lock(c);
	u->alt = malloc(sizeof(*u->alt));
	*u->alt = dst;
	u->alt->addr.sin.sin_port = htons(port);
	u->nalt = 1;
	tm_cell_unlock(c);
	tm_cell_unref(c);
}

/* The index of the last INVITE sent, with its branch. */
static unsigned last_invite(char *branch, size_t size)
{
	for (unsigned i = fake_nsent; i-- > 0;)
		if (!strncmp(fake_sent[i], "INVITE ", 7)) {
			const char *b = strstr(fake_sent[i], "branch=") + 7;

			snprintf(branch, size, "%.*s", (int)strcspn(b, ";\r\n"), b);
			return i;
		}
	cr_assert_fail("no INVITE sent");
	return 0;
}

Test(uac, a_503_goes_to_the_next_target_as_a_new_branch)
{
	char first[64], second[64];
	unsigned i;

	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	sent_branch(first, sizeof(first));
	give_alternative(5071);
	respond(503, "INVITE");
	cr_assert_eq(got_final, 0, "the 503 does not reach the transaction user");
	cr_assert_eq(fake_count("ACK"), 1, "the 503 is acknowledged all the same");
	i = last_invite(second, sizeof(second));
	cr_assert_eq(ntohs(fake_sent_dst[i].addr.sin.sin_port), 5071, "sent to the next target");
	cr_assert_str_neq(first, second, "as a new transaction (new branch)");
	cr_assert_not_null(strstr(fake_sent[i], "CSeq: 5 INVITE"), "the same request");
	cr_assert_null(strstr(fake_sent[i], first), "the old Via is gone");
	/* The new branch answers: that is what the transaction user sees. */
	respond_on(second, 200, "INVITE");
	cr_assert_eq(got_final, 200);
}

Test(uac, a_transport_error_goes_to_the_next_target_and_the_last_failure_counts)
{
	char branch[64];
	struct sipd_dest next = dst;

	cr_assert_eq(tm_api_table.request(OUT("INVITE"), strlen(OUT("INVITE")), &dst, &cbs, NULL), 0);
	give_alternative(5072);
	tm_fail_dest(&dst, ECONNREFUSED);
	cr_assert_eq(got_failure, 0, "not reported while a target is left");
	cr_assert_eq(ntohs(fake_sent_dst[last_invite(branch, sizeof(branch))].addr.sin.sin_port), 5072);
	next.addr.sin.sin_port = htons(5072);
	tm_fail_dest(&next, ECONNREFUSED);
	cr_assert_eq(got_failure, 1, "no target left: 503");
	cr_assert_eq(fail_status, 503);
}
