/* Per-connection write queue: copies of messages waiting for the socket. */
#ifndef TCP_WRITEQ_H
#define TCP_WRITEQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct tcp_wchunk {
	struct tcp_wchunk *next;
	size_t len, off; /* off: bytes of data already written */
	char data[];
};

struct tcp_writeq {
	struct tcp_wchunk *head, *tail;
	size_t bytes; /* unwritten bytes in the queue */
};

/*
 * A sink like writev(2): returns bytes taken, or -1 with errno (EAGAIN when
 * full for now).
 */
typedef ssize_t (*tcp_writev_fn)(void *arg, const struct iovec *iov, int iovcnt);

void tcp_writeq_init(struct tcp_writeq *q);
/* Appends a copy of buf. ENOBUFS when the queue would exceed limit bytes, ENOMEM. */
int tcp_writeq_push(struct tcp_writeq *q, const char *buf, size_t len, size_t limit);
/*
 * Writes queued bytes in order until the sink is full or the queue empty.
 * *written gets the bytes taken. Returns 0 (also when the sink said EAGAIN)
 * or the sink's errno on a hard error.
 */
int tcp_writeq_flush(struct tcp_writeq *q, tcp_writev_fn sink, void *arg, size_t *written);
/* Frees everything; returns the unwritten bytes dropped. */
size_t tcp_writeq_clear(struct tcp_writeq *q);

#endif
