/* Writing to a WebSocket: SIP messages, pongs and close frames, serialized with civetweb's own writes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <civetweb.h>

#include <sipd/log.h>

#include "stream_api.h"
#include "ws.h"

/* Under c->lock, with c->mg set. */
static int write_locked(struct ws_conn *c, int opcode, const char *buf, size_t len)
{
	/* mg_websocket_write takes civetweb's connection lock too, so frames never interleave. */
	int n = mg_websocket_write(c->mg, opcode, buf, len);

	return n > 0 ? 0 : EPIPE;
}

int ws_conn_write(struct ws_conn *c, int opcode, const char *buf, size_t len)
{
	int err = ENOTCONN;

	pthread_mutex_lock(&c->lock);
	if (c->mg && !c->closing)
		err = write_locked(c, opcode, buf, len);
	pthread_mutex_unlock(&c->lock);
	return err;
}

int ws_conn_send(struct ws_conn *c, const char *buf, size_t len)
{
	/* RFC 7118 4: text frames for UTF-8 messages, binary frames for anything else. */
	int op = ws_utf8_valid(buf, len) ? WS_OP_TEXT : WS_OP_BINARY;
	int err = ws_conn_write(c, op, buf, len);

	if (err == EPIPE) {
		char peer[64];

		SIPD_INFO("connection %llu to %s: write failed, closing", (unsigned long long)c->id,
			  ws_addr_str(&c->peer, peer, sizeof(peer)));
		ws_conn_close(c, 1011, "write failed", ws_stats.closed_error);
	}
	if (err)
		return err;
	ws_conn_activity(c, 0, len);
	__atomic_add_fetch(&c->tx_msgs, 1, __ATOMIC_RELAXED);
	sipd_stat_inc(ws_stats.tx_messages);
	return 0;
}

void ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason, struct sipd_stat *counter)
{
	char body[125];
	size_t n = reason ? strlen(reason) : 0;
	bool first;

	if (n > sizeof(body) - 2)
		n = sizeof(body) - 2;
	body[0] = (char)(code >> 8);
	body[1] = (char)(code & 0xff);
	if (n)
		memcpy(body + 2, reason, n);
	pthread_mutex_lock(&c->lock);
	first = !c->closing;
	if (c->mg && first)
		write_locked(c, WS_OP_CLOSE, body, n + 2);
	__atomic_store_n(&c->closing, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&c->lock);
	if (first && counter)
		sipd_stat_inc(counter);
	/* Out of the limits and the lookups now; civetweb's thread ends when the peer answers or goes. */
	ws_conn_unlink(c);
}

static int foreign_send(void *arg, const char *buf, size_t len)
{
	return ws_conn_send(arg, buf, len);
}

static void foreign_close(void *arg)
{
	ws_conn_close(arg, WS_CLOSE_GOING_AWAY, "closed by sipd", NULL);
}

static void foreign_describe(void *arg, char *buf, size_t size)
{
	const struct ws_conn *c = arg;

	snprintf(buf, size, "origin %s", c->origin[0] ? c->origin : "-");
}

/* How the tcp module's stream table reaches a ws connection (stream_api.h). */
const struct stream_foreign_ops ws_foreign_ops = {
    .send = foreign_send,
    .close = foreign_close,
    .describe = foreign_describe,
};
