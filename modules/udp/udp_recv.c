/*
 * Receiving: every worker loop drains the shared sockets in recvmmsg batches,
 * keeping the datagrams of one call in order (udp_order.c).
 */
/* recvmmsg and struct mmsghdr are GNU extensions. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <sipd/log.h>
#include <sipd/loop.h>

#include "udp.h"

/* Batches read per wake-up before yielding to the loop's timers and other fds. */
#define UDP_ROUNDS 8

struct udp_worker;

/* One (worker, socket) pair: the argument of an io callback. */
struct udp_watch {
	struct udp_worker *w;
	struct udp_socket *sock;
	struct sipd_io *io;
};

/* What becomes of a datagram of the batch: handled here, handed to another worker, or not a message. */
enum rx_fate { RX_HANDLE, RX_HANDED_OVER, RX_SKIP };

/* Allocated once per loop and only touched by that loop's thread. */
struct udp_worker {
	unsigned index;
	struct sipd_stat *rx;
	char stat_name[32];
	struct udp_watch *watches;
	struct mmsghdr *msgs;
	struct iovec *iov;
	union sipd_sockaddr *from;
	char *bufs;
	char *ctl; /* per message: room for the SO_RXQ_OVFL counter */
	/* per message: its order stripe, and what becomes of it */
	uint32_t *keys;
	enum rx_fate *fate;
};

/* A datagram handed to the worker already handling its call. */
struct handover {
	struct sipd_rcvinfo ri;
	struct udp_order *order;
	uint32_t key;
	size_t len;
	char buf[];
};

#define UDP_CTL_SIZE CMSG_SPACE(sizeof(uint32_t))

static struct udp_worker *workers;
static unsigned worker_count;

