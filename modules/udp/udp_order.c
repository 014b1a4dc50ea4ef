/*
 * Keeping the datagrams of one call in order while several workers read one
 * socket. Reads are serialized by the socket's read lock, so the lock's
 * holder sees datagrams in the order they came. Each is claimed by its
 * Call-ID's stripe: when no earlier datagram of the stripe is still being
 * handled, the reader handles it itself; otherwise it joins the queue of the
 * worker handling those (FIFO posts), which keeps a 200 from overtaking its
 * 180, or a BYE its ACK.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "udp.h"

struct udp_stripe {
	unsigned inflight; /* atomic: claimed and not yet done */
	unsigned owner;    /* the worker handling them; written under the read lock */
};

struct udp_order {
	pthread_mutex_t read_lock;
	struct udp_stripe stripes[UDP_ORDER_STRIPES];
};

int udp_order_new(struct udp_order **out)
{
	struct udp_order *o = calloc(1, sizeof(*o));
	pthread_mutexattr_t attr;
	int err;

	if (!o)
		return ENOMEM;
	/* Held for one recvmmsg and a scan of its batch: spinning briefly beats sleeping. */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	err = pthread_mutex_init(&o->read_lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (err) {
		free(o);
		return err;
	}
	*out = o;
	return 0;
}

void udp_order_free(struct udp_order *o)
{
	if (!o)
		return;
	pthread_mutex_destroy(&o->read_lock);
	free(o);
}

void udp_order_read_begin(struct udp_order *o)
{
	pthread_mutex_lock(&o->read_lock);
}

void udp_order_read_end(struct udp_order *o)
{
	pthread_mutex_unlock(&o->read_lock);
}

uint32_t udp_order_key(const char *buf, size_t len)
{
	struct sipd_str cid = sipd_raw_call_id(buf, len);
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < cid.len; i++)
		h = (h ^ (unsigned char)cid.p[i]) * 16777619u;
	return h % UDP_ORDER_STRIPES;
}

unsigned udp_order_claim(struct udp_order *o, uint32_t key, unsigned me, bool *queue)
{
	struct udp_stripe *s = &o->stripes[key];

	/*
	 * Only a read-lock holder adds, so a stripe seen idle stays idle until
	 * this claim. One seen busy may fall idle meanwhile: the datagram still
	 * queues behind its last owner, which is late but never out of order.
	 */
	if (__atomic_load_n(&s->inflight, __ATOMIC_ACQUIRE) == 0) {
		s->owner = me;
		*queue = false;
	} else {
		*queue = true;
	}
	__atomic_add_fetch(&s->inflight, 1, __ATOMIC_RELAXED);
	return s->owner;
}

void udp_order_done(struct udp_order *o, uint32_t key)
{
	__atomic_sub_fetch(&o->stripes[key].inflight, 1, __ATOMIC_RELEASE);
}
