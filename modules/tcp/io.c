/* The byte path of one connection: the plain socket, or the registered layer (tls) on top of it. */
#include <errno.h>
#include <sys/socket.h>

#include "tcp.h"

ssize_t tcp_io_read(struct tcp_conn *c, void *buf, size_t len)
{
	if (c->fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	if (!c->proto->layer)
		return recv(c->fd, buf, len, MSG_DONTWAIT);
	return c->proto->layer->read(c->io, buf, len);
}

/*
 * A layer takes one buffer at a time: write them in turn until one is not
 * taken whole. After EAGAIN the layer must see the same bytes again, which it
 * does: the queue starts its next flush where this one stopped.
 */
ssize_t tcp_io_writev(struct tcp_conn *c, const struct iovec *iov, int iovcnt)
{
	if (c->fd < 0) {
		errno = ENOTCONN;
		return -1;
	}
	if (!c->proto->layer) {
		struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
		return sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	}
	ssize_t total = 0;
	for (int i = 0; i < iovcnt; i++) {
		ssize_t n = c->proto->layer->write(c->io, iov[i].iov_base, iov[i].iov_len);
		if (n < 0)
			return total > 0 ? total : -1; /* errno says why; the bytes written so far count */
		total += n;
		if ((size_t)n < iov[i].iov_len)
			break;
	}
	return total;
}

bool tcp_io_pending(struct tcp_conn *c)
{
	return c->proto->layer && c->proto->layer->pending && c->io && c->proto->layer->pending(c->io);
}

int tcp_io_handshake(struct tcp_conn *c, bool *want_write, char *why, size_t size)
{
	if (!c->proto->layer || !c->io)
		return 0;
	return c->proto->layer->handshake(c->io, want_write, why, size);
}

void tcp_io_close(struct tcp_conn *c)
{
	if (c->proto->layer && c->io)
		c->proto->layer->close(c->io);
	c->io = NULL;
}
