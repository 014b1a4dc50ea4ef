/* The socket side of a connection: reading and framing, writing, connecting. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sipd/log.h>

#include "tcp.h"

/* Reads land here first, so idle connections need no buffer of their own. */
#define SCRATCH_SIZE 65536
static __thread char scratch[SCRATCH_SIZE];

/* Reads per readiness event before other connections get their turn. */
#define READ_ROUNDS 8

static ssize_t sock_writev(void *arg, const struct iovec *iov, int iovcnt)
{
	return tcp_io_writev(arg, iov, iovcnt);
}

bool tcp_conn_pending(const struct tcp_conn *c)
{
	return c->state == TCP_ST_CONNECTING || c->state == TCP_ST_HANDSHAKE;
}

/* c->lock held. Writes what the socket takes; returns a hard socket error. */
static int flush_locked(struct tcp_conn *c)
{
	size_t n = 0;
	int err = tcp_writeq_flush(&c->wq, sock_writev, c, &n);

	if (n) {
		uint64_t now = sipd_now_ms();
		TCP_STORE(c->tx_bytes, c->tx_bytes + n);
		TCP_STORE(c->active_ms, now);
		c->wprogress_ms = now;
	}
	return err;
}

static void watch(struct tcp_conn *c, bool in, bool out)
{
	uint32_t ev = (in ? EPOLLIN : 0) | (out ? EPOLLOUT : 0);

	if (c->watch && sipd_io_modify(c->watch, ev) == 0)
		c->out_watched = out;
}

/* Loop thread: after a flush, decides whether to keep EPOLLOUT or to finish a closing connection. */
static void after_flush(struct tcp_conn *c, int err, size_t left)
{
	if (err) {
		tcp_conn_close(c, c->st->closed_error, err, "write failed");
		return;
	}
	if (left == 0 && c->state == TCP_ST_CLOSING) {
		tcp_conn_close(c, c->close_counter, EBADMSG, c->close_why);
		return;
	}
	if (left == 0 && c->peer_eof) {
		tcp_conn_close(c, c->st->closed_peer, 0, "closed by peer");
		return;
	}
	bool reading = c->state == TCP_ST_OPEN && !c->peer_eof;
	if ((left > 0) != c->out_watched)
		watch(c, reading, left > 0);
	tcp_timer_update(c);
}

static void on_writable(struct tcp_conn *c)
{
	pthread_mutex_lock(&c->lock);
	int err = flush_locked(c);
	size_t left = c->wq.bytes;
	pthread_mutex_unlock(&c->lock);
	after_flush(c, err, left);
}

static void posted_flush(void *arg)
{
	struct tcp_conn *c = arg;

	pthread_mutex_lock(&c->lock);
	c->flush_posted = false;
	bool open = c->state == TCP_ST_OPEN || c->state == TCP_ST_CLOSING;
	pthread_mutex_unlock(&c->lock);
	if (open)
		on_writable(c);
	tcp_conn_unref(c);
}

/*
 * Writes the pieces of iov as one unit (nothing else in between): straight
 * to the socket when nothing waits, the rest queued. With framed, iov[0] is
 * filled with the framer's header for iov[1] under the lock.
 */
