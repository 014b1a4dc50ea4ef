/* Listening sockets for the tcp entries of core.listen, accepted on every loop. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sipd/log.h>

#include "tcp.h"

/* Connections accepted per wake-up before the loop serves others. */
#define ACCEPT_BURST 64
/* Out of file descriptors: stop accepting this long so the loop does not spin. */
#define ACCEPT_PAUSE_MS 100

struct tcp_listener;

/* One loop's watch of one listening socket. */
struct acceptor {
	struct tcp_listener *l;
	struct sipd_loop *loop;
	struct sipd_io *io;
	struct sipd_timer resume;
};

struct tcp_listener {
	int fd;
	struct tcp_proto *proto;
	const struct sipd_listen *ls;
	struct acceptor *acc; /* one per loop */
	unsigned nacc;
};

static struct tcp_listener *listeners;
static unsigned nlisteners;

static void on_accept(int fd, uint32_t events, void *arg);

static int watch(struct acceptor *a)
{
	/* EPOLLEXCLUSIVE: a new connection wakes one loop, not all of them. */
	return sipd_io_add(&a->io, a->loop, a->l->fd, EPOLLIN | EPOLLEXCLUSIVE, on_accept, a);
}

static void on_resume(void *arg)
{
	struct acceptor *a = arg;
	int err = watch(a);

	if (err)
		SIPD_ERR("cannot resume accepting on %s:%u: %s", a->l->ls->host, a->l->ls->port,
			 strerror(err));
}

static void pause_accepting(struct acceptor *a, int err)
{
	SIPD_WARN("accept on %s:%u: %s; pausing %d ms", a->l->ls->host, a->l->ls->port, strerror(err),
		  ACCEPT_PAUSE_MS);
	sipd_io_remove(a->io);
	a->io = NULL;
	sipd_timer_start(&a->resume, a->loop, ACCEPT_PAUSE_MS);
}

static void on_accept(int fd, uint32_t events, void *arg)
{
	struct acceptor *a = arg;

	for (int i = 0; i < ACCEPT_BURST; i++) {
		union sipd_sockaddr peer;
		socklen_t sl = sizeof(peer);
		int cfd = accept4(fd, &peer.sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				pause_accepting(a, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK)
				SIPD_WARN("accept on %s:%u: %s", a->l->ls->host, a->l->ls->port,
					  strerror(errno));
			return;
		}
		struct tcp_conn *c;
		struct tcp_proto *p = a->l->proto;
		int err = tcp_conn_accepted(&c, p, cfd, &peer, a->loop, a->l->ls);
		if (err) {
			char ps[INET6_ADDRSTRLEN + 8];
			sipd_stat_inc(p->st.rejected_limit);
			SIPD_DBG("refused %s connection from %s: %s", p->name,
				 tcp_addr_str(&peer, ps, sizeof(ps)),
				 err == EMFILE   ? "max_connections reached"
				 : err == EAGAIN ? "max_connections_per_ip reached"
						 : strerror(err));
			close(cfd);
			continue;
		}
		sipd_stat_inc(p->st.accepted);
		tcp_conn_attach(c);
	}
}

static int open_one(struct tcp_listener *l, struct tcp_proto *p, unsigned idx, const struct sipd_listen *ls)
{
	int one = 1, err = 0;
	int fd = socket(ls->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	socklen_t len = ls->addr.sa.sa_family == AF_INET6 ? sizeof(ls->addr.sin6) : sizeof(ls->addr.sin);

	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]" must not also take the IPv4 port another entry may name. */
	if (ls->addr.sa.sa_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, &ls->addr.sa, len) != 0 || listen(fd, tcp_cfg.backlog) != 0) {
		err = errno;
		close(fd);
		return err;
	}
	l->fd = fd;
	l->proto = p;
	l->ls = ls;
	sipd_listen_set_fd(idx, fd);
	return 0;
}

/* Every protocol's entries share one array with a slot per listen entry: opened at init, watched at start. */
int tcp_listeners_open_proto(struct tcp_proto *p)
{
	unsigned n = sipd_listen_count();

	if (!listeners && !(listeners = calloc(n ? n : 1, sizeof(*listeners))))
		return ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const struct sipd_listen *ls = sipd_listen_get(i);
		if (!ls || ls->proto != p->proto)
			continue;
		int err = open_one(&listeners[nlisteners], p, i, ls);
		if (err) {
			SIPD_ERR("cannot listen on %s:%s:%u: %s", p->name, ls->host, ls->port, strerror(err));
			return err;
		}
		SIPD_INFO("listening on %s:%s:%u", p->name, ls->host, ls->port);
		nlisteners++;
	}
	return 0;
}

int tcp_listeners_start(void)
{
	unsigned loops = sipd_loop_count();

	for (unsigned i = 0; i < nlisteners; i++) {
		struct tcp_listener *l = &listeners[i];
		l->acc = calloc(loops, sizeof(*l->acc));
		if (!l->acc)
			return ENOMEM;
		for (unsigned j = 0; j < loops; j++) {
			struct acceptor *a = &l->acc[j];
			a->l = l;
			a->loop = sipd_loop_get(j);
			sipd_timer_init(&a->resume, on_resume, a);
			int err = watch(a);
			if (err) {
				SIPD_ERR("cannot watch %s:%s:%u: %s", l->proto->name, l->ls->host,
					 l->ls->port, strerror(err));
				return err;
			}
			l->nacc++;
		}
	}
	return 0;
}

const struct sipd_listen *tcp_listener_for(enum sipd_proto proto, int family)
{
	for (unsigned i = 0; i < nlisteners; i++)
		if (listeners[i].proto->proto == proto && listeners[i].ls->addr.sa.sa_family == family)
			return listeners[i].ls;
	return NULL;
}

void tcp_listeners_close(void)
{
	for (unsigned i = 0; i < nlisteners; i++) {
		struct tcp_listener *l = &listeners[i];
		for (unsigned j = 0; j < l->nacc; j++) {
			sipd_timer_stop(&l->acc[j].resume);
			if (l->acc[j].io)
				sipd_io_remove(l->acc[j].io);
		}
		free(l->acc);
		close(l->fd);
	}
	free(listeners);
	listeners = NULL;
	nlisteners = 0;
}
