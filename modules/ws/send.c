/* The ws/wss transport's send: over the connection named by conn_id, else the one from the peer address. */
#include <errno.h>

#include "ws.h"

int ws_send(const struct sipd_dest *dst, const char *buf, size_t len)
{
	struct ws_conn *c = NULL;
	int err;

	if (dst->conn_id)
		c = ws_conn_by_id(dst->conn_id);
	/* The address is an alias of the connection from there (a Via received/rport, a flow token). */
	if (!c && (dst->addr.sa.sa_family == AF_INET || dst->addr.sa.sa_family == AF_INET6))
		c = ws_conn_by_peer(dst->proto, &dst->addr);
	/* A browser cannot be connected to: without its connection it is unreachable. */
	if (!c) {
		sipd_stat_inc(ws_stats.send_failed);
		return ENOTCONN;
	}
	err = ws_conn_send(c, buf, len);
	if (err)
		sipd_stat_inc(ws_stats.send_failed);
	ws_conn_unref(c);
	return err;
}
