/* The ws transport module: SIP over WebSocket (RFC 7118), ws and wss, on the tcp module's stream layer. */
#include <errno.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/service.h>

#include "stream_api.h"
#include "ws.h"
#include "ws_api.h"

struct ws_cfg ws_cfg = {
    .max_message_size = 65536,
    .max_connections = 4096,
    .max_connections_per_ip = 64,
    .idle_timeout = 120,
    .keepalive_interval = 30,
    .handshake_timeout = 10,
};
struct ws_counters ws_stats;

const struct stream_api *ws_stream;

static bool conn_alive(uint64_t conn_id)
{
	return ws_stream && ws_stream->conn_alive(conn_id);
}

static const struct ws_api api = {
    .conn_alive = conn_alive,
};

struct stat_def {
	struct sipd_stat **slot;
	const char *name, *help;
};

static const struct stat_def stat_defs[] = {
    {&ws_stats.upgraded, "upgraded", "WebSocket handshakes completed (ws and wss)"},
    {&ws_stats.refused_origin, "refused_origin",
     "handshakes refused with 403: Origin not in allowed_origins"},
    {&ws_stats.refused_protocol, "refused_protocol", "handshakes refused with 400: no \"sip\" subprotocol"},
    {&ws_stats.refused_limit, "refused_limit", "handshakes refused with 503: max_connections(_per_ip)"},
    {&ws_stats.refused_http, "refused_http", "requests that were no WebSocket upgrade: 426 or 400"},
    {&ws_stats.closed_protocol, "closed_protocol", "closed with 1002/1007: a frame broke RFC 6455"},
    {&ws_stats.closed_too_big, "closed_too_big", "closed with 1009: a message over max_message_size"},
    {&ws_stats.pings, "pings", "keep-alive pings sent to silent peers"},
};

static bool have_listen(enum sipd_proto p)
{
	for (unsigned i = 0; i < sipd_listen_count(); i++)
		if (sipd_listen_get(i)->proto == p)
			return true;
	return false;
}

static int ws_init(void)
{
	int err;

	for (size_t i = 0; i < sizeof(stat_defs) / sizeof(stat_defs[0]); i++)
		if (!(*stat_defs[i].slot = sipd_stat_register("ws", stat_defs[i].name, stat_defs[i].help)))
			return ENOMEM;
	if (!have_listen(SIPD_PROTO_WS) && !have_listen(SIPD_PROTO_WSS))
		SIPD_NOTICE("no ws: or wss: entry in core.listen: the ws module serves nothing");
	if ((err = sipd_service_require(STREAM_SERVICE, STREAM_SERVICE_VERSION, (const void **)&ws_stream))) {
		SIPD_ERR("the stream service of the tcp module is missing: %s", strerror(err));
		return err;
	}
	ws_framers_setup();
	if ((err = ws_stream->framer_register(&ws_framer)) ||
	    (err = ws_stream->framer_register(&wss_framer))) {
		SIPD_ERR("cannot serve ws/wss: %s", strerror(err));
		return err;
	}
	return sipd_service_provide(WS_SERVICE, WS_SERVICE_VERSION, &api);
}

static const char *const requires[] = {"tcp", NULL};

static const struct sipd_param_def params[] = {
    {"allowed_origins", SIPD_PARAM_STR_LIST, &ws_cfg.allowed_origins, 0, 0,
     "Origins whose pages may connect, e.g. [\"https://phone.example.com\"]; \"*\" allows any "
     "(default: the web admin's own, http(s)://127.0.0.1:8080 and http(s)://localhost:8080)"},
    {"max_message_size", SIPD_PARAM_INT, &ws_cfg.max_message_size, 1024, 16 * 1024 * 1024,
     "bytes of one SIP message (one WebSocket message); larger ones close with 1009 (default 65536)"},
    {"max_connections", SIPD_PARAM_INT, &ws_cfg.max_connections, 1, 1000000,
     "WebSocket connections of each of ws and wss, within the tcp module's max_connections (default 4096)"},
    {"max_connections_per_ip", SIPD_PARAM_INT, &ws_cfg.max_connections_per_ip, 1, 1000000,
     "WebSocket connections of each of ws and wss from one IP address; over a limit: HTTP 503 (default 64)"},
    {"idle_timeout", SIPD_PARAM_INT, &ws_cfg.idle_timeout, 0, 86400,
     "seconds without any frame from the peer (pongs count) before the connection closes with 1001; 0 = "
     "never (default 120)"},
    {"keepalive_interval", SIPD_PARAM_INT, &ws_cfg.keepalive_interval, 1, 3600,
     "seconds of silence after which sipd pings the peer (default 30)"},
    {"handshake_timeout", SIPD_PARAM_INT, &ws_cfg.handshake_timeout, 1, 300,
     "seconds from accept to a complete HTTP upgrade request (default 10; wss: the TLS handshake has the "
     "tls module's)"},
    {.name = NULL},
};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "ws",
    .version = "2.0",
    .description =
	"SIP over WebSocket (RFC 7118): ws and wss listen entries on the stream layer, Origin checks",
    .requires = requires,
    .params = params,
    .rpc = ws_rpc_methods,
    .init = ws_init,
};
