/* Batched sending: datagrams queued on one thread go out together, in order, with sendmmsg. */
/* sendmmsg and struct mmsghdr are GNU extensions. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "udp.h"

struct udp_batch {
	unsigned n;
	size_t used;
	int fds[UDP_BATCH_MSGS];
	union sipd_sockaddr to[UDP_BATCH_MSGS];
	struct iovec iov[UDP_BATCH_MSGS];
	struct mmsghdr msgs[UDP_BATCH_MSGS];
	char buf[UDP_BATCH_BYTES];
};

int udp_batch_new(struct udp_batch **out)
{
	struct udp_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return ENOMEM;
	*out = b;
	return 0;
}

void udp_batch_free(struct udp_batch *b)
{
	free(b);
}

unsigned udp_batch_count(const struct udp_batch *b)
{
	return b->n;
}

int udp_batch_add(struct udp_batch *b, int fd, const union sipd_sockaddr *to, socklen_t tolen,
		  const char *buf, size_t len, struct udp_batch_result *res)
{
	unsigned i;

	*res = (struct udp_batch_result){0};
	if (len > UDP_BATCH_BYTES || tolen > sizeof(*to))
		return EMSGSIZE;
	if (b->n == UDP_BATCH_MSGS || b->used + len > UDP_BATCH_BYTES)
		udp_batch_flush(b, res);
	i = b->n++;
	b->fds[i] = fd;
	memcpy(&b->to[i], to, tolen);
	memcpy(b->buf + b->used, buf, len);
	b->iov[i] = (struct iovec){.iov_base = b->buf + b->used, .iov_len = len};
	b->msgs[i] = (struct mmsghdr){
	    .msg_hdr = {.msg_name = &b->to[i], .msg_namelen = tolen, .msg_iov = &b->iov[i], .msg_iovlen = 1}};
	b->used += len;
	return 0;
}

/* The messages from first on that share its socket: one sendmmsg call covers them. */
static unsigned same_fd_run(const struct udp_batch *b, unsigned first)
{
	unsigned end = first + 1;

	while (end < b->n && b->fds[end] == b->fds[first])
		end++;
	return end - first;
}

/*
 * sendmmsg stops at the first message that fails and reports only the ones
 * before it; the next call then starts with the failing one, whose error
 * comes back as -1: it is counted and skipped, so one bad message costs the
 * others nothing.
 */
void udp_batch_flush(struct udp_batch *b, struct udp_batch_result *res)
{
	unsigned i = 0;

	*res = (struct udp_batch_result){0};
	while (i < b->n) {
		unsigned run = same_fd_run(b, i);
		int r;

		do
			r = sendmmsg(b->fds[i], &b->msgs[i], run, MSG_DONTWAIT | MSG_NOSIGNAL);
		while (r < 0 && errno == EINTR);
		if (r <= 0) {
			res->failed++;
			res->err = r < 0 ? errno : EAGAIN;
			i++;
			continue;
		}
		for (int k = 0; k < r; k++) {
			if (b->msgs[i + (unsigned)k].msg_len == b->iov[i + (unsigned)k].iov_len) {
				res->sent++;
			} else {
				res->failed++;
				res->err = EMSGSIZE;
			}
		}
		i += (unsigned)r;
	}
	b->n = 0;
	b->used = 0;
}
