/* Control RPC of the ws module: ws.list. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <sipd/rpc.h>

#include "ws.h"

struct list_ctx {
	json_t *arr;
	uint64_t now;
};

static void add_conn(struct ws_conn *c, void *arg)
{
	struct list_ctx *ctx = arg;
	char peer[64];
	uint64_t active = WS_LOAD(c->active_ms);

	json_array_append_new(
	    ctx->arr,
	    json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "id", (json_int_t)c->id, "proto",
		      sipd_proto_name(c->proto), "peer", ws_addr_str(&c->peer, peer, sizeof(peer)), "origin",
		      c->origin, "age_s", (json_int_t)((ctx->now - c->created_ms) / 1000), "idle_s",
		      (json_int_t)(ctx->now > active ? (ctx->now - active) / 1000 : 0), "rx_messages",
		      (json_int_t)WS_LOAD(c->rx_msgs), "tx_messages", (json_int_t)WS_LOAD(c->tx_msgs),
		      "closing", __atomic_load_n(&c->closing, __ATOMIC_RELAXED)));
}

/* params: none. */
static int rpc_list(json_t *params, json_t **result)
{
	struct list_ctx ctx = {.now = sipd_now_ms()};

	(void)params;
	if (!(ctx.arr = json_array()))
		return ENOMEM;
	ws_conn_foreach(add_conn, &ctx);
	*result = ctx.arr;
	return 0;
}

const struct sipd_rpc_method ws_rpc_methods[] = {
    {"ws.list", rpc_list, "", "open WebSocket connections: id, proto, peer, origin, age, idle, messages"},
    {.name = NULL},
};
