/*
 * Unit tests of the shared stream machinery on socketpairs: the connection table and aliases per protocol,
 * limits shared by tcp, layered and framed connections, the I/O path through a layer, queueing during a
 * handshake, transport errors with the right protocol, and a framer's path (input, frames out, end, refusal).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcp.h"

/* tcp.c's globals (the module descriptor is not linked here). */
struct tcp_cfg tcp_cfg = {
    .connect_timeout = 5,
    .read_timeout = 10,
    .write_timeout = 10,
    .idle_timeout = 120,
    .max_connections = 4,
    .max_connections_per_ip = 3,
    .max_message_size = 65536,
    .max_write_queue = 4096,
    .backlog = 16,
};
const struct sipd_parser_api *tcp_parser;

/* A toy layer: bytes are XORed with 0x20 on the wire; the handshake waits for one 'H' from the peer. */
struct fake {
	int fd;
	bool outbound, closed_by_layer;
	char name[64];
};
static int fake_closes;

static int fake_open(void **io, int fd, bool outbound, const char *server_name)
{
	struct fake *f = calloc(1, sizeof(*f));
	if (!f)
		return ENOMEM;
	f->fd = fd;
	f->outbound = outbound;
	snprintf(f->name, sizeof(f->name), "%s", server_name ? server_name : "");
	*io = f;
	return 0;
}

static int fake_handshake(void *io, bool *want_write, char *why, size_t size)
{
	struct fake *f = io;
	char b;
	ssize_t n = recv(f->fd, &b, 1, MSG_DONTWAIT);

	*want_write = false;
	if (n < 0 && errno == EAGAIN)
		return EAGAIN;
	if (n == 1 && b == 'H')
		return 0;
	snprintf(why, size, "expected H");
	return EPROTO;
}

static ssize_t fake_read(void *io, void *buf, size_t len)
{
	struct fake *f = io;
	ssize_t n = recv(f->fd, buf, len, MSG_DONTWAIT);
	for (ssize_t i = 0; i < n; i++)
		((char *)buf)[i] ^= 0x20;
	return n;
}

