/* Unit tests: the ws connection table: ids, peer aliases, total and per-IP limits (conn.c). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "ws.h"

/* conn.c counts in these; the tests need no real statistics. */
struct ws_counters ws_stats;

static union sipd_sockaddr addr(const char *ip, uint16_t port)
{
	union sipd_sockaddr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, ip, &a.sin.sin_addr) == 1) {
		a.sin.sin_family = AF_INET;
		a.sin.sin_port = htons(port);
	} else {
		inet_pton(AF_INET6, ip, &a.sin6.sin6_addr);
		a.sin6.sin6_family = AF_INET6;
		a.sin6.sin6_port = htons(port);
	}
	return a;
}

static void setup(void)
{
	cr_assert_eq(ws_conns_init(4, 2), 0);
}

static void teardown(void)
{
	ws_conns_fini();
}

TestSuite(conn, .init = setup, .fini = teardown);

static struct ws_conn *add(const char *ip, uint16_t port, enum sipd_proto proto)
{
	union sipd_sockaddr a = addr(ip, port);
	struct ws_conn *c = NULL;

	cr_assert_eq(ws_conn_add(&c, proto, NULL, &a, NULL), 0);
	return c;
}

Test(conn, lookup_by_id_and_by_peer)
{
	struct ws_conn *c = add("10.0.0.1", 40000, SIPD_PROTO_WS), *d;
	union sipd_sockaddr a = addr("10.0.0.1", 40000), b = addr("10.0.0.1", 40001);

	cr_assert_neq(c->id, 0);
	d = ws_conn_by_id(c->id);
	cr_assert_eq(d, c);
	ws_conn_unref(d);
	d = ws_conn_by_peer(SIPD_PROTO_WS, &a);
	cr_assert_eq(d, c);
	ws_conn_unref(d);
	cr_assert_null(ws_conn_by_peer(SIPD_PROTO_WSS, &a), "the protocol is part of the alias");
	cr_assert_null(ws_conn_by_peer(SIPD_PROTO_WS, &b));
	cr_assert_null(ws_conn_by_id(c->id + 1));
	ws_conn_unref(c);
}

Test(conn, ids_come_from_the_core_sequence)
{
	struct ws_conn *c = add("10.0.0.1", 1, SIPD_PROTO_WS), *d = add("10.0.0.2", 1, SIPD_PROTO_WS);
	uint64_t next = sipd_conn_id_next();

	cr_assert_neq(c->id, d->id);
	cr_assert(c->id && d->id && c->id < next && d->id < next, "unique across transports, never 0");
	ws_conn_unref(c);
	ws_conn_unref(d);
}

Test(conn, per_ip_limit)
{
	struct ws_conn *c1 = add("10.0.0.1", 1, SIPD_PROTO_WS), *c2 = add("10.0.0.1", 2, SIPD_PROTO_WSS), *c3;
	union sipd_sockaddr a = addr("10.0.0.1", 3), other = addr("10.0.0.2", 3);

	cr_assert_eq(ws_conn_admit(&a), EAGAIN);
	cr_assert_eq(ws_conn_add(&c3, SIPD_PROTO_WS, NULL, &a, NULL), EAGAIN);
	cr_assert_eq(ws_conn_admit(&other), 0);
	ws_conn_unlink(c1);
	cr_assert_eq(ws_conn_admit(&a), 0, "a closed connection leaves the limit");
	ws_conn_unref(c1);
	ws_conn_unref(c2);
}

Test(conn, total_limit)
{
	struct ws_conn *c[4];
	union sipd_sockaddr a = addr("10.0.0.9", 1);
	struct ws_conn *x;

	c[0] = add("10.0.0.1", 1, SIPD_PROTO_WS);
	c[1] = add("10.0.0.2", 1, SIPD_PROTO_WS);
	c[2] = add("::1", 1, SIPD_PROTO_WS);
	c[3] = add("10.0.0.4", 1, SIPD_PROTO_WS);
	cr_assert_eq(ws_conn_count(), 4);
	cr_assert_eq(ws_conn_admit(&a), EMFILE);
	cr_assert_eq(ws_conn_add(&x, SIPD_PROTO_WS, NULL, &a, NULL), EMFILE);
	for (int i = 0; i < 4; i++)
		ws_conn_unref(c[i]);
}

Test(conn, unlink_is_idempotent_and_hides_the_connection)
{
	struct ws_conn *c = add("::1", 5, SIPD_PROTO_WSS);
	union sipd_sockaddr a = addr("::1", 5);
	uint64_t id = c->id;

	ws_conn_unlink(c);
	ws_conn_unlink(c);
	cr_assert_null(ws_conn_by_id(id));
	cr_assert_null(ws_conn_by_peer(SIPD_PROTO_WSS, &a));
	cr_assert_eq(ws_conn_count(), 0);
	ws_conn_unref(c);
}

static void count(struct ws_conn *c, void *arg)
{
	(void)c;
	(*(int *)arg)++;
}

Test(conn, foreach_visits_every_connection)
{
	struct ws_conn *c1 = add("10.0.0.1", 1, SIPD_PROTO_WS), *c2 = add("10.0.0.2", 1, SIPD_PROTO_WS);
	int n = 0;

	ws_conn_foreach(count, &n);
	cr_assert_eq(n, 2);
	ws_conn_unref(c1);
	ws_conn_unref(c2);
}

Test(conn, addr_format)
{
	union sipd_sockaddr a = addr("::1", 8088), b = addr("127.0.0.1", 5060);
	char buf[64];

	cr_assert_str_eq(ws_addr_str(&a, buf, sizeof(buf)), "[::1]:8088");
	cr_assert_str_eq(ws_addr_str(&b, buf, sizeof(buf)), "127.0.0.1:5060");
}
