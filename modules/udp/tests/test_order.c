/* udp_order: which worker handles a datagram, so that the datagrams of one call keep their order. */
#include <criterion/criterion.h>
#include <string.h>

#include "udp.h"

static struct udp_order *o;

static void setup(void)
{
	cr_assert_eq(udp_order_new(&o), 0);
}

static void teardown(void)
{
	udp_order_free(o);
}

TestSuite(udp_order, .init = setup, .fini = teardown);

static uint32_t key_of(const char *msg)
{
	return udp_order_key(msg, strlen(msg));
}

Test(udp_order, a_call_with_nothing_in_progress_is_handled_by_its_reader)
{
	bool queue = true;

	udp_order_read_begin(o);
	cr_assert_eq(udp_order_claim(o, 7, 1, &queue), 1);
	udp_order_read_end(o);
	cr_assert_not(queue);
}

Test(udp_order, later_datagrams_queue_behind_the_worker_handling_the_call)
{
	bool queue;

	udp_order_read_begin(o);
	cr_assert_eq(udp_order_claim(o, 7, 0, &queue), 0);
	cr_assert_not(queue);
	/* Read by worker 1 while worker 0 still handles the first: worker 0's queue. */
	cr_assert_eq(udp_order_claim(o, 7, 1, &queue), 0);
	cr_assert(queue);
	/* Read by worker 0 itself: its queue too, behind the one worker 1 posted. */
	cr_assert_eq(udp_order_claim(o, 7, 0, &queue), 0);
	cr_assert(queue);
	/* Another call is free. */
	cr_assert_eq(udp_order_claim(o, 8, 1, &queue), 1);
	cr_assert_not(queue);
	udp_order_read_end(o);
}

Test(udp_order, a_call_moves_to_another_worker_once_all_its_datagrams_were_handled)
{
	bool queue;

	udp_order_claim(o, 7, 0, &queue);
	udp_order_claim(o, 7, 1, &queue);
	udp_order_done(o, 7);
	/* One is still queued on worker 0. */
	cr_assert_eq(udp_order_claim(o, 7, 1, &queue), 0);
	cr_assert(queue);
	udp_order_done(o, 7);
	udp_order_done(o, 7);
	cr_assert_eq(udp_order_claim(o, 7, 1, &queue), 1);
	cr_assert_not(queue);
}

Test(udp_order, the_key_is_the_call_id_whatever_the_header_form)
{
	uint32_t k = key_of("INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nCall-ID: abc@h\r\n\r\n");

	cr_assert_lt(k, UDP_ORDER_STRIPES);
	cr_assert_eq(key_of("SIP/2.0 180 Ringing\r\ni: abc@h\r\n\r\n"), k);
	cr_assert_eq(key_of("SIP/2.0 200 OK\r\ncall-id:abc@h  \r\nCSeq: 1 INVITE\r\n\r\n"), k);
	cr_assert_neq(key_of("BYE sip:b@x SIP/2.0\r\nCall-ID: abd@h\r\n\r\n"), k);
	/* Without a Call-ID, one stripe: such datagrams are refused by the parser anyway. */
	cr_assert_eq(key_of("junk"), key_of("OPTIONS sip:x SIP/2.0\r\n\r\n"));
}