static int conn_writev(struct tcp_conn *c, struct iovec *iov, int n, bool framed)
{
	bool on_loop = sipd_loop_self() == c->loop;
	bool post = false;
	size_t done = 0, len = 0, queued = 0;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->state == TCP_ST_CLOSED || c->close_posted) {
		err = ENOTCONN;
		goto out;
	}
	if (framed && !(iov[0].iov_len = c->proto->framer->frame(c->fstate, iov[1].iov_base, iov[1].iov_len,
								 iov[0].iov_base))) {
		err = ENOTCONN;
		goto out;
	}
	for (int i = 0; i < n; i++)
		len += iov[i].iov_len;
	/* Straight to the socket when nothing waits before us: the common case. */
	if (!tcp_conn_pending(c) && c->wq.bytes == 0) {
		ssize_t w = tcp_io_writev(c, iov, n);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			err = errno;
			goto out;
		}
		if (w > 0) {
			done = (size_t)w;
			TCP_STORE(c->tx_bytes, c->tx_bytes + done);
			TCP_STORE(c->active_ms, sipd_now_ms());
		}
	}
	if (done == len)
		goto out;
	if (c->wq.bytes == 0)
		c->wprogress_ms = sipd_now_ms(); /* the write timeout counts from the first byte waiting */
	for (int i = 0; i < n && !err; i++) {
		size_t skip = done > iov[i].iov_len ? iov[i].iov_len : done;
		done -= skip;
		if (iov[i].iov_len > skip) {
			err = tcp_writeq_push(&c->wq, (const char *)iov[i].iov_base + skip,
					      iov[i].iov_len - skip, (size_t)tcp_cfg.max_write_queue);
			queued += err ? 0 : iov[i].iov_len - skip;
		}
	}
	if (queued)
		sipd_stat_add(c->st->bytes_queued, (int64_t)queued);
	if (err)
		goto out;
	if (!on_loop && !tcp_conn_pending(c) && !c->flush_posted) {
		c->flush_posted = true;
		tcp_conn_ref(c);
		post = true;
	}
out:
	pthread_mutex_unlock(&c->lock);
	if (err == ENOBUFS) {
		sipd_stat_inc(c->st->write_queue_full);
		tcp_conn_close_async(c, c->st->closed_limit, ENOBUFS, "write queue full");
	} else if (err && err != ENOTCONN) {
		tcp_conn_close_async(c, c->st->closed_error, err, "write failed");
	} else if (post && sipd_loop_post(c->loop, posted_flush, c) != 0) {
		/* The bytes stay queued; the next write or readiness event flushes them. */
		pthread_mutex_lock(&c->lock);
		c->flush_posted = false;
		pthread_mutex_unlock(&c->lock);
		tcp_conn_unref(c);
	} else if (!err && on_loop && queued && !tcp_conn_pending(c)) {
		if (!c->out_watched)
			watch(c, c->state == TCP_ST_OPEN && !c->peer_eof, true);
		tcp_timer_update(c);
	}
	return err;
}

int tcp_conn_write(struct tcp_conn *c, const char *buf, size_t len)
{
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};

	return conn_writev(c, &iov, 1, false);
}

int tcp_conn_send_msg(struct tcp_conn *c, const char *buf, size_t len)
{
	char hdr[STREAM_FRAME_HDR];
	struct iovec iov[2] = {{.iov_base = hdr}, {.iov_base = (void *)buf, .iov_len = len}};

	if (!c->proto->framer)
		return tcp_conn_write(c, buf, len);
	/* Only a request starts a client transaction that the close must fail (tcp_conn_close). */
	if (!TCP_LOAD(c->sent_request) && (len < 8 || memcmp(buf, "SIP/2.0 ", 8)))
		__atomic_store_n(&c->sent_request, true, __ATOMIC_RELAXED);
	return conn_writev(c, iov, 2, true);
}

void tcp_conn_end(struct tcp_conn *c, enum stream_end why, const char *text)
{
	struct tcp_counters *st = c->st;

	pthread_mutex_lock(&c->lock);
	if (c->state == TCP_ST_OPEN || c->state == TCP_ST_HANDSHAKE) {
		__atomic_store_n(&c->state, TCP_ST_CLOSING, __ATOMIC_RELEASE);
		c->close_counter = why == STREAM_END_PEER    ? st->closed_peer
				   : why == STREAM_END_IDLE  ? st->closed_idle
				   : why == STREAM_END_LIMIT ? st->closed_limit
							     : st->closed_error;
		c->close_why = text;
	}
	pthread_mutex_unlock(&c->lock);
	/* Closed by after_flush once the queue is empty: never under the framer's feet. */
	watch(c, false, true);
}

void tcp_conn_deliver(struct tcp_conn *c, const char *p, size_t len)
{
	struct sipd_rcvinfo ri = {
	    .proto = c->proto->proto,
	    .src = c->peer,
	    .listen = c->listen,
	    .conn_id = c->id,
	    .time_ms = sipd_now_ms(),
	};

	sipd_stat_inc(c->st->rx_messages);
	if (!tcp_spread(&ri, p, len, c->st->spread))
		sipd_receive(&ri, p, len);
}

