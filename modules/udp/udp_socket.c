/* Opening the udp listen sockets: bind, address family options, kernel buffer sizes. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sipd/log.h>

#include "udp.h"

/* "udp:[::1]:5060" for messages. */
static const char *listen_name(const struct sipd_listen *l, char *buf, size_t size)
{
	bool v6 = l->addr.sa.sa_family == AF_INET6;

	snprintf(buf, size, "udp:%s%s%s:%u", v6 ? "[" : "", l->host, v6 ? "]" : "", l->port);
	return buf;
}

/*
 * Bursts are absorbed by the socket buffer, not by the workers, so a small
 * default (Kamailio's limit in our measurements) loses packets long before
 * the CPU is busy. SO_*BUFFORCE passes net.core.[rw]mem_max when we have
 * CAP_NET_ADMIN; otherwise the kernel caps the plain option silently.
 */
static void buffer_size(int fd, const char *name, const char *what, int opt, int force_opt, int want)
{
	int got = 0;
	socklen_t len = sizeof(got);

	if (setsockopt(fd, SOL_SOCKET, force_opt, &want, sizeof(want)) != 0 &&
	    setsockopt(fd, SOL_SOCKET, opt, &want, sizeof(want)) != 0)
		SIPD_WARN("%s: setting %s to %d failed: %s", name, what, want, strerror(errno));
	if (getsockopt(fd, SOL_SOCKET, opt, &got, &len) != 0) {
		SIPD_WARN("%s: reading %s failed: %s", name, what, strerror(errno));
		return;
	}
	/* Linux reports double the size asked for: half is its bookkeeping. */
	if (got / 2 < want)
		SIPD_WARN("%s: %s is %d bytes, asked for %d (raise net.core.%s_max or run as root)", name,
			  what, got / 2, want, opt == SO_RCVBUF ? "rmem" : "wmem");
	else
		SIPD_INFO("%s: %s %d bytes", name, what, got / 2);
}

static int socket_open(int *out, const struct sipd_listen *l)
{
	char name[96];
	int fd, err = 0, one = 1;
	socklen_t alen;

	listen_name(l, name, sizeof(name));
	fd = socket(l->addr.sa.sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0) {
		err = errno;
		SIPD_ERR("%s: cannot create socket: %s (errno %d)", name, strerror(err), err);
		goto out;
	}
	/*
	 * No SO_REUSEADDR: UDP has no TIME_WAIT to skip, and on Linux it would
	 * let a second server bind the same address and silently steal traffic.
	 */
	if (l->addr.sa.sa_family == AF_INET6) {
		/* [::] must not also take the IPv4 port: that is a separate listen entry. */
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
			err = errno;
			SIPD_ERR("%s: IPV6_V6ONLY: %s (errno %d)", name, strerror(err), err);
			goto out;
		}
		alen = sizeof(l->addr.sin6);
	} else {
		alen = sizeof(l->addr.sin);
	}
	if (bind(fd, &l->addr.sa, alen) != 0) {
		err = errno;
		SIPD_ERR("%s: cannot bind: %s (errno %d)", name, strerror(err), err);
		goto out;
	}
	buffer_size(fd, name, "receive buffer", SO_RCVBUF, SO_RCVBUFFORCE, udp_mod.rcvbuf);
	buffer_size(fd, name, "send buffer", SO_SNDBUF, SO_SNDBUFFORCE, udp_mod.sndbuf);
	udp_drops_enable(fd, name);
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return err;
}

int udp_sockets_open(void)
{
	unsigned n = 0, count = sipd_listen_count();
	int err = 0;

	for (unsigned i = 0; i < count; i++)
		if (sipd_listen_get(i)->proto == SIPD_PROTO_UDP)
			n++;
	if (!n) {
		SIPD_INFO("no udp entry in core.listen: nothing to receive on");
		goto out;
	}
	udp_mod.socks = calloc(n, sizeof(*udp_mod.socks));
	if (!udp_mod.socks) {
		err = ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < count; i++) {
		const struct sipd_listen *l = sipd_listen_get(i);
		struct udp_socket *s;

		if (l->proto != SIPD_PROTO_UDP)
			continue;
		s = &udp_mod.socks[udp_mod.sock_count];
		err = socket_open(&s->fd, l);
		if (err)
			goto out;
		s->listen_idx = i;
		s->listen = l;
		udp_mod.sock_count++;
		sipd_listen_set_fd(i, s->fd);
	}
out:
	if (err)
		udp_sockets_close();
	return err;
}

void udp_sockets_close(void)
{
	for (unsigned i = 0; i < udp_mod.sock_count; i++) {
		sipd_listen_set_fd(udp_mod.socks[i].listen_idx, -1);
		close(udp_mod.socks[i].fd);
	}
	free(udp_mod.socks);
	udp_mod.socks = NULL;
	udp_mod.sock_count = 0;
}
