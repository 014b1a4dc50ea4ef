/* The transport's send: the asked connection, else one to the peer, else a new one. */
#include <errno.h>

#include <sipd/log.h>

#include "tcp.h"

static unsigned rr_next; /* atomic: round robin for sends from non-worker threads */

static struct sipd_loop *pick_loop(void)
{
	struct sipd_loop *l = sipd_loop_self();
	if (l)
		return l;
	unsigned n = sipd_loop_count();
	return sipd_loop_get(n ? __atomic_fetch_add(&rr_next, 1, __ATOMIC_RELAXED) % n : 0);
}

static void posted_attach(void *arg)
{
	struct tcp_conn *c = arg;

	tcp_conn_attach(c);
	tcp_conn_unref(c);
}

/* Starts the connect of a new outbound connection on its loop. */
static void start_connect(struct tcp_conn *c)
{
	if (sipd_loop_self() == c->loop) {
		tcp_conn_attach(c);
		return;
	}
	tcp_conn_ref(c);
	if (sipd_loop_post(c->loop, posted_attach, c) != 0) {
		/* Never attached: nothing of it is on the loop yet, so it can be closed here. */
		tcp_conn_close(c, c->st->closed_error, ENOMEM, "cannot start connect");
		tcp_conn_unref(c);
	}
}

int tcp_send_peer(uint64_t *conn_id, struct tcp_proto *p, const union sipd_sockaddr *peer,
		  const char *server_name, const char *buf, size_t len)
{
	int err = ENOTCONN;

	if (peer->sa.sa_family != AF_INET && peer->sa.sa_family != AF_INET6)
		return EAFNOSUPPORT;
	/* Twice at most: a connection found by address may close under us. */
	for (int attempt = 0; attempt < 2 && err == ENOTCONN; attempt++) {
		struct tcp_conn *c;
		bool created;
		err = tcp_conn_by_peer_or_new(&c, &created, p, peer, server_name, pick_loop());
		if (err) {
			if (err == EMFILE)
				sipd_stat_inc(p->st.rejected_limit);
			return err;
		}
		err = tcp_conn_send_msg(c, buf, len);
		if (created)
			start_connect(c);
		if (!err && conn_id)
			*conn_id = c->id;
		tcp_conn_unref(c);
	}
	return err;
}

int tcp_send_conn(uint64_t id, const char *buf, size_t len)
{
	struct tcp_conn *c = tcp_conn_by_id(id);
	int err;

	if (!c)
		return ENOTCONN;
	err = tcp_conn_send_msg(c, buf, len);
	tcp_conn_unref(c);
	return err;
}

int tcp_send(const struct sipd_dest *dst, const char *buf, size_t len)
{
	struct tcp_proto *p = tcp_proto_get(dst->proto);
	struct tcp_conn *c;

	if (!p)
		return ENOTSUP;
	if (len > (size_t)tcp_cfg.max_write_queue)
		return EMSGSIZE;
	/* The asked connection, if it is still open and of the protocol asked for. */
	if (dst->conn_id && (c = tcp_conn_by_id(dst->conn_id))) {
		int err = c->proto == p ? tcp_conn_send_msg(c, buf, len) : ENOTCONN;
		tcp_conn_unref(c);
		if (err != ENOTCONN)
			return err;
	}
	/* No (more) such connection: any to the same address, else a new one (RFC 3261 18.2.2). */
	return tcp_send_peer(NULL, p, &dst->addr, dst->server_name, buf, len);
}
