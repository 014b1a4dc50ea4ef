/* civetweb's WebSocket server for the ws and wss entries of core.listen: handshake checks and frame dispatch.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <civetweb.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <sipd/log.h>

#include "ws.h"

#define MAX_SERVERS 8

struct ws_server {
	struct mg_context *ctx;
	const struct sipd_listen *ls;
};

static struct ws_server servers[MAX_SERVERS];
static unsigned nservers;
static bool lib_ready;
static bool stopping; /* atomic: connections closing at shutdown concern no transaction any more */

static int peer_addr(union sipd_sockaddr *out, const struct mg_request_info *ri)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, ri->remote_addr, &out->sin.sin_addr) == 1) {
		out->sin.sin_family = AF_INET;
		out->sin.sin_port = htons((uint16_t)ri->remote_port);
		return 0;
	}
	if (inet_pton(AF_INET6, ri->remote_addr, &out->sin6.sin6_addr) == 1) {
		out->sin6.sin6_family = AF_INET6;
		out->sin6.sin6_port = htons((uint16_t)ri->remote_port);
		return 0;
	}
	return EINVAL;
}

/* An HTTP error with a JSON body {"error": why}; the connection closes after it. */
static int http_error(struct mg_connection *mg, int status, const char *reason, const char *extra,
		      const char *why)
{
	json_t *o = json_pack("{s:s}", "error", why);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	const char *b = body ? body : "{}";

	mg_printf(mg,
		  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		  "Connection: close\r\n%s\r\n%s",
		  status, reason, strlen(b), extra ? extra : "", b);
	free(body);
	json_decref(o);
	return status;
}

/*
 * Before civetweb answers the upgrade: only WebSocket requests, from an
 * allowed Origin, offering the "sip" subprotocol, within the limits.
 */
static int on_begin_request(struct mg_connection *mg)
{
	const struct mg_request_info *ri = mg_get_request_info(mg);
	const char *upgrade = mg_get_header(mg, "Upgrade");
	const char *origin = mg_get_header(mg, "Origin");
	union sipd_sockaddr peer;
	char why[256], where[64];
	int err;

	/* civetweb reuses connection objects: never let a previous connection's pointer show through. */
	mg_set_user_connection_data(mg, NULL);
	if (peer_addr(&peer, ri))
		return http_error(mg, 400, "Bad Request", NULL, "unknown peer address");
	ws_addr_str(&peer, where, sizeof(where));
	if (!upgrade || strcasecmp(upgrade, "websocket"))
		return http_error(mg, 426, "Upgrade Required",
				  "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
				  "this port serves SIP over WebSocket (RFC 7118) only");
	if (!ws_origin_allowed(ws_cfg.allowed_origins, origin)) {
		sipd_stat_inc(ws_stats.refused_origin);
		SIPD_INFO("%s: handshake refused, Origin %s is not in allowed_origins", where, origin);
		snprintf(why, sizeof(why), "origin %s is not allowed", origin);
		return http_error(mg, 403, "Forbidden", NULL, why);
	}
	if (!ws_offers_sip(mg_get_header(mg, "Sec-WebSocket-Protocol"))) {
		sipd_stat_inc(ws_stats.refused_protocol);
		SIPD_INFO("%s: handshake refused, no \"sip\" subprotocol offered", where);
		return http_error(
		    mg, 400, "Bad Request", NULL,
		    "the WebSocket subprotocol \"sip\" is required (Sec-WebSocket-Protocol: sip)");
	}
	if ((err = ws_conn_admit(&peer))) {
		sipd_stat_inc(ws_stats.refused_limit);
		SIPD_INFO("%s: handshake refused, %s reached", where,
			  err == EAGAIN ? "max_connections_per_ip" : "max_connections");
		return http_error(mg, 503, "Service Unavailable", "Retry-After: 5\r\n",
				  err == EAGAIN ? "too many connections from this address"
						: "too many connections");
	}
	return 0;
}

static void on_ready(struct mg_connection *mg, void *cbdata)
{
	struct ws_server *s = cbdata;
	const struct mg_request_info *ri = mg_get_request_info(mg);
	const char *origin = mg_get_header(mg, "Origin");
	union sipd_sockaddr peer;
	struct ws_conn *c;
	int err;

	if (peer_addr(&peer, ri) || (err = ws_conn_add(&c, s->ls->proto, s->ls, &peer, mg))) {
		/* The limits filled up between the check and now. */
		sipd_stat_inc(ws_stats.refused_limit);
		mg_websocket_write(mg, WS_OP_CLOSE, "\x03\xf5", 2); /* 1013 Try Again Later */
		return;
	}
	c->loop = sipd_loop_get((unsigned)(c->id % sipd_loop_count()));
	snprintf(c->origin, sizeof(c->origin), "%s", origin ? origin : "");
	mg_set_user_connection_data(mg, c); /* civetweb's reference, dropped in on_close */
	sipd_stat_inc(ws_stats.accepted);
	sipd_stat_inc(ws_stats.open);
	SIPD_DBG("connection %llu from %s (%s)", (unsigned long long)c->id, ri->remote_addr,
		 sipd_proto_name(c->proto));
}

