/* Control RPC of the tcp module: tcp.list. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>

#include <sipd/rpc.h>

#include "tcp.h"

struct list_ctx {
	json_t *arr;
	uint64_t now;
	size_t limit;
	enum sipd_proto only; /* SIPD_PROTO_NONE: all */
};

static void add_conn(struct tcp_conn *c, void *arg)
{
	struct list_ctx *ctx = arg;
	char peer[INET6_ADDRSTRLEN + 8], local[INET6_ADDRSTRLEN + 8];

	if (json_array_size(ctx->arr) >= ctx->limit || (ctx->only && c->proto->proto != ctx->only))
		return;
	char detail[128] = "";
	json_t *extra = NULL;

	pthread_mutex_lock(&c->lock);
	size_t queued = c->wq.bytes;
	const char *state = tcp_conn_state_name(c);
	if (c->io && c->proto->layer->describe && c->state == TCP_ST_OPEN)
		c->proto->layer->describe(c->io, detail, sizeof(detail));
	if (c->fstate && c->proto->framer->list && (extra = json_object()))
		c->proto->framer->list(c->fstate, extra);
	pthread_mutex_unlock(&c->lock);
	uint64_t active = TCP_LOAD(c->active_ms);

	json_t *o = json_pack(
	    "{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:s}", "id", (json_int_t)c->id,
	    "proto", c->proto->name, "peer", tcp_addr_str(&c->peer, peer, sizeof(peer)), "local",
	    tcp_addr_str(&c->local, local, sizeof(local)), "direction", c->outbound ? "out" : "in", "age_s",
	    (json_int_t)((ctx->now - c->created_ms) / 1000), "idle_s",
	    (json_int_t)(ctx->now > active ? (ctx->now - active) / 1000 : 0), "rx_bytes",
	    (json_int_t)TCP_LOAD(c->rx_bytes), "tx_bytes", (json_int_t)TCP_LOAD(c->tx_bytes), "queued",
	    (json_int_t)queued, "state", state, "kept", TCP_LOAD(c->kept), "detail", detail);
	if (o && extra)
		json_object_update(o, extra);
	json_decref(extra);
	if (o)
		json_array_append_new(ctx->arr, o);
}

json_t *tcp_conns_list(enum sipd_proto proto, size_t limit)
{
	struct list_ctx ctx = {.now = sipd_now_ms(), .limit = limit, .only = proto};

	if ((ctx.arr = json_array()))
		tcp_conn_foreach(add_conn, &ctx);
	return ctx.arr;
}

/* params: [] or [LIMIT] or {"limit": N}; the newest connections of a bucket come first. */
static int rpc_list(json_t *params, json_t **result)
{
	json_t *lim = json_is_array(params) ? json_array_get(params, 0) : json_object_get(params, "limit");
	size_t limit = SIZE_MAX;

	if (lim) {
		json_int_t v = json_is_integer(lim)  ? json_integer_value(lim)
			       : json_is_string(lim) ? strtoll(json_string_value(lim), NULL, 10)
						     : -1;
		if (v <= 0)
			return sipd_rpc_fail(result, EINVAL, "limit must be a positive number");
		limit = (size_t)v;
	}
	*result = tcp_conns_list(SIPD_PROTO_NONE, limit);
	return *result ? 0 : ENOMEM;
}

/* "1.2.3.4:5060" or "[::1]:5060" into a socket address. */
static int parse_addr(union sipd_sockaddr *out, const char *s)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon;
	size_t hl;
	char *end;

	memset(out, 0, sizeof(*out));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return EINVAL;
		hl = (size_t)(rb - s - 1);
		s++;
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return EINVAL;
	if (inet_pton(AF_INET, host, &out->sin.sin_addr) == 1) {
		out->sin.sin_family = AF_INET;
		out->sin.sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, host, &out->sin6.sin6_addr) == 1) {
		out->sin6.sin6_family = AF_INET6;
		out->sin6.sin6_port = htons((uint16_t)port);
	} else {
		return EINVAL;
	}
	return 0;
}

/*
 * params: [ADDR]. Sends an RFC 5626 keep-alive (CRLFCRLF) to ADDR over the
 * connection sipd has to it, or a new one: shows whether a peer can be
 * reached and exercises reuse. The answer only says the ping was queued.
 */
static int rpc_ping(json_t *params, json_t **result)
{
	json_t *a = json_is_array(params) ? json_array_get(params, 0) : json_object_get(params, "addr");
	union sipd_sockaddr peer;
	uint64_t id = 0;

	if (!json_is_string(a) || parse_addr(&peer, json_string_value(a)) != 0)
		return sipd_rpc_fail(result, EINVAL,
				     "expected an address like 192.0.2.1:5060 or [2001:db8::1]:5060");
	int err = tcp_send_peer(&id, tcp_proto_get(SIPD_PROTO_TCP), &peer, NULL, "\r\n\r\n", 4);
	if (err)
		return sipd_rpc_fail(result, err, "cannot send to %s: %s", json_string_value(a),
				     strerror(err));
	*result = json_pack("{s:I}", "conn_id", (json_int_t)id);
	return *result ? 0 : ENOMEM;
}

const struct sipd_rpc_method tcp_rpc_methods[] = {
    {
	.name = "conns.list",
	.fn = rpc_list,
	.usage = "[LIMIT]",
	.help = "stream connections (tcp, tls, ws, wss): id, proto, peer, local, age_s, idle_s, rx/tx bytes, "
		"queued bytes, state, detail",
    },
    {
	.name = "tcp.list",
	.fn = rpc_list,
	.usage = "[LIMIT]",
	.help = "the same as conns.list: every stream connection, with its proto",
    },
    {
	.name = "tcp.ping",
	.fn = rpc_ping,
	.usage = "ADDR",
	.help = "send a CRLFCRLF keep-alive to ADDR (ip:port) over an existing or new connection",
    },
    {.name = NULL},
};
