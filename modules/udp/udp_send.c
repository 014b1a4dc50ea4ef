/* Sending: the udp transport's send function, safe from any thread. */
#include <errno.h>
#include <sys/socket.h>

#include <sipd/log.h>

#include "udp.h"

/* The socket asked for, else the first one of the destination's family; -1 if none. */
static int pick_fd(const struct sipd_dest *dst)
{
	sa_family_t family = dst->addr.sa.sa_family;

	if (dst->from && dst->from->proto == SIPD_PROTO_UDP && dst->from->fd >= 0 &&
	    dst->from->addr.sa.sa_family == family)
		return dst->from->fd;
	for (unsigned i = 0; i < udp_mod.sock_count; i++)
		if (udp_mod.socks[i].listen->addr.sa.sa_family == family)
			return udp_mod.socks[i].fd;
	return -1;
}

/*
 * Never blocks: a full send buffer answers EAGAIN rather than stalling the
 * worker; SIP over UDP recovers by retransmission.
 */
static int udp_send(const struct sipd_dest *dst, const char *buf, size_t len)
{
	socklen_t alen;
	ssize_t sent;
	int fd, err = 0;

	if (dst->addr.sa.sa_family == AF_INET) {
		alen = sizeof(dst->addr.sin);
	} else if (dst->addr.sa.sa_family == AF_INET6) {
		alen = sizeof(dst->addr.sin6);
	} else {
		err = EAFNOSUPPORT;
		goto out;
	}
	fd = pick_fd(dst);
	if (fd < 0) {
		err = EAFNOSUPPORT;
		goto out;
	}
	do
		sent = sendto(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL, &dst->addr.sa, alen);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		err = errno;
	else if ((size_t)sent != len)
		err = EMSGSIZE;
out:
	if (err)
		sipd_stat_inc(udp_mod.tx_errors);
	else
		sipd_stat_inc(udp_mod.tx_packets);
	return err;
}

const struct sipd_transport udp_transport = {
    .proto = SIPD_PROTO_UDP,
    .name = "udp",
    .send = udp_send,
};