static struct sipd_stat *fail_counter(uint16_t code)
{
	return code == WS_CLOSE_TOO_BIG ? ws_stats.closed_too_big : ws_stats.closed_protocol;
}

/* Returns 1 to keep reading, 0 to let civetweb close the connection. */
static int on_data(struct mg_connection *mg, int bits, char *data, size_t len, void *cbdata)
{
	struct ws_conn *c = mg_get_user_connection_data(mg);
	struct ws_event ev;
	char where[64];

	(void)cbdata;
	if (!c || __atomic_load_n(&c->closing, __ATOMIC_RELAXED))
		return 0;
	WS_STORE(c->active_ms, sipd_now_ms());
	ws_conn_activity(c, len, 0);
	switch (ws_asm_feed(&c->asm_, bits, data, len, (size_t)ws_cfg.max_message_size, &ev)) {
	case WS_MORE:
	case WS_PONG:
		return 1;
	case WS_MESSAGE:
		if (ws_rx_post(c, ev.data, ev.len)) {
			ws_conn_close(c, 1011, "out of memory", ws_stats.closed_error);
			return 0;
		}
		return 1;
	case WS_PING:
		ws_conn_write(c, WS_OP_PONG, ev.data, ev.len);
		return 1;
	case WS_CLOSE:
		/* 5.5.1: answer with a close frame, echoing the code. */
		ws_conn_close(c, ev.code ? ev.code : WS_CLOSE_NORMAL, NULL, ws_stats.closed_peer);
		return 0;
	case WS_FAIL:
		SIPD_INFO("connection %llu from %s: %s, closing with %u", (unsigned long long)c->id,
			  ws_addr_str(&c->peer, where, sizeof(where)), ev.reason, ev.code);
		ws_conn_close(c, ev.code, ev.reason, fail_counter(ev.code));
		return 0;
	}
	return 0;
}

static void on_close(const struct mg_connection *mg, void *cbdata)
{
	struct ws_conn *c = mg_get_user_connection_data(mg);
	struct sipd_dest d;
	bool was_closing;

	(void)cbdata;
	if (!c)
		return;
	mg_set_user_connection_data(mg, NULL);
	pthread_mutex_lock(&c->lock);
	c->mg = NULL; /* from here on civetweb may reuse mg: writers see ENOTCONN */
	was_closing = c->closing;
	__atomic_store_n(&c->closing, true, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&c->lock);
	if (!was_closing)
		sipd_stat_inc(ws_stats.closed_peer);
	ws_conn_unlink(c);
	ws_conn_forget(c);
	sipd_stat_add(ws_stats.open, -1);
	if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
		ws_conn_unref(c);
		return;
	}
	/* Transactions waiting for an answer over this connection fail now, not at their timeout. */
	memset(&d, 0, sizeof(d));
	d.proto = c->proto;
	d.addr = c->peer;
	d.from = c->listen;
	d.conn_id = c->id;
	sipd_transport_error(&d, ECONNRESET);
	SIPD_DBG("connection %llu closed", (unsigned long long)c->id);
	ws_conn_unref(c);
}

