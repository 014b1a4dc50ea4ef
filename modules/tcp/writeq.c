/* Write queue of one connection: chunks written in order with gathered writes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "writeq.h"

/* Enough iovecs to drain a typical backlog in one system call. */
#define WRITEQ_IOV_MAX 64

void tcp_writeq_init(struct tcp_writeq *q)
{
	q->head = q->tail = NULL;
	q->bytes = 0;
}

int tcp_writeq_push(struct tcp_writeq *q, const char *buf, size_t len, size_t limit)
{
	if (len == 0)
		return 0;
	if (q->bytes + len > limit)
		return ENOBUFS;
	struct tcp_wchunk *ch = malloc(sizeof(*ch) + len);
	if (!ch)
		return ENOMEM;
	ch->next = NULL;
	ch->len = len;
	ch->off = 0;
	memcpy(ch->data, buf, len);
	if (q->tail)
		q->tail->next = ch;
	else
		q->head = ch;
	q->tail = ch;
	q->bytes += len;
	return 0;
}

/* Drops n written bytes from the front. */
static void advance(struct tcp_writeq *q, size_t n)
{
	q->bytes -= n;
	while (n > 0 && q->head) {
		struct tcp_wchunk *ch = q->head;
		size_t left = ch->len - ch->off;
		if (n < left) {
			ch->off += n;
			return;
		}
		n -= left;
		q->head = ch->next;
		free(ch);
	}
	if (!q->head)
		q->tail = NULL;
}

int tcp_writeq_flush(struct tcp_writeq *q, tcp_writev_fn sink, void *arg, size_t *written)
{
	struct iovec iov[WRITEQ_IOV_MAX];
	int err = 0;

	*written = 0;
	while (q->head) {
		int cnt = 0;
		size_t want = 0;
		for (struct tcp_wchunk *ch = q->head; ch && cnt < WRITEQ_IOV_MAX; ch = ch->next) {
			iov[cnt].iov_base = ch->data + ch->off;
			iov[cnt].iov_len = ch->len - ch->off;
			want += iov[cnt].iov_len;
			cnt++;
		}
		ssize_t n = sink(arg, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				err = errno ? errno : EIO;
			break;
		}
		advance(q, (size_t)n);
		*written += (size_t)n;
		if ((size_t)n < want)
			break; /* the sink is full for now */
	}
	return err;
}

size_t tcp_writeq_clear(struct tcp_writeq *q)
{
	size_t dropped = q->bytes;

	while (q->head) {
		struct tcp_wchunk *ch = q->head;
		q->head = ch->next;
		free(ch);
	}
	tcp_writeq_init(q);
	return dropped;
}
