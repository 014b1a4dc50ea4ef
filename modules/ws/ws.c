/* The ws transport module: SIP over WebSocket (RFC 7118) for browsers, on civetweb's WebSocket server. */
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
    .max_connections = 256,
    .max_connections_per_ip = 64,
    .idle_timeout = 120,
    .keepalive_interval = 30,
    .write_timeout = 10,
};
struct ws_counters ws_stats;

static bool conn_alive(uint64_t conn_id)
{
	struct ws_conn *c = ws_conn_by_id(conn_id);
	bool alive = c && !__atomic_load_n(&c->closing, __ATOMIC_RELAXED);

	ws_conn_unref(c);
	return alive;
}

static const struct ws_api api = {
    .conn_alive = conn_alive,
};

static const struct sipd_transport transport_ws = {
    .proto = SIPD_PROTO_WS,
    .name = "ws",
    .send = ws_send,
};

static const struct sipd_transport transport_wss = {
    .proto = SIPD_PROTO_WSS,
    .name = "wss",
    .send = ws_send,
};

struct stat_def {
	struct sipd_stat **slot;
	const char *name, *help;
};

static const struct stat_def stat_defs[] = {
    {&ws_stats.open, "connections_open", "WebSocket connections open now (gauge)"},
    {&ws_stats.accepted, "accepted", "WebSocket handshakes completed"},
    {&ws_stats.refused_origin, "refused_origin",
     "handshakes refused with 403: Origin not in allowed_origins"},
    {&ws_stats.refused_protocol, "refused_protocol", "handshakes refused with 400: no \"sip\" subprotocol"},
    {&ws_stats.refused_limit, "refused_limit",
     "handshakes refused: max_connections or max_connections_per_ip"},
    {&ws_stats.rx_messages, "rx_messages", "SIP messages received"},
    {&ws_stats.tx_messages, "tx_messages", "SIP messages sent"},
    {&ws_stats.closed_peer, "closed_peer", "connections the peer closed"},
    {&ws_stats.closed_idle, "closed_idle", "closed after idle_timeout"},
    {&ws_stats.closed_protocol, "closed_protocol", "closed with 1002/1007: a frame broke RFC 6455"},
    {&ws_stats.closed_too_big, "closed_too_big", "closed with 1009: a message over max_message_size"},
    {&ws_stats.closed_error, "closed_error", "closed after a failed write"},
    {&ws_stats.send_failed, "send_failed", "sends refused: no such connection, or it failed"},
};

static bool have_ws_listen(void)
{
	for (unsigned i = 0; i < sipd_listen_count(); i++) {
		enum sipd_proto p = sipd_listen_get(i)->proto;

		if (p == SIPD_PROTO_WS || p == SIPD_PROTO_WSS)
			return true;
	}
	return false;
}

static int ws_init(void)
{
	int err;

	for (size_t i = 0; i < sizeof(stat_defs) / sizeof(stat_defs[0]); i++)
		if (!(*stat_defs[i].slot = sipd_stat_register("ws", stat_defs[i].name, stat_defs[i].help)))
			return ENOMEM;
	if (!have_ws_listen())
		SIPD_NOTICE("no ws: or wss: entry in core.listen: the ws module serves nothing");
	if ((err = ws_conns_init((unsigned)ws_cfg.max_connections, (unsigned)ws_cfg.max_connections_per_ip)))
		return err;
	if ((err = sipd_transport_register(&transport_ws)) ||
	    (err = sipd_transport_register(&transport_wss))) {
		SIPD_ERR("cannot register the ws transports: %s", strerror(err));
		goto fail;
	}
	if ((err = sipd_service_provide(WS_SERVICE, WS_SERVICE_VERSION, &api)))
		goto fail;
	return 0;
fail:
	ws_conns_fini();
	return err;
}

static int ws_start(void)
{
	const void *stream = NULL;
	int err;

	/* Optional: with the tcp module, ws connections share its table, limits and listing. */
	if (sipd_service_require(STREAM_SERVICE, STREAM_SERVICE_VERSION, &stream))
		stream = NULL;
	ws_conns_use_stream(stream, stream ? &ws_foreign_ops : NULL);
	err = ws_servers_start();

	if (err)
		return err;
	ws_idle_start();
	return 0;
}

static void ws_stop(void)
{
	ws_idle_stop();
	ws_rx_stop();
	ws_servers_stop();
	ws_rx_discard();
	ws_conns_fini();
}

static const struct sipd_param_def params[] = {
    {"allowed_origins", SIPD_PARAM_STR_LIST, &ws_cfg.allowed_origins, 0, 0,
     "Origins whose pages may connect, e.g. [\"https://phone.example.com\"]; \"*\" allows any "
     "(default: the web admin's own, http(s)://127.0.0.1:8080 and http(s)://localhost:8080)"},
    {"certificate", SIPD_PARAM_STR, &ws_cfg.certificate, 0, 0, "PEM certificate (chain) for wss: entries"},
    {"private_key", SIPD_PARAM_STR, &ws_cfg.private_key, 0, 0, "PEM private key of the certificate"},
    {"max_message_size", SIPD_PARAM_INT, &ws_cfg.max_message_size, 1024, 16 * 1024 * 1024,
     "bytes of one SIP message (one WebSocket message); larger ones close with 1009 (default 65536)"},
    {"max_connections", SIPD_PARAM_INT, &ws_cfg.max_connections, 1, 65536,
     "WebSocket connections in total; each takes a civetweb thread (default 256)"},
    {"max_connections_per_ip", SIPD_PARAM_INT, &ws_cfg.max_connections_per_ip, 1, 65536,
     "WebSocket connections from one IP address (default 64)"},
    {"idle_timeout", SIPD_PARAM_INT, &ws_cfg.idle_timeout, 0, 86400,
     "seconds without any frame from the peer (pongs count) before the connection closes; 0 = never "
     "(default 120)"},
    {"keepalive_interval", SIPD_PARAM_INT, &ws_cfg.keepalive_interval, 1, 3600,
     "seconds of silence after which sipd pings the peer (default 30)"},
    {"write_timeout", SIPD_PARAM_INT, &ws_cfg.write_timeout, 1, 3600,
     "seconds a write (and the HTTP handshake) may take (default 10)"},
    {.name = NULL},
};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "ws",
    .version = "1.0",
    .description = "SIP over WebSocket (RFC 7118): ws and wss listen entries, Origin checks, limits",
    .params = params,
    .rpc = ws_rpc_methods,
    .init = ws_init,
    .start = ws_start,
    .stop = ws_stop,
};