/* Empty datagrams and bare CRLF keep-alives (RFC 5626 style) carry no message. */
static bool is_keepalive(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

static bool carries_message(struct udp_worker *w, unsigned i)
{
	size_t max = (size_t)udp_mod.max_message_size;

	return !(w->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) &&
	       !is_keepalive(w->bufs + (size_t)i * max, w->msgs[i].msg_len);
}

static void handover_run(void *arg)
{
	struct handover *h = arg;

	sipd_receive(&h->ri, h->buf, h->len);
	udp_order_done(h->order, h->key);
	free(h);
}

/* Under the read lock: a copy of datagram i joins worker target's queue, behind its call's earlier ones. */
static void hand_over(struct udp_worker *w, struct udp_socket *sock, unsigned i, unsigned target,
		      uint64_t now_ms)
{
	size_t len = w->msgs[i].msg_len;
	struct handover *h = malloc(sizeof(*h) + len);

	if (h) {
		h->ri = (struct sipd_rcvinfo){
		    .proto = SIPD_PROTO_UDP, .listen = sock->listen, .src = w->from[i], .time_ms = now_ms};
		h->order = sock->order;
		h->key = w->keys[i];
		h->len = len;
		memcpy(h->buf, w->bufs + (size_t)i * (size_t)udp_mod.max_message_size, len);
		if (sipd_loop_post(sipd_loop_get(target), handover_run, h) == 0) {
			sipd_stat_inc(udp_mod.rx_handed_over);
			return;
		}
		free(h);
	}
	/* Lost as the network may lose it; the sender's retransmission comes back through here. */
	udp_order_done(sock->order, w->keys[i]);
	sipd_stat_inc(udp_mod.rx_errors);
	SIPD_WARN("udp:%s:%u: no memory to hand a datagram to worker %u: dropped", sock->listen->host,
		  sock->listen->port, target);
}

/* Under the read lock: decides where each datagram of the batch is handled (udp_order.c). */
static void claim_batch(struct udp_worker *w, struct udp_socket *sock, unsigned n, uint64_t now_ms)
{
	size_t max = (size_t)udp_mod.max_message_size;

	for (unsigned i = 0; i < n; i++) {
		unsigned target;
		bool queue;

		if (!carries_message(w, i)) {
			w->fate[i] = RX_SKIP;
			continue;
		}
		w->keys[i] = udp_order_key(w->bufs + (size_t)i * max, w->msgs[i].msg_len);
		target = udp_order_claim(sock->order, w->keys[i], w->index, &queue);
		if (queue) {
			hand_over(w, sock, i, target, now_ms);
			w->fate[i] = RX_HANDED_OVER;
		} else {
			w->fate[i] = RX_HANDLE;
		}
	}
}

static void handle_batch(struct udp_worker *w, struct udp_socket *sock, unsigned n, uint64_t now_ms)
{
	struct sipd_rcvinfo ri = {
	    .proto = SIPD_PROTO_UDP,
	    .listen = sock->listen,
	    .time_ms = now_ms,
	};
	int64_t bytes = 0, oversized = 0, empty = 0;
	size_t max = (size_t)udp_mod.max_message_size;
	uint32_t drops = 0;

	for (unsigned i = 0; i < n; i++) {
		const char *buf = w->bufs + (size_t)i * max;
		size_t len = w->msgs[i].msg_len;

		bytes += (int64_t)len;
		if (w->msgs[i].msg_hdr.msg_controllen)
			drops = udp_drops_cmsg(&w->msgs[i].msg_hdr);
		if (w->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			oversized++;
			continue;
		}
		if (is_keepalive(buf, len)) {
			empty++;
			continue;
		}
		if (w->fate[i] != RX_HANDLE)
			continue;
		ri.src = w->from[i];
		sipd_receive(&ri, buf, len);
		if (sock->order)
			udp_order_done(sock->order, w->keys[i]);
	}
	sipd_stat_add(udp_mod.rx_packets, n);
	sipd_stat_add(udp_mod.rx_bytes, bytes);
	sipd_stat_add(w->rx, n);
	if (oversized)
		sipd_stat_add(udp_mod.rx_dropped_oversized, oversized);
	if (empty)
		sipd_stat_add(udp_mod.rx_dropped_empty, empty);
	if (drops)
		udp_drops_seen(sock, drops);
}

/*
 * Level-triggered with EPOLLEXCLUSIVE: the kernel wakes one idle worker per
 * arrival, so while this one parses its batch the next datagrams wake
 * another. That spreads load even when every packet has the same source
 * (a load generator, an upstream proxy), which SO_REUSEPORT hashing would not.
 */
static void on_readable(int fd, uint32_t events, void *arg)
{
	struct udp_watch *wa = arg;
	struct udp_worker *w = wa->w;
	struct udp_socket *sock = wa->sock;
	unsigned batch = (unsigned)udp_mod.batch;

	for (unsigned round = 0; round < UDP_ROUNDS; round++) {
		uint64_t now_ms;
		int n;

		for (unsigned i = 0; i < batch; i++) {
			w->msgs[i].msg_hdr.msg_namelen = sizeof(w->from[i]);
			w->msgs[i].msg_hdr.msg_flags = 0;
			w->msgs[i].msg_hdr.msg_controllen = UDP_CTL_SIZE;
			w->msgs[i].msg_len = 0;
			w->fate[i] = RX_HANDLE;
		}
		if (sock->order)
			udp_order_read_begin(sock->order);
		n = recvmmsg(fd, w->msgs, batch, MSG_DONTWAIT, NULL);
		now_ms = sipd_now_ms();
		if (n > 0 && sock->order)
			claim_batch(w, sock, (unsigned)n, now_ms);
		if (sock->order)
			udp_order_read_end(sock->order);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				/* ICMP errors queued on the socket surface here; they are not fatal. */
				sipd_stat_inc(udp_mod.rx_errors);
				SIPD_DBG("recvmmsg on %s: %s", sock->listen->host, strerror(errno));
			}
			return;
		}
		handle_batch(w, sock, (unsigned)n, now_ms);
		if ((unsigned)n < batch)
			return;
	}
}