/*
 * A message that cannot be framed: answer it (with the parser when its
 * header block parses) and close once the answer is written.
 */
static void reject(struct tcp_conn *c, const char *p, size_t avail, const struct tcp_frame *fr)
{
	char peer[INET6_ADDRSTRLEN + 8];
	bool answered = false, parsed = false;

	sipd_stat_inc(c->st->bad_framing);
	if (fr->head_len && tcp_parser) {
		struct sipd_rcvinfo ri = {.proto = c->proto->proto,
					  .src = c->peer,
					  .listen = c->listen,
					  .conn_id = c->id,
					  .time_ms = sipd_now_ms()};
		struct sipd_msg *m;
		const char *why;
		if (tcp_parser->parse(&m, p, fr->head_len, &ri, &why) == 0) {
			struct sipd_str out;
			parsed = true;
			if (m->is_request && m->method_id != SIPD_METHOD_ACK &&
			    m->ops->reply_build(m, fr->status, sipd_str_c(fr->why), SIPD_STR_NULL,
						SIPD_STR_NULL, SIPD_STR_NULL, &out) == 0)
				answered = tcp_conn_write(c, out.p, out.len) == 0;
			tcp_parser->free(m);
		}
	}
	/* Not parseable but not a response either: a bare status line still tells a human why. */
	if (!parsed && !(avail >= 4 && memcmp(p, "SIP/", 4) == 0)) {
		char line[128];
		int n = snprintf(line, sizeof(line), "SIP/2.0 %d %s\r\nContent-Length: 0\r\n\r\n", fr->status,
				 fr->why);
		answered = tcp_conn_write(c, line, (size_t)n) == 0;
	}
	SIPD_INFO("%s connection %llu from %s: %s, %s", c->proto->name, (unsigned long long)c->id,
		  tcp_addr_str(&c->peer, peer, sizeof(peer)), fr->why,
		  answered ? "answered and closing" : "closing");

	pthread_mutex_lock(&c->lock);
	if (c->state == TCP_ST_OPEN)
		__atomic_store_n(&c->state, TCP_ST_CLOSING, __ATOMIC_RELEASE);
	c->close_counter = fr->status == 513 ? c->st->closed_limit : c->st->closed_error;
	c->close_why = fr->why;
	size_t left = c->wq.bytes;
	pthread_mutex_unlock(&c->lock);
	if (left == 0)
		tcp_conn_close(c, c->close_counter, EBADMSG, fr->why);
	else
		watch(c, false, true);
}

/* A framer's input: it frames, answers and delivers itself. */
static size_t process_framed(struct tcp_conn *c, char *buf, size_t len, bool *got_msg)
{
	size_t off = 0;

	while (off < len && c->state == TCP_ST_OPEN && !TCP_LOAD(c->close_posted)) {
		size_t n = c->proto->framer->input((struct stream_conn *)c, c->fstate, buf + off, len - off);
		if (!n)
			break;
		off += n;
		*got_msg = true;
	}
	/* Ended: what is left is never read. */
	return c->state == TCP_ST_OPEN ? off : len;
}

/* Frames and dispatches buf[len]; returns the bytes used. Stops when c stops being open. */
static size_t process(struct tcp_conn *c, char *buf, size_t len, bool *got_msg)
{
	size_t off = 0;
	size_t max = (size_t)tcp_cfg.max_message_size;

	if (c->proto->framer)
		return process_framed(c, buf, len, got_msg);

	while (off < len && c->state == TCP_ST_OPEN && !TCP_LOAD(c->close_posted)) {
		struct tcp_frame fr;
		tcp_frame_next(&fr, buf + off, len - off, max, &c->fr.scan);
		switch (fr.kind) {
		case TCP_FRAME_MORE:
			return off;
		case TCP_FRAME_SKIP:
			off += fr.len;
			break;
		case TCP_FRAME_PING:
			off += fr.len;
			sipd_stat_inc(c->st->keepalive_pongs);
			tcp_conn_write(c, "\r\n", 2);
			break;
		case TCP_FRAME_MSG:
			tcp_conn_deliver(c, buf + off, fr.len);
			off += fr.len;
			*got_msg = true;
			break;
		case TCP_FRAME_BAD:
			reject(c, buf + off, len - off, &fr);
			return len;
		}
	}
	return off;
}

