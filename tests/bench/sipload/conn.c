/* sipload connections: non-blocking TCP/TLS sockets on one edge-triggered epoll, buffered batched writes. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "sipload.h"

static struct sl_conn *dirty_head, *dead_head, *all_head;
unsigned sl_connect_errors, sl_tls_errors;

void sl_buf_reserve(struct sl_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		fprintf(stderr, "sipload: out of memory\n");
		exit(2);
	}
	b->p = p;
	b->cap = cap;
}

void sl_buf_add(struct sl_buf *b, const void *p, size_t n)
{
	sl_buf_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void sl_buf_consume(struct sl_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void sl_conn_mark_dirty(struct sl_conn *c)
{
	if (c->dirty || c->state == SL_CLOSED)
		return;
	c->dirty = true;
	sl_conn_ref(c);
	c->next_dirty = dirty_head;
	dirty_head = c;
}

void sl_conn_ref(struct sl_conn *c)
{
	c->refs++;
}

void sl_conn_unref(struct sl_conn *c)
{
	if (--c->refs)
		return;
	free(c->in.p);
	free(c->out.p);
	free(c->ws_msg.p);
	free(c);
}

static struct sl_conn *conn_new(int fd, enum sl_role role, enum sl_state state)
{
	struct sl_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET};
	int one = 1;

	if (!c) {
		fprintf(stderr, "sipload: out of memory\n");
		exit(2);
	}
	c->fd = fd;
	c->proto = sl_cfg.proto;
	c->role = role;
	c->state = state;
	c->refs = 1; /* the epoll registration's reference, dropped when it closes */
	c->next_all = all_head;
	if (all_head)
		all_head->prev_all = c;
	all_head = c;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev.data.ptr = c;
	if (epoll_ctl(sl_epfd, EPOLL_CTL_ADD, fd, &ev)) {
		perror("sipload: epoll_ctl");
		exit(2);
	}
	return c;
}

/* Sent-by of our Via and Contact: the local address, or a .invalid host over WebSocket (RFC 7118). */
static void set_sent_by(struct sl_conn *c)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);

	if (c->proto == SL_WS || c->proto == SL_WSS) {
		strcpy(c->sent_by, "sipload.invalid");
		return;
	}
	if (getsockname(c->fd, (struct sockaddr *)&sa, &sl) == 0)
		snprintf(c->sent_by, sizeof(c->sent_by), "%s:%u", inet_ntoa(sa.sin_addr), ntohs(sa.sin_port));
	else
		strcpy(c->sent_by, "127.0.0.1:9");
}

int sl_conn_connect(struct sl_conn **out, enum sl_role role, uint32_t call)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(sl_cfg.port)};
	struct sl_conn *c;
	int fd, err = 0;

	if (inet_pton(AF_INET, sl_cfg.host, &sa.sin_addr) != 1)
		return EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		err = errno;
		close(fd);
		goto out;
	}
	c = conn_new(fd, role, SL_CONNECTING);
	c->call = call;
	set_sent_by(c);
	*out = c;
out:
	return err;
}

int sl_listen(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4096)) {
		int err = errno;

		close(fd);
		return err;
	}
	conn_new(fd, SL_ROLE_LISTEN, SL_OPEN);
	return 0;
}

