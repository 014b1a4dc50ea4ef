/* udp_order: which worker handles a datagram, so that the datagrams of one call keep their order. */
#include <criterion/criterion.h>
#include <pthread.h>
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

/*
 * Workers as udp_recv.c runs them, on a stand-in socket: each takes the read
 * lock, reads a batch of sequence numbers, claims them, hands the queued ones
 * over, then handles its own and drains its queue. Every call must see its
 * datagrams in sequence order, whichever worker handles each.
 */
#define WORKERS 3
#define CALLS   16
#define TOTAL   200000
#define BATCH   8

static struct {
	pthread_mutex_t lock;
	unsigned items[TOTAL], head, tail;
} queues[WORKERS];
static unsigned next_seq, handled, handed, out_of_order;
static unsigned last_of_call[CALLS];

static uint32_t call_of(unsigned seq)
{
	return (seq * 2654435761u >> 7) % CALLS;
}

static void handle(unsigned seq)
{
	uint32_t call = call_of(seq);

	/* Only the worker holding the call's stripe gets here: no lock needed for its record. */
	if (seq + 1 <= last_of_call[call])
		__atomic_add_fetch(&out_of_order, 1, __ATOMIC_RELAXED);
	last_of_call[call] = seq + 1;
	udp_order_done(o, call);
	__atomic_add_fetch(&handled, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	unsigned me = (unsigned)(uintptr_t)arg;

	while (__atomic_load_n(&handled, __ATOMIC_RELAXED) < TOTAL) {
		unsigned local[BATCH], n = 0;

		udp_order_read_begin(o);
		for (unsigned i = 0; i < BATCH && next_seq < TOTAL; i++) {
			unsigned seq = next_seq++, target;
			bool queue;

			target = udp_order_claim(o, call_of(seq), me, &queue);
			if (!queue) {
				local[n++] = seq;
				continue;
			}
			pthread_mutex_lock(&queues[target].lock);
			queues[target].items[queues[target].tail++] = seq;
			pthread_mutex_unlock(&queues[target].lock);
			handed++;
		}
		udp_order_read_end(o);
		for (unsigned i = 0; i < n; i++)
			handle(local[i]);
		for (;;) {
			unsigned seq;

			pthread_mutex_lock(&queues[me].lock);
			if (queues[me].head == queues[me].tail) {
				pthread_mutex_unlock(&queues[me].lock);
				break;
			}
			seq = queues[me].items[queues[me].head++];
			pthread_mutex_unlock(&queues[me].lock);
			handle(seq);
		}
	}
	return NULL;
}

Test(udp_order, concurrent_readers_keep_every_call_in_order, .timeout = 120)
{
	pthread_t t[WORKERS];

	for (unsigned i = 0; i < WORKERS; i++) {
		pthread_mutex_init(&queues[i].lock, NULL);
		cr_assert_eq(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
	}
	for (unsigned i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(handled, TOTAL);
	cr_assert_eq(out_of_order, 0, "%u datagrams handled after a later one of their call", out_of_order);
	/* With 16 calls over 3 workers, calls are often in progress elsewhere: the hand-over path ran. */
	cr_assert_gt(handed, 0);
}
