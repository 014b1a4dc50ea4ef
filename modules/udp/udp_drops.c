/* Kernel receive-queue drops (SO_RXQ_OVFL): counted per socket, in udp.rx_dropped_kernel, logged once per
 * period while they go on. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <sipd/log.h>
#include <sipd/loop.h>

#include "udp.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif

int udp_drops_enable(int fd, const char *name)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) != 0) {
		/* Drops then stay visible only in /proc/net/udp: worth a warning, not a failed start. */
		SIPD_WARN("%s: SO_RXQ_OVFL: %s: kernel drops will not be counted", name, strerror(errno));
		return errno;
	}
	return 0;
}

/*
 * The kernel's counter is the socket's total so far, carried by every datagram
 * read after a drop; the workers sharing a socket race to account for each
 * increase once.
 */
void udp_drops_seen(struct udp_socket *s, uint32_t total)
{
	uint32_t old = __atomic_load_n(&s->drops_seen, __ATOMIC_RELAXED);
	uint64_t now, last;
	uint32_t since;

	do {
		if ((int32_t)(total - old) <= 0)
			return;
	} while (!__atomic_compare_exchange_n(&s->drops_seen, &old, total, false, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	sipd_stat_add(udp_mod.rx_dropped_kernel, (int64_t)(uint32_t)(total - old));
	now = sipd_now_ms();
	last = __atomic_load_n(&s->drops_logged_ms, __ATOMIC_RELAXED);
	if (last && now - last < (uint64_t)udp_mod.drop_log_interval * 1000u)
		return;
	if (!__atomic_compare_exchange_n(&s->drops_logged_ms, &last, now ? now : 1, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	since = total - __atomic_exchange_n(&s->drops_at_log, total, __ATOMIC_RELAXED);
	SIPD_WARN(
	    "udp:%s:%u: the kernel dropped %u datagram(s)%s (receive buffer full: more arrives than the "
	    "workers read; %u in all; see udp.rx_dropped_kernel)",
	    s->listen->host, s->listen->port, since, last ? " since the last report" : "", total);
}

uint32_t udp_drops_cmsg(const struct msghdr *h)
{
	uint32_t v = 0;

	for (const struct cmsghdr *c = CMSG_FIRSTHDR(h); c;
	     c = CMSG_NXTHDR((struct msghdr *)h, (struct cmsghdr *)c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
		    c->cmsg_len >= CMSG_LEN(sizeof(v)))
			memcpy(&v, CMSG_DATA(c), sizeof(v));
	return v;
}