static ssize_t fake_write(void *io, const void *buf, size_t len)
{
	struct fake *f = io;
	char tmp[8192];
	size_t n = len < sizeof(tmp) ? len : sizeof(tmp);
	for (size_t i = 0; i < n; i++)
		tmp[i] = ((const char *)buf)[i] ^ 0x20;
	return send(f->fd, tmp, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void fake_describe(void *io, char *buf, size_t size)
{
	(void)io;
	snprintf(buf, size, "fake 1.0");
}

static void fake_close(void *io)
{
	fake_closes++;
	free(io);
}

static struct stream_layer fake_layer = {
    .proto = SIPD_PROTO_TLS,
    .name = "faketls",
    .handshake_timeout_ms = 1000,
    .open = fake_open,
    .handshake = fake_handshake,
    .read = fake_read,
    .write = fake_write,
    .describe = fake_describe,
    .close = fake_close,
};

/* A toy framer: a message goes out as "<len>:" and the message; refused connections are noted. */
struct toy {
	bool ready;
	int refused;
};
static int toy_closes;

static int toy_open(void **state, int refused)
{
	struct toy *t = calloc(1, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->refused = refused;
	*state = t;
	return 0;
}

static size_t toy_input(struct stream_conn *c, void *state, char *buf, size_t len)
{
	(void)c, (void)state, (void)buf;
	return len;
}

static size_t toy_frame(void *state, const char *msg, size_t len, char *hdr)
{
	(void)msg;
	return ((struct toy *)state)->ready ? (size_t)snprintf(hdr, STREAM_FRAME_HDR, "%zu:", len) : 0;
}

static void toy_list(void *state, json_t *obj)
{
	json_object_set_new(obj, "toy_ready", json_boolean(((struct toy *)state)->ready));
}

static void toy_close(void *state)
{
	toy_closes++;
	free(state);
}

static struct stream_framer toy_framer = {
    .proto = SIPD_PROTO_WS,
    .name = "toyws",
    .layer_proto = SIPD_PROTO_NONE,
    .max_connections_per_ip = 2,
    .max_input = 4096,
    .open = toy_open,
    .input = toy_input,
    .frame = toy_frame,
    .list = toy_list,
    .close = toy_close,
};

static struct sipd_dest last_err_dst;
static int last_err, errors_seen;

static void on_error(const struct sipd_dest *dst, int err)
{
	last_err_dst = *dst;
	last_err = err;
	errors_seen++;
}

static void setup(void)
{
	static bool once;
	if (once)
		return;
	once = true;
	cr_assert_eq(tcp_conns_init(), 0);
	cr_assert_eq(tcp_protos_init(), 0);
	cr_assert_eq(tcp_layer_register(&fake_layer), 0);
	cr_assert_eq(tcp_framer_register(&toy_framer), 0);
	cr_assert_eq(tcp_protos_resolve(), 0);
	cr_assert_eq(sipd_transport_on_error(on_error), 0);
}

TestSuite(stream, .init = setup);

static union sipd_sockaddr addr(const char *ip, uint16_t port)
{
	union sipd_sockaddr a = {0};
	a.sin.sin_family = AF_INET;
	a.sin.sin_port = htons(port);
	inet_pton(AF_INET, ip, &a.sin.sin_addr);
	return a;
}

/* An accepted connection of protocol p on one end of a socketpair; *peer_fd gets the other end. */
static struct tcp_conn *accepted(enum sipd_proto p, const char *ip, uint16_t port, int *peer_fd)
{
	int sv[2];
	struct tcp_conn *c = NULL;
	union sipd_sockaddr a = addr(ip, port);

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	cr_assert_eq(tcp_conn_accepted(&c, tcp_proto_get(p), sv[0], &a, NULL, NULL), 0);
	*peer_fd = sv[1];
	return c;
}

static void closed(struct tcp_conn *c, int peer_fd)
{
	tcp_conn_close(c, c->st->closed_peer, 0, "test");
	close(peer_fd);
}

Test(stream, ids_are_unique_across_protocols_and_lookups_find_them)
{
	int p1, p2;
	struct tcp_conn *a = accepted(SIPD_PROTO_TCP, "192.0.2.1", 5060, &p1);
	struct tcp_conn *b = accepted(SIPD_PROTO_TLS, "192.0.2.1", 5061, &p2);

	uint64_t aid = a->id;
	cr_expect_neq(a->id, b->id);
	cr_expect_eq(a->state, TCP_ST_OPEN, "plain tcp is open at once");
	cr_expect_eq(b->state, TCP_ST_HANDSHAKE, "a layered connection starts with its handshake");
	struct tcp_conn *f = tcp_conn_by_id(b->id);
	cr_expect_eq(f, b);
	tcp_conn_unref(f);
	closed(a, p1);
	closed(b, p2);
	cr_expect_null(tcp_conn_by_id(aid), "closed connections leave the table");
}

Test(stream, aliases_are_per_protocol)
{
	int p1;
	struct tcp_conn *a = accepted(SIPD_PROTO_TCP, "192.0.2.2", 5070, &p1), *got = NULL;
	union sipd_sockaddr peer = addr("192.0.2.2", 5070);
	bool created = true;

	cr_assert_eq(
	    tcp_conn_by_peer_or_new(&got, &created, tcp_proto_get(SIPD_PROTO_TCP), &peer, NULL, NULL), 0);
	cr_expect_eq(got, a, "a tcp send reuses the accepted tcp connection");
	cr_expect(!created);
	tcp_conn_unref(got);

	cr_assert_eq(
	    tcp_conn_by_peer_or_new(&got, &created, tcp_proto_get(SIPD_PROTO_TLS), &peer, NULL, NULL), 0);
	cr_expect_neq(got, a, "a tls send never goes over the plain tcp connection");
	cr_expect(created);
	cr_expect_eq(got->state, TCP_ST_CONNECTING);
	cr_expect_str_eq(((struct fake *)got->io)->name, "192.0.2.2",
			 "without a name the layer checks the address");
	tcp_conn_close(got, got->st->closed_error, ECONNREFUSED, "test");
	cr_expect_eq(last_err_dst.proto, SIPD_PROTO_TLS, "the failed connect is reported as a tls error");
	cr_expect_eq(last_err, ECONNREFUSED);
	tcp_conn_unref(got);
	closed(a, p1);
}

Test(stream, limits_are_shared_by_every_protocol)
{
	int fds[3];
	struct tcp_conn *c[3];
	union sipd_sockaddr a = addr("192.0.2.3", 1);

	c[0] = accepted(SIPD_PROTO_TCP, "192.0.2.3", 1000, &fds[0]);
	c[1] = accepted(SIPD_PROTO_TLS, "192.0.2.3", 1001, &fds[1]);
	c[2] = accepted(SIPD_PROTO_TLS, "192.0.2.3", 1002, &fds[2]);
	int sv[2];
	struct tcp_conn *x;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_expect_eq(tcp_conn_accepted(&x, tcp_proto_get(SIPD_PROTO_TCP), sv[0], &a, NULL, NULL), EAGAIN,
		     "the fourth from one IP is over max_connections_per_ip (3)");
	close(sv[0]);
	close(sv[1]);
	for (int i = 0; i < 3; i++)
		closed(c[i], fds[i]);
}

Test(stream, writes_wait_for_the_handshake_then_go_through_the_layer)
{
	int peer;
	struct tcp_conn *c = accepted(SIPD_PROTO_TLS, "192.0.2.7", 2000, &peer);
	char buf[64];
	bool ww;

	cr_expect_eq(tcp_conn_write(c, "early", 5), 0);
	cr_expect_eq(c->wq.bytes, 5, "queued while the handshake runs");
	cr_expect_eq(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), -1, "nothing on the wire yet");

	cr_expect_eq(tcp_io_handshake(c, &ww, buf, sizeof(buf)), EAGAIN, "the layer waits for its peer");
	cr_assert_eq(send(peer, "H", 1, 0), 1);
	cr_expect_eq(tcp_io_handshake(c, &ww, buf, sizeof(buf)), 0);
	c->state = TCP_ST_OPEN;

	size_t n = 0;
	cr_expect_eq(tcp_writeq_flush(&c->wq, (tcp_writev_fn)tcp_io_writev, c, &n), 0);
	cr_expect_eq(n, 5);
	cr_expect_eq(tcp_conn_write(c, "late", 4), 0, "open: straight through the layer");
	ssize_t got = recv(peer, buf, sizeof(buf), 0);
	cr_assert_eq(got, 9);
	for (int i = 0; i < 9; i++)
		buf[i] ^= 0x20;
	cr_expect_eq(memcmp(buf, "earlylate", 9), 0, "the layer encoded both, in order");

	/* Reading decodes through the layer. */
	char wire[3] = {'a' ^ 0x20, 'b' ^ 0x20, 'c' ^ 0x20};
	cr_assert_eq(send(peer, wire, 3, 0), 3);
	got = tcp_io_read(c, buf, sizeof(buf));
	cr_expect_eq(got, 3);
	cr_expect_eq(memcmp(buf, "abc", 3), 0);

	int before = fake_closes;
	closed(c, peer);
	cr_expect_eq(fake_closes, before + 1, "closing frees the layer's state");
}

Test(stream, a_queue_of_several_messages_goes_through_the_layer_in_one_flush)
{
	int peer;
	struct tcp_conn *c = accepted(SIPD_PROTO_TLS, "192.0.2.10", 2003, &peer);
	const char *msgs[] = {"one|", "two|", "three|"};
	char buf[64];
	size_t n = 0;

	for (int i = 0; i < 3; i++)
		cr_assert_eq(tcp_conn_write(c, msgs[i], strlen(msgs[i])), 0);
	cr_expect_eq(c->wq.bytes, 14, "queued during the handshake");
	c->state = TCP_ST_OPEN;
	cr_expect_eq(tcp_writeq_flush(&c->wq, (tcp_writev_fn)tcp_io_writev, c, &n), 0);
	cr_expect_eq(n, 14, "all three chunks in one flush, not one per writable event");
	cr_expect_eq(c->wq.bytes, 0);
	ssize_t got = recv(peer, buf, sizeof(buf), 0);
	cr_assert_eq(got, 14);
	for (int i = 0; i < 14; i++)
		buf[i] ^= 0x20;
	cr_expect_eq(memcmp(buf, "one|two|three|", 14), 0);
	closed(c, peer);
}

Test(stream, a_failed_handshake_reports_why)
{
	int peer;
	struct tcp_conn *c = accepted(SIPD_PROTO_TLS, "192.0.2.8", 2001, &peer);
	char why[64] = "";
	bool ww;

	cr_assert_eq(send(peer, "X", 1, 0), 1);
	cr_expect_eq(tcp_io_handshake(c, &ww, why, sizeof(why)), EPROTO);
	cr_expect_str_eq(why, "expected H");
	closed(c, peer);
}

Test(stream, plain_tcp_writes_straight_to_the_socket)
{
	int peer;
	struct tcp_conn *c = accepted(SIPD_PROTO_TCP, "192.0.2.9", 2002, &peer);
	char buf[16];

	cr_expect_eq(tcp_conn_write(c, "OPTIONS", 7), 0);
	cr_expect_eq(c->wq.bytes, 0);
	cr_expect_eq(recv(peer, buf, sizeof(buf), 0), 7);
	cr_expect_eq(memcmp(buf, "OPTIONS", 7), 0);
	tcp_conn_ref(c); /* as a sender on another thread would hold it */
	closed(c, peer);
	cr_expect_eq(tcp_conn_write(c, "x", 1), ENOTCONN, "a closed connection refuses writes");
	tcp_conn_unref(c);
}

Test(stream, a_framer_frames_messages_once_ready)
{
	int peer;
	struct tcp_conn *c = accepted(SIPD_PROTO_WS, "192.0.2.20", 3000, &peer);
	char buf[64];

	cr_expect_eq(c->state, TCP_ST_OPEN, "no layer: the framer's handshake runs on an open connection");
	cr_expect_eq(tcp_conn_send_msg(c, "early", 5), ENOTCONN, "no message before the framer is ready");
	((struct toy *)c->fstate)->ready = true;
	cr_expect_eq(tcp_conn_send_msg(c, "hello", 5), 0);
	cr_expect_eq(tcp_conn_write(c, "|raw", 4), 0, "the framer's own bytes go as they are");
	ssize_t n = recv(peer, buf, sizeof(buf), 0);
	cr_assert_eq(n, 11);
	cr_expect_eq(memcmp(buf, "5:hello|raw", 11), 0, "header and message in one piece, in order");

	json_t *arr = tcp_conns_list(SIPD_PROTO_WS, SIZE_MAX);
	cr_assert_eq(json_array_size(arr), 1, "only the protocol asked for");
	cr_expect(json_is_true(json_object_get(json_array_get(arr, 0), "toy_ready")), "the framer's fields");
	cr_expect_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "proto")), "toyws");
	json_decref(arr);

	tcp_conn_end(c, STREAM_END_PEER, "bye");
	cr_expect_eq(c->state, TCP_ST_CLOSING, "ended: closes once written");
	cr_expect_eq(c->close_counter, c->st->closed_peer);
	int before = toy_closes;
	closed(c, peer);
	cr_expect_eq(toy_closes, before + 1, "closing frees the framer's state");
}

