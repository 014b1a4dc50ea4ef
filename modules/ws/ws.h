/* Shared declarations of the ws transport module's parts (not installed). */
#ifndef WS_H
#define WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sipd/rpc.h>
#include <sipd/stats.h>

#include "frames.h"

/* Module parameters (modules.conf); times in seconds, sizes in bytes. */
struct ws_cfg {
	const char *const *allowed_origins; /* NULL: the web admin's own origin */
	int max_message_size;
	int max_connections;
	int max_connections_per_ip;
	int idle_timeout;
	int keepalive_interval;
	int handshake_timeout;
};
extern struct ws_cfg ws_cfg;

/* The ws module's own counters; the connection counters are the stream layer's ("ws.accepted" ...). */
struct ws_counters {
	struct sipd_stat *upgraded, *refused_origin, *refused_protocol, *refused_limit, *refused_http,
	    *closed_protocol, *closed_too_big, *pings;
};
extern struct ws_counters ws_stats;

/* handshake.c: the HTTP upgrade request and its answer. */
/* The headers of an upgrade request that matter, pointing into the parsed head (NULL when absent). */
struct ws_request {
	const char *method, *target, *version;
	const char *host, *upgrade, *connection, *key, *ws_version, *protocol, *origin;
};
/* Parses the request head (up to and with its blank line) in place. 0, or -1 when it is not HTTP. */
int ws_request_parse(char *head, size_t len, struct ws_request *rq);

#define WS_ACCEPT_LEN 28
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2): 0, or -1 if the key is not 16 bytes in
 * base64. */
int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

enum ws_refusal {
	WS_REFUSED_NOT = 0,
	WS_REFUSED_HTTP,     /* not a (valid) WebSocket upgrade: 426, 400 */
	WS_REFUSED_ORIGIN,   /* 403 */
	WS_REFUSED_PROTOCOL, /* no "sip": 400 */
	WS_REFUSED_LIMIT,    /* 503 */
};

/* What to answer: 101, or an error status with a reason phrase, extra headers and why (the JSON body). */
struct ws_answer {
	int status;
	enum ws_refusal refusal;
	const char *reason, *extra;
	char why[160];
	char accept[WS_ACCEPT_LEN + 1];
};
/*
 * Checks a request against RFC 6455 4.2.1 and our policy, in this order: a
 * WebSocket upgrade at all (426), version 13 (426), well-formed (400), Origin
 * in origins (403, NULL: the defaults), subprotocol "sip" (400), and refused
 * (EMFILE/EAGAIN from admission: 503). Returns 0 (101) or the status.
 */
int ws_handshake_check(const struct ws_request *rq, const char *const *origins, int refused,
		       struct ws_answer *v);
/* The HTTP answer for v into buf (errors with a JSON body {"error": why}); its length. */
int ws_handshake_answer(const struct ws_answer *v, char *buf, size_t size);
/* An upgrade request's head may take this much (browsers send under 1 KB); an answer fits in
 * WS_ANSWER_MAX. */
#define WS_MAX_HEAD   8192
#define WS_ANSWER_MAX 1024
/*
 * The start of a connection's input (buf[len], changed in place): 0 while the
 * request head is incomplete and under WS_MAX_HEAD, else the bytes of the head
 * with *rq parsed and *v decided as ws_handshake_check() does (400 for a head
 * that is not HTTP or over WS_MAX_HEAD).
 */
size_t ws_handshake_read(char *buf, size_t len, const char *const *origins, int refused,
			 struct ws_request *rq, struct ws_answer *v);
/* True if origin (the Origin header, NULL when absent) is allowed by list (NULL: the defaults). */
bool ws_origin_allowed(const char *const *list, const char *origin);
/* True if the Sec-WebSocket-Protocol header value (comma-separated tokens) offers "sip". */
bool ws_offers_sip(const char *header);

/* ws.c: the tcp module's stream service (set in init). */
struct stream_api;
extern const struct stream_api *ws_stream;

/* framer.c: the ws and wss framers the tcp module's stream layer runs connections with. */
struct stream_framer;
/* Fills the framers' limits and timeouts from ws_cfg. */
void ws_framers_setup(void);
extern struct stream_framer ws_framer, wss_framer;

/* rpc.c */
extern const struct sipd_rpc_method ws_rpc_methods[];

#endif