/* wss: the certificate and key of the module's parameters go into civetweb's SSL_CTX. */
static int on_init_ssl(void *ssl_ctx, void *user_data)
{
	SSL_CTX *ctx = ssl_ctx;
	unsigned long e;

	(void)user_data;
	if (SSL_CTX_use_certificate_chain_file(ctx, ws_cfg.certificate) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, ws_cfg.private_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		e = ERR_get_error();
		SIPD_ERR("wss: cannot use certificate %s with key %s: %s", ws_cfg.certificate,
			 ws_cfg.private_key, e ? ERR_reason_error_string(e) : "unknown error");
		ERR_clear_error();
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	return 1;
}

static int on_log(const struct mg_connection *mg, const char *message)
{
	(void)mg;
	SIPD_DBG("civetweb: %s", message);
	return 1;
}

/*
 * civetweb loads libssl at run time by symbol name. Debian 12's civetweb 1.15
 * was built for the OpenSSL 1.1 names and calls SSL_get_peer_certificate on
 * every TLS connection; OpenSSL 3 exports that function only as
 * SSL_get1_peer_certificate, so civetweb jumps through a NULL pointer at the
 * first wss client. Refuse wss with such a pair instead of crashing later.
 */
static bool civetweb_tls_usable(const char **why)
{
	void *h = dlopen("libssl.so", RTLD_LAZY | RTLD_LOCAL);
	bool ok = h && dlsym(h, "SSL_get_peer_certificate");

	*why = !h ? "civetweb cannot load libssl.so (install libssl-dev)"
		  : "this civetweb calls SSL_get_peer_certificate, which the installed OpenSSL 3 no longer "
		    "exports, "
		    "and would crash at the first TLS client; terminate TLS in front of a ws: entry (a "
		    "reverse proxy) "
		    "or use a civetweb built for OpenSSL 3";
	if (h)
		dlclose(h);
	return ok;
}

static int start_one(const struct sipd_listen *ls)
{
	static const char *subprotocols[] = {"sip"};
	static struct mg_websocket_subprotocols sp = {1, subprotocols};
	struct ws_server *s = &servers[nservers];
	struct mg_callbacks cb;
	char port[96], threads[16], timeout[16];
	bool tls = ls->proto == SIPD_PROTO_WSS;
	const char *why;
	/* No enable_websocket_ping_pong: in that mode civetweb hides pongs from on_data (idle.c pings). */
	const char *opts[] = {
	    "listening_ports",
	    port,
	    "num_threads",
	    threads,
	    "request_timeout_ms",
	    timeout,
	    "enable_keep_alive",
	    "no",
	    tls ? "ssl_protocol_version" : NULL,
	    "4",
	    NULL,
	};

	if (nservers == MAX_SERVERS) {
		SIPD_ERR("more than %d ws/wss listen entries", MAX_SERVERS);
		return EINVAL;
	}
	if (tls && !civetweb_tls_usable(&why)) {
		SIPD_ERR("wss:%s:%u: %s", ls->host, ls->port, why);
		return ENOTSUP;
	}
	if (tls && (!ws_cfg.certificate || !ws_cfg.private_key)) {
		SIPD_ERR("%s:%s:%u needs the ws module's certificate and private_key parameters", "wss",
			 ls->host, ls->port);
		return EINVAL;
	}
	snprintf(port, sizeof(port), strchr(ls->host, ':') ? "[%s]:%u%s" : "%s:%u%s", ls->host, ls->port,
		 tls ? "s" : "");
	/* civetweb gives each open WebSocket a thread of its own: one per allowed connection, and spares
	 * for handshakes. */
	snprintf(threads, sizeof(threads), "%d", ws_cfg.max_connections + 4);
	snprintf(timeout, sizeof(timeout), "%d", ws_cfg.write_timeout * 1000);
	memset(&cb, 0, sizeof(cb));
	cb.begin_request = on_begin_request;
	cb.log_message = on_log;
	if (tls)
		cb.init_ssl = on_init_ssl;
	s->ls = ls;
	s->ctx = mg_start(&cb, s, opts);
	if (!s->ctx) {
		SIPD_ERR("cannot listen on %s:%s:%u (address in use, or a bad certificate)",
			 sipd_proto_name(ls->proto), ls->host, ls->port);
		return EADDRINUSE;
	}
	mg_set_websocket_handler_with_subprotocols(s->ctx, "/", &sp, NULL, on_ready, on_data, on_close, s);
	nservers++;
	SIPD_INFO("listening on %s:%s:%u", sipd_proto_name(ls->proto), ls->host, ls->port);
	return 0;
}

int ws_servers_start(void)
{
	int err = 0;

	__atomic_store_n(&stopping, false, __ATOMIC_RELEASE);
	if (!lib_ready) {
		mg_init_library(MG_FEATURES_SSL | MG_FEATURES_WEBSOCKET | MG_FEATURES_IPV6);
		lib_ready = true;
	}
	for (unsigned i = 0; i < sipd_listen_count() && !err; i++) {
		const struct sipd_listen *ls = sipd_listen_get(i);

		if (ls->proto == SIPD_PROTO_WS || ls->proto == SIPD_PROTO_WSS)
			err = start_one(ls);
	}
	if (err)
		ws_servers_stop();
	return err;
}

void ws_servers_stop(void)
{
	/* tm may have stopped already (it stops before ws): report no transport errors from here on. */
	__atomic_store_n(&stopping, true, __ATOMIC_RELEASE);
	while (nservers) {
		struct ws_server *s = &servers[--nservers];

		mg_stop(s->ctx);
		s->ctx = NULL;
	}
	if (lib_ready) {
		mg_exit_library();
		lib_ready = false;
	}
}
