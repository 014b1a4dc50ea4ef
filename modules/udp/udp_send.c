/* Sending: the udp transport's send function (any thread) and its per-worker batches. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <sipd/log.h>
#include <sipd/loop.h>

#include "udp.h"

/* One batch per worker loop, indexed by sipd_thread_index(); only its own loop's thread touches it. */
static struct udp_batch **batches;
static unsigned batch_count;

/* The socket asked for, else the first one of the destination's family; -1 if none. */
static int pick_fd(const struct sipd_dest *dst)
{
	sa_family_t family = dst->addr.sa.sa_family;

	if (dst->from && dst->from->proto == SIPD_PROTO_UDP && dst->from->fd >= 0 &&
	    dst->from->addr.sa.sa_family == family)
		return dst->from->fd;
	for (unsigned i = 0; i < udp_mod.sock_count; i++)
		if (udp_mod.socks[i].listen->addr.sa.sa_family == family)
			return udp_mod.socks[i].fd;
	return -1;
}

/* The socket and address length for dst: 0, or EAFNOSUPPORT. */
static int route(const struct sipd_dest *dst, int *fd, socklen_t *alen)
{
	if (dst->addr.sa.sa_family == AF_INET)
		*alen = sizeof(dst->addr.sin);
	else if (dst->addr.sa.sa_family == AF_INET6)
		*alen = sizeof(dst->addr.sin6);
	else
		return EAFNOSUPPORT;
	*fd = pick_fd(dst);
	return *fd < 0 ? EAFNOSUPPORT : 0;
}

static void account(const struct udp_batch_result *res)
{
	if (res->sent)
		sipd_stat_add(udp_mod.tx_packets, res->sent);
	if (res->failed) {
		sipd_stat_add(udp_mod.tx_errors, res->failed);
		SIPD_DBG("%u queued datagram(s) not sent: %s", res->failed, strerror(res->err));
	}
}

/* The calling worker's batch, or NULL off the worker loops. */
static struct udp_batch *my_batch(void)
{
	unsigned i;

	if (!batches || !sipd_loop_self())
		return NULL;
	i = sipd_thread_index();
	return i < batch_count ? batches[i] : NULL;
}

/* What the calling worker queued goes first: a direct send never overtakes it. */
static void flush_mine(void)
{
	struct udp_batch *b = my_batch();
	struct udp_batch_result res;

	if (!b || !udp_batch_count(b))
		return;
	udp_batch_flush(b, &res);
	account(&res);
}

/*
 * Never blocks: a full send buffer answers EAGAIN rather than stalling the
 * worker; SIP over UDP recovers by retransmission.
 */
static int udp_send(const struct sipd_dest *dst, const char *buf, size_t len)
{
	socklen_t alen;
	ssize_t sent;
	int fd, err;

	err = route(dst, &fd, &alen);
	if (err)
		goto out;
	flush_mine();
	do
		sent = sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, &dst->addr.sa, alen);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		err = errno;
	else if ((size_t)sent != len)
		err = EMSGSIZE;
out:
	if (err)
		sipd_stat_inc(udp_mod.tx_errors);
	else
		sipd_stat_inc(udp_mod.tx_packets);
	return err;
}

/* sipd_send_soon on a worker: into its batch, sent when the loop's round ends (udp_flush). */
static int udp_queue(const struct sipd_dest *dst, const char *buf, size_t len)
{
	struct udp_batch *b = my_batch();
	struct udp_batch_result res;
	socklen_t alen;
	int fd, err;

	if (!b)
		return udp_send(dst, buf, len);
	err = route(dst, &fd, &alen);
	if (err) {
		sipd_stat_inc(udp_mod.tx_errors);
		return err;
	}
	err = udp_batch_add(b, fd, &dst->addr, alen, buf, len, &res);
	account(&res);
	/* Too large for a batch: alone, after what is queued. */
	return err == EMSGSIZE ? udp_send(dst, buf, len) : err;
}

const struct sipd_transport udp_transport = {
    .proto = SIPD_PROTO_UDP,
    .name = "udp",
    .send = udp_send,
};

const struct sipd_transport_batch udp_transport_batch = {
    .proto = SIPD_PROTO_UDP,
    .queue = udp_queue,
    .flush = flush_mine,
};

int udp_send_start(void)
{
	unsigned loops = sipd_loop_count();
	int err = 0;

	if (!(batches = calloc(loops ? loops : 1, sizeof(*batches))))
		return ENOMEM;
	batch_count = loops;
	for (unsigned i = 0; i < loops && !err; i++)
		err = udp_batch_new(&batches[i]);
	if (err)
		udp_send_stop();
	return err;
}

void udp_send_stop(void)
{
	for (unsigned i = 0; batches && i < batch_count; i++)
		udp_batch_free(batches[i]);
	free(batches);
	batches = NULL;
	batch_count = 0;
}
