/* Control RPC of the ws module: ws.list, the WebSocket connections of the stream layer. */
#include <errno.h>

#include <sipd/rpc.h>

#include "stream_api.h"
#include "ws.h"

/* params: none. */
static int rpc_list(json_t *params, json_t **result)
{
	json_t *ws, *wss;

	(void)params;
	if (!ws_stream)
		return sipd_rpc_fail(result, ENOTCONN, "the ws module is not running");
	ws = ws_stream->list(SIPD_PROTO_WS);
	wss = ws_stream->list(SIPD_PROTO_WSS);
	if (!ws || !wss || json_array_extend(ws, wss)) {
		json_decref(ws);
		json_decref(wss);
		return ENOMEM;
	}
	json_decref(wss);
	*result = ws;
	return 0;
}

const struct sipd_rpc_method ws_rpc_methods[] = {
    {"ws.list", rpc_list, "",
     "open WebSocket connections (ws and wss): id, proto, peer, origin, age, idle, bytes, state"},
    {.name = NULL},
};