Test(stream, a_framer_never_connects_out)
{
	union sipd_sockaddr peer = addr("192.0.2.21", 3001);
	struct tcp_conn *got = NULL;
	bool created;

	cr_expect_eq(tcp_conn_by_peer_or_new(&got, &created, tcp_proto_get(SIPD_PROTO_WS), &peer, NULL, NULL),
		     ENOTCONN, "a browser cannot be called: without its connection it is gone");
	cr_expect_null(got);
}

Test(stream, over_a_framers_own_limit_the_connection_is_kept_to_be_told)
{
	int fds[4];
	struct tcp_conn *c[4];

	c[0] = accepted(SIPD_PROTO_WS, "192.0.2.22", 1, &fds[0]);
	c[1] = accepted(SIPD_PROTO_WS, "192.0.2.22", 2, &fds[1]);
	c[2] = accepted(SIPD_PROTO_WS, "192.0.2.22", 3, &fds[2]);
	c[3] = accepted(SIPD_PROTO_TCP, "192.0.2.22", 4, &fds[3]);
	cr_expect(c[0]->admitted && c[1]->admitted);
	cr_expect(!c[2]->admitted, "the third ws connection is over the framer's max_connections_per_ip (2)");
	cr_expect_eq(((struct toy *)c[2]->fstate)->refused, EAGAIN, "and its framer knows why");
	cr_expect(c[3]->admitted, "tcp from the same address is not limited by ws's own limit");
	/* The refused one holds no slot: closing it frees nothing, closing an admitted one frees one. */
	closed(c[2], fds[2]);
	c[2] = accepted(SIPD_PROTO_WS, "192.0.2.22", 5, &fds[2]);
	cr_expect(!c[2]->admitted);
	closed(c[2], fds[2]);
	closed(c[0], fds[0]);
	c[0] = accepted(SIPD_PROTO_WS, "192.0.2.22", 6, &fds[0]);
	cr_expect(c[0]->admitted, "room again after an admitted one closed");
	closed(c[0], fds[0]);
	closed(c[1], fds[1]);
	closed(c[3], fds[3]);
}