void sl_conn_close(struct sl_conn *c)
{
	if (c->state == SL_CLOSED)
		return;
	if (c->ssl && c->state == SL_OPEN)
		SSL_shutdown(c->ssl); /* one close_notify, no wait for the peer's */
	c->state = SL_CLOSED;
	if (c->prev_all)
		c->prev_all->next_all = c->next_all;
	else
		all_head = c->next_all;
	if (c->next_all)
		c->next_all->prev_all = c->prev_all;
	epoll_ctl(sl_epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	if (c->role == SL_ROLE_UAC)
		sl_uac_on_close(c);
	else if (c->role == SL_ROLE_UAS && (c->proto == SL_WS || c->proto == SL_WSS) && !sl_uas_ready)
		sl_uas_refused = true; /* the callee could not register: nothing to measure */
	/* Freed at the end of the loop turn: later events of this turn may still name it. */
	c->next_dead = dead_head;
	dead_head = c;
}

/* At exit: every connection still open is closed and freed. */
void sl_conn_close_all(void)
{
	while (all_head)
		sl_conn_close(all_head);
	sl_conn_flush_all();
	sl_conn_reap();
}

void sl_conn_reap(void)
{
	struct sl_conn *c;

	while ((c = dead_head)) {
		dead_head = c->next_dead;
		sl_conn_unref(c);
	}
}

/* A SIP message to send: framed as one WebSocket message over ws/wss, as is over tcp/tls. */
void sl_conn_send(struct sl_conn *c, const char *msg, size_t len)
{
	if (c->state == SL_CLOSED)
		return;
	if (c->proto == SL_WS || c->proto == SL_WSS)
		sl_ws_frame(&c->out, 1, msg, len);
	else
		sl_buf_add(&c->out, msg, len);
	sl_conn_mark_dirty(c);
}

static void transport_up(struct sl_conn *c)
{
	if (c->proto == SL_WS || c->proto == SL_WSS) {
		c->state = SL_WS_HANDSHAKE;
		sl_ws_handshake_request(c);
		sl_conn_mark_dirty(c);
		return;
	}
	c->state = SL_OPEN;
	if (c->role == SL_ROLE_UAC)
		sl_uac_on_open(c);
	else
		sl_uas_on_open(c);
}

static void tls_start(struct sl_conn *c, bool server)
{
	c->ssl = SSL_new(server ? sl_server_ctx : sl_client_ctx);
	if (!c->ssl || !SSL_set_fd(c->ssl, c->fd)) {
		fprintf(stderr, "sipload: SSL_new failed\n");
		exit(2);
	}
	if (server)
		SSL_set_accept_state(c->ssl);
	else
		SSL_set_connect_state(c->ssl);
	c->state = SL_TLS_HANDSHAKE;
}

static void accept_all(struct sl_conn *l)
{
	struct sl_conn *c;
	int fd;

	while ((fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		c = conn_new(fd, SL_ROLE_UAS, SL_OPEN);
		set_sent_by(c);
		if (c->proto == SL_TLS)
			tls_start(c, true);
		else
			sl_uas_on_open(c);
	}
}

/* Reads everything the socket has (edge-triggered): 0, or an errno when the connection is done. */
static int read_all(struct sl_conn *c)
{
	ssize_t n;
	int e;

	for (;;) {
		sl_buf_reserve(&c->in, 16384);
		if (c->ssl) {
			n = SSL_read(c->ssl, c->in.p + c->in.len, (int)(c->in.cap - c->in.len));
			if (n <= 0) {
				e = SSL_get_error(c->ssl, (int)n);
				if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
					return 0;
				return e == SSL_ERROR_ZERO_RETURN ? ECONNRESET : EPROTO;
			}
		} else {
			n = read(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len);
			if (n < 0)
				return errno == EAGAIN ? 0 : errno;
			if (n == 0)
				return ECONNRESET;
		}
		c->in.len += (size_t)n;
	}
}

/* Splits the received bytes into SIP messages (stream framing or WebSocket frames) and hands them on. */
static int parse_in(struct sl_conn *c)
{
	size_t off = 0, n;
	int err;

	if (c->state == SL_WS_HANDSHAKE) {
		err = sl_ws_handshake_response(c);
		if (err)
			return err == EAGAIN ? 0 : err;
		c->state = SL_OPEN;
		if (c->role == SL_ROLE_UAC)
			sl_uac_on_open(c);
		else
			sl_uas_on_open(c);
	}
	if (c->proto == SL_WS || c->proto == SL_WSS)
		return sl_ws_parse(c);
	while (off < c->in.len && c->state == SL_OPEN) {
		if (c->in.p[off] == '\r' || c->in.p[off] == '\n') { /* CRLF keepalives */
			off++;
			continue;
		}
		n = sl_frame_sip(c->in.p + off, c->in.len - off);
		if (!n)
			break;
		sl_deliver(c, c->in.p + off, n);
		off += n;
	}
	sl_buf_consume(&c->in, off);
	return 0;
}

static int flush(struct sl_conn *c)
{
	ssize_t n;
	int e;

	while (c->out_off < c->out.len) {
		if (c->ssl) {
			n = SSL_write(c->ssl, c->out.p + c->out_off, (int)(c->out.len - c->out_off));
			if (n <= 0) {
				e = SSL_get_error(c->ssl, (int)n);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
					return 0;
				return EPIPE;
			}
		} else {
			n = write(c->fd, c->out.p + c->out_off, c->out.len - c->out_off);
			if (n < 0)
				return errno == EAGAIN ? 0 : errno;
		}
		c->out_off += (size_t)n;
	}
	c->out.len = c->out_off = 0;
	return 0;
}

static void handshake(struct sl_conn *c)
{
	int r = SSL_do_handshake(c->ssl), e;

	if (r == 1) {
		transport_up(c);
		return;
	}
	e = SSL_get_error(c->ssl, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		unsigned long le = ERR_get_error();
		char why[160];

		ERR_error_string_n(le, why, sizeof(why));
		if (!sl_tls_errors++)
			fprintf(stderr, "sipload: TLS handshake failed: %s\n", why);
		ERR_clear_error();
		sl_conn_close(c);
	}
}

void sl_conn_event(struct sl_conn *c, uint32_t events)
{
	int err = 0;
	socklen_t sl = sizeof(err);

	if (c->state == SL_CLOSED)
		return;
	if (c->role == SL_ROLE_LISTEN) {
		accept_all(c);
		return;
	}
	if (c->state == SL_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) || err) {
			if (!sl_connect_errors++) /* the first one says why; the rest are counted */
				fprintf(stderr, "sipload: connect: %s\n", strerror(err ? err : errno));
			sl_conn_close(c);
			return;
		}
		if (!(events & (EPOLLOUT | EPOLLIN)))
			return;
		if (c->proto == SL_TLS || c->proto == SL_WSS)
			tls_start(c, false);
		else
			transport_up(c);
	}
	if (c->state == SL_TLS_HANDSHAKE) {
		handshake(c);
		if (c->state == SL_TLS_HANDSHAKE || c->state == SL_CLOSED)
			return;
	}
	err = read_all(c);
	if (!err || c->in.len)
		err = parse_in(c) ? EPROTO : err;
	if (!err && c->state != SL_CLOSED && c->out.len)
		err = flush(c);
	if (err)
		sl_conn_close(c);
}

/* Writes what every connection queued during this loop turn: one write (one TLS record run) each. */
void sl_conn_flush_all(void)
{
	struct sl_conn *c;

	while ((c = dirty_head)) {
		dirty_head = c->next_dirty;
		c->dirty = false;
		if (c->state == SL_OPEN || (c->state == SL_WS_HANDSHAKE && c->out.len)) {
			if (flush(c))
				sl_conn_close(c);
		}
		sl_conn_unref(c);
	}
}