static void on_eof(struct tcp_conn *c)
{
	pthread_mutex_lock(&c->lock);
	size_t left = c->wq.bytes;
	pthread_mutex_unlock(&c->lock);
	tcp_framer_free(&c->fr); /* a message cut by the close can never complete */
	if (left == 0) {
		tcp_conn_close(c, c->st->closed_peer, 0, "closed by peer");
		return;
	}
	/* Half-close: the peer may still read what we owe it. */
	TCP_STORE(c->peer_eof, true); /* lookups read it unlocked */
	watch(c, false, true);
	tcp_timer_update(c);
}

static void on_readable(struct tcp_conn *c);

static void posted_read(void *arg)
{
	struct tcp_conn *c = arg;

	if (c->state == TCP_ST_OPEN && !c->peer_eof)
		on_readable(c);
	tcp_conn_unref(c);
}

static void post_read(struct tcp_conn *c)
{
	tcp_conn_ref(c);
	if (sipd_loop_post(c->loop, posted_read, c) != 0)
		tcp_conn_unref(c);
}

static void on_readable(struct tcp_conn *c)
{
	struct tcp_framer *f = &c->fr;

	for (int round = 0; round < READ_ROUNDS && c->state == TCP_ST_OPEN && !TCP_LOAD(c->close_posted) &&
			    !tcp_spread_full();
	     round++) {
		bool pending = f->len > 0, got_msg = false;
		char *dst = scratch;
		size_t room = SCRATCH_SIZE;
		int err;

		if (pending) {
			err = tcp_framer_reserve(f, c->proto->max_input);
			if (err) {
				tcp_conn_close(c, c->st->closed_error, err, "no memory for the read buffer");
				return;
			}
			dst = f->buf + f->len;
			room = f->cap - f->len;
		}
		ssize_t n;
		bool more = false;
		if (c->proto->layer) {
			/* The layer's state is shared with writers on other threads. */
			pthread_mutex_lock(&c->lock);
			n = tcp_io_read(c, dst, room);
			more = n > 0 && tcp_io_pending(c);
			pthread_mutex_unlock(&c->lock);
		} else {
			n = recv(c->fd, dst, room, MSG_DONTWAIT);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			tcp_conn_close(c, c->st->closed_error, errno, "read failed");
			return;
		}
		if (n == 0) {
			on_eof(c);
			return;
		}
		uint64_t now = sipd_now_ms();
		TCP_STORE(c->rx_bytes, c->rx_bytes + (uint64_t)n);
		TCP_STORE(c->active_ms, now);
		c->rx_ms = now;

		if (pending) {
			f->len += (size_t)n;
			tcp_framer_consume(f, process(c, f->buf, f->len, &got_msg));
		} else {
			size_t used = process(c, scratch, (size_t)n, &got_msg);
			if (used < (size_t)n && c->state == TCP_ST_OPEN &&
			    tcp_framer_keep(f, scratch + used, (size_t)n - used) != 0) {
				tcp_conn_close(c, c->st->closed_error, ENOMEM,
					       "no memory for the read buffer");
				return;
			}
		}
		if (c->state != TCP_ST_OPEN) {
			tcp_framer_free(f);
			return;
		}
		/* The read timeout runs from the first byte of the message still incomplete. */
		if (f->len == 0 || tcp_framer_blank(f))
			f->started_ms = 0;
		else if (got_msg || !f->started_ms)
			f->started_ms = now;
		if ((size_t)n < room && !more)
			break;
		/* Decrypted bytes left over announce themselves with no event: come back for them. */
		if (more && round + 1 == READ_ROUNDS)
			post_read(c);
	}
	tcp_timer_update(c);
}