static int worker_init(struct udp_worker *w, unsigned index)
{
	size_t batch = (size_t)udp_mod.batch, max = (size_t)udp_mod.max_message_size;

	w->index = index;
	snprintf(w->stat_name, sizeof(w->stat_name), "rx_worker_%u", index);
	w->rx = sipd_stat_register("udp", w->stat_name, "datagrams read by this worker");
	w->watches = calloc(udp_mod.sock_count, sizeof(*w->watches));
	w->msgs = calloc(batch, sizeof(*w->msgs));
	w->iov = calloc(batch, sizeof(*w->iov));
	w->from = calloc(batch, sizeof(*w->from));
	w->bufs = malloc(batch * max);
	w->ctl = calloc(batch, UDP_CTL_SIZE);
	w->keys = calloc(batch, sizeof(*w->keys));
	w->fate = calloc(batch, sizeof(*w->fate));
	if (!w->rx || !w->watches || !w->msgs || !w->iov || !w->from || !w->bufs || !w->ctl || !w->keys ||
	    !w->fate)
		return ENOMEM;
	for (size_t i = 0; i < batch; i++) {
		w->iov[i].iov_base = w->bufs + i * max;
		w->iov[i].iov_len = max;
		w->msgs[i].msg_hdr.msg_iov = &w->iov[i];
		w->msgs[i].msg_hdr.msg_iovlen = 1;
		w->msgs[i].msg_hdr.msg_name = &w->from[i];
		w->msgs[i].msg_hdr.msg_control = w->ctl + i * UDP_CTL_SIZE;
	}
	return 0;
}

static void worker_free(struct udp_worker *w)
{
	if (w->watches) {
		for (unsigned i = 0; i < udp_mod.sock_count; i++)
			if (w->watches[i].io)
				sipd_io_remove(w->watches[i].io);
	}
	free(w->watches);
	free(w->msgs);
	free(w->iov);
	free(w->from);
	free(w->bufs);
	free(w->ctl);
	free(w->keys);
	free(w->fate);
}

int udp_recv_start(void)
{
	unsigned loops = sipd_loop_count();
	int err = 0;

	if (!udp_mod.sock_count)
		return 0;
	workers = calloc(loops, sizeof(*workers));
	if (!workers) {
		err = ENOMEM;
		goto out;
	}
	worker_count = loops;
	/* One reader needs no ordering: it handles its datagrams one after the other. */
	for (unsigned s = 0; loops > 1 && s < udp_mod.sock_count; s++) {
		if ((err = udp_order_new(&udp_mod.socks[s].order)))
			goto out;
	}
	for (unsigned i = 0; i < loops; i++) {
		struct udp_worker *w = &workers[i];

		err = worker_init(w, i);
		if (err)
			goto out;
		for (unsigned s = 0; s < udp_mod.sock_count; s++) {
			struct udp_watch *wa = &w->watches[s];

			wa->w = w;
			wa->sock = &udp_mod.socks[s];
			err = sipd_io_add(&wa->io, sipd_loop_get(i), wa->sock->fd, EPOLLIN | EPOLLEXCLUSIVE,
					  on_readable, wa);
			if (err) {
				SIPD_ERR("watching udp:%s:%u on worker %u: %s", wa->sock->listen->host,
					 wa->sock->listen->port, i, strerror(err));
				goto out;
			}
		}
	}
	SIPD_INFO("receiving on %u udp socket(s) with %u worker(s), batches of %d, messages up to %d bytes",
		  udp_mod.sock_count, loops, udp_mod.batch, udp_mod.max_message_size);
out:
	if (err)
		udp_recv_stop();
	return err;
}

void udp_recv_stop(void)
{
	for (unsigned i = 0; i < worker_count; i++)
		worker_free(&workers[i]);
	for (unsigned s = 0; s < udp_mod.sock_count; s++) {
		udp_order_free(udp_mod.socks[s].order);
		udp_mod.socks[s].order = NULL;
	}
	free(workers);
	workers = NULL;
	worker_count = 0;
}
