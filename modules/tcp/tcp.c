/* The tcp transport module: SIP over TCP (RFC 3261 18) with limits, timeouts and reuse, and the stream
 * service. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/service.h>

#include "tcp.h"
#include "tcp_api.h"

struct tcp_cfg tcp_cfg = {
    .connect_timeout = 5,
    .read_timeout = 10,
    .write_timeout = 10,
    .idle_timeout = 120,
    .max_connections = 16384,
    .max_connections_per_ip = 1024,
    .max_message_size = 65536,
    .max_write_queue = 1024 * 1024,
    .backlog = 1024,
    .spread = true,
    .spread_queue = 65536,
};
const struct sipd_parser_api *tcp_parser;

static int conn_keep(uint64_t conn_id, bool keep)
{
	struct tcp_conn *c = tcp_conn_by_id(conn_id);

	if (!c)
		return ENOENT;
	TCP_STORE(c->kept, keep);
	tcp_conn_unref(c);
	return 0;
}

static bool conn_alive(uint64_t conn_id)
{
	struct tcp_conn *c = tcp_conn_by_id(conn_id);
	bool alive = c && __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != TCP_ST_CLOSED;

	tcp_conn_unref(c);
	return alive;
}

static const struct tcp_api api = {
    .conn_keep = conn_keep,
    .conn_alive = conn_alive,
};

/* What a framer may do with its connection (stream_api.h); a stream_conn is a tcp_conn. */
static int fr_write(struct stream_conn *sc, const char *buf, size_t len)
{
	return tcp_conn_write((struct tcp_conn *)sc, buf, len);
}

static void fr_deliver(struct stream_conn *sc, const char *msg, size_t len)
{
	tcp_conn_deliver((struct tcp_conn *)sc, msg, len);
}

static void fr_ready(struct stream_conn *sc)
{
	struct tcp_conn *c = (struct tcp_conn *)sc;

	TCP_STORE(c->ready, true);
	tcp_timer_update(c);
}

static void fr_end(struct stream_conn *sc, enum stream_end why, const char *text)
{
	tcp_conn_end((struct tcp_conn *)sc, why, text);
}

static const char *fr_name(struct stream_conn *sc, char *buf, size_t size)
{
	struct tcp_conn *c = (struct tcp_conn *)sc;
	char peer[INET6_ADDRSTRLEN + 8];

	snprintf(buf, size, "%s connection %llu from %s", c->proto->name, (unsigned long long)c->id,
		 tcp_addr_str(&c->peer, peer, sizeof(peer)));
	return buf;
}

static json_t *fr_list(enum sipd_proto proto)
{
	return tcp_conns_list(proto, SIZE_MAX);
}

static const struct stream_api stream = {
    .layer_register = tcp_layer_register,
    .framer_register = tcp_framer_register,
    .write = fr_write,
    .deliver = fr_deliver,
    .ready = fr_ready,
    .end = fr_end,
    .name = fr_name,
    .list = fr_list,
    .conn_keep = conn_keep,
    .conn_alive = conn_alive,
};

static int tcp_init(void)
{
	int err = tcp_conns_init();

	if (err)
		return err;
	if ((err = sipd_service_provide(TCP_SERVICE, TCP_SERVICE_VERSION, &api)) ||
	    (err = sipd_service_provide(STREAM_SERVICE, STREAM_SERVICE_VERSION, &stream)) ||
	    (err = tcp_protos_init()))
		goto fail;
	return 0;
fail:
	tcp_listeners_close();
	tcp_conns_shutdown();
	return err;
}

static int tcp_start(void)
{
	int err = sipd_service_require(SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION, (const void **)&tcp_parser);

	if (err) {
		SIPD_ERR("the parser service is missing: %s", strerror(err));
		return err;
	}
	if ((err = tcp_protos_resolve()))
		return err;
	return tcp_listeners_start();
}

static void tcp_stop(void)
{
	tcp_listeners_close();
	tcp_conns_shutdown();
	tcp_parser = NULL;
}

static const char *const requires[] = {"parser", NULL};

static const struct sipd_param_def params[] = {
    {"connect_timeout", SIPD_PARAM_INT, &tcp_cfg.connect_timeout, 1, 300,
     "seconds an outbound connect may take (default 5)"},
    {"read_timeout", SIPD_PARAM_INT, &tcp_cfg.read_timeout, 1, 3600,
     "seconds a started message has to complete, against slow senders (default 10)"},
    {"write_timeout", SIPD_PARAM_INT, &tcp_cfg.write_timeout, 1, 3600,
     "seconds queued data may wait without progress before the connection is dropped (default 10)"},
    {"idle_timeout", SIPD_PARAM_INT, &tcp_cfg.idle_timeout, 0, 86400,
     "seconds without traffic before an unused connection is closed; 0 = never (default 120)"},
    {"max_connections", SIPD_PARAM_INT, &tcp_cfg.max_connections, 1, 1000000,
     "connections in total, both directions (default 16384)"},
    {"max_connections_per_ip", SIPD_PARAM_INT, &tcp_cfg.max_connections_per_ip, 1, 1000000,
     "inbound connections from one IP address (default 1024)"},
    {"max_message_size", SIPD_PARAM_INT, &tcp_cfg.max_message_size, 1024, 16 * 1024 * 1024,
     "bytes of one SIP message, headers and body (default 65536)"},
    {"max_write_queue", SIPD_PARAM_INT, &tcp_cfg.max_write_queue, 4096, 256 * 1024 * 1024,
     "bytes waiting to be sent on one connection before it is closed (default 1048576)"},
    {"backlog", SIPD_PARAM_INT, &tcp_cfg.backlog, 16, 65535, "listen(2) backlog (default 1024)"},
    {"spread", SIPD_PARAM_BOOL, &tcp_cfg.spread, 0, 0,
     "handle each message on the worker its Call-ID hashes to, so one busy connection uses every worker "
     "(a call's messages stay in order); false: all on the connection's worker (default true)"},
    {"spread_queue", SIPD_PARAM_INT, &tcp_cfg.spread_queue, 16, 16 * 1024 * 1024,
     "messages handed to other workers and not yet handled, past which connections are not read until "
     "the workers catch up (default 65536)"},
    {.name = NULL},
};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "tcp",
    .version = "1.0",
    .description = "SIP over TCP: framing, keep-alives, connection reuse, timeouts and limits; the stream "
		   "connection machinery tls and ws share",
    .requires = requires,
    .params = params,
    .rpc = tcp_rpc_methods,
    .init = tcp_init,
    .start = tcp_start,
    .stop = tcp_stop,
};