/* One step of the layer's handshake; done: the queue is flushed and reading starts. */
static void step_handshake(struct tcp_conn *c)
{
	char why[256] = "", msg[320];
	bool want_write = false;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (c->state == TCP_ST_HANDSHAKE) {
		err = tcp_io_handshake(c, &want_write, why, sizeof(why));
		if (!err)
			__atomic_store_n(&c->state, TCP_ST_OPEN, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&c->lock);
	if (err == EAGAIN) {
		watch(c, !want_write, want_write);
		return;
	}
	if (err) {
		if (c->st->handshake_failed)
			sipd_stat_inc(c->st->handshake_failed);
		snprintf(msg, sizeof(msg), "%s handshake failed: %s", c->proto->name, why[0] ? why : "?");
		tcp_conn_close(c, c->st->closed_error, err, msg);
		return;
	}
	c->hs_start_ms = 0;
	if (c->outbound)
		sipd_stat_inc(c->st->connected);
	/* The last handshake step may have watched only one direction: read again; after_flush adds OUT. */
	watch(c, true, false);
	on_writable(c);
	if (c->state == TCP_ST_OPEN && !c->peer_eof)
		on_readable(c);
}

static void on_connected(struct tcp_conn *c)
{
	int err = 0;
	socklen_t el = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
		err = errno;
	if (err) {
		tcp_conn_close(c, c->st->closed_error, err, "connect failed");
		return;
	}
	socklen_t sl = sizeof(c->local);
	getsockname(c->fd, &c->local.sa, &sl);
	if (c->proto->layer) {
		pthread_mutex_lock(&c->lock);
		__atomic_store_n(&c->state, TCP_ST_HANDSHAKE, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&c->lock);
		c->hs_start_ms = sipd_now_ms();
		tcp_timer_update(c);
		step_handshake(c);
		return;
	}
	pthread_mutex_lock(&c->lock);
	__atomic_store_n(&c->state, TCP_ST_OPEN, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&c->lock);
	sipd_stat_inc(c->st->connected);
	c->out_watched = true; /* the connect wait used EPOLLOUT */
	on_writable(c);
}

static void on_io(int fd, uint32_t events, void *arg)
{
	struct tcp_conn *c = arg;

	tcp_conn_ref(c);
	if (c->state == TCP_ST_CONNECTING) {
		on_connected(c);
		goto out;
	}
	if (c->state == TCP_ST_HANDSHAKE) {
		step_handshake(c);
		goto out;
	}
	if (events & EPOLLOUT)
		on_writable(c);
	if (c->state == TCP_ST_CLOSED)
		goto out;
	if ((c->state == TCP_ST_CLOSING || c->peer_eof) && (events & (EPOLLERR | EPOLLHUP)))
		tcp_conn_close(c, c->st->closed_error, EPIPE, "peer gone");
	else if (c->state == TCP_ST_OPEN && !c->peer_eof && (events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		on_readable(c);
out:
	tcp_conn_unref(c);
}

int tcp_conn_attach(struct tcp_conn *c)
{
	int one = 1, err = 0;
	uint32_t ev = EPOLLIN;

	/* Whole messages are written at once; Nagle would only delay pipelined answers. */
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->state == TCP_ST_CONNECTING) {
		socklen_t len = c->peer.sa.sa_family == AF_INET6 ? sizeof(c->peer.sin6) : sizeof(c->peer.sin);
		if (connect(c->fd, &c->peer.sa, len) != 0 && errno != EINPROGRESS) {
			err = errno;
			tcp_conn_close(c, c->st->closed_error, err, "connect failed");
			return err;
		}
		ev = EPOLLOUT; /* writable = connected (or failed: SO_ERROR says) */
	}
	err = sipd_io_add(&c->watch, c->loop, c->fd, ev, on_io, c);
	if (err) {
		tcp_conn_close(c, c->st->closed_error, err, "cannot watch the socket");
		return err;
	}
	tcp_timer_update(c);
	return 0;
}
