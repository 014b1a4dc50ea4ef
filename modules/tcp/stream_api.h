/* The "stream" service of the tcp module: the connection machinery tls and ws build on. */
#ifndef STREAM_API_H
#define STREAM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include <sipd/transport.h>

#define STREAM_SERVICE         "stream"
#define STREAM_SERVICE_VERSION 2

/*
 * A protocol layered on a TCP socket that the tcp module runs for another
 * module (tls). The tcp module keeps the connection table, limits, timeouts,
 * write queues, framing and keep-alives; the layer only turns bytes on the
 * socket into plaintext and back. Every function of a layer is called with
 * the connection's lock held, on any thread, never for two calls at once on
 * one connection.
 */
struct stream_layer {
	enum sipd_proto proto; /* SIPD_PROTO_TLS */
	const char *name;      /* "tls": listen entries, counters ("tls.accepted") and logs */
	/* Time the handshake may take from accept (or connect) to done; 0 = no limit. */
	unsigned handshake_timeout_ms;
	/*
	 * New per-connection state for socket fd. server_name (outbound only,
	 * may be NULL) is the name to send as SNI and check the certificate
	 * against. Returns 0 and *io, or an errno.
	 */
	int (*open)(void **io, int fd, bool outbound, const char *server_name);
	/*
	 * Advances the handshake. 0: done. EAGAIN: wait until the socket is
	 * readable (*want_write false) or writable (true). Anything else: failed,
	 * with a one-line reason in why.
	 */
	int (*handshake)(void *io, bool *want_write, char *why, size_t size);
	/* Like recv(2)/send(2): bytes, 0 at the peer's close (read), or -1 with errno (EAGAIN). */
	ssize_t (*read)(void *io, void *buf, size_t len);
	ssize_t (*write)(void *io, const void *buf, size_t len);
	/* Plaintext already decrypted, which no readiness event will announce. */
	bool (*pending)(void *io);
	/* Protocol details for the listing, e.g. "TLSv1.3 TLS_AES_128_GCM_SHA256"; "" before the handshake.
	 */
	void (*describe)(void *io, char *buf, size_t size);
	/* Says goodbye on the socket if it can (close_notify) and frees io; the tcp module closes fd. */
	void (*close)(void *io);
};

/* A connection of a framed protocol, as its framer sees it (the tcp module's object, opaque). */
struct stream_conn;

/* Why a framer ends a connection: the counter it goes to ("ws.closed_peer" ...). */
enum stream_end {
	STREAM_END_PEER = 1, /* the peer said goodbye */
	STREAM_END_ERROR,    /* it broke the protocol */
	STREAM_END_LIMIT,    /* a size limit, or refused at admission */
	STREAM_END_IDLE,     /* idle_timeout */
};

/*
 * A message protocol in place of SIP's Content-Length framing (ws: an HTTP
 * upgrade, then WebSocket frames), over the plain socket or over a layer
 * (wss: tls). The tcp module keeps the connection table, limits, timeouts and
 * write queues and accepts the connections; the framer turns bytes into SIP
 * messages and SIP messages into frames. Inbound only: nothing connects out.
 */
struct stream_framer {
	enum sipd_proto proto; /* SIPD_PROTO_WS, SIPD_PROTO_WSS */
	const char *name;      /* "ws": listen entries, counters ("ws.accepted"), logs */
	enum sipd_proto
	    layer_proto; /* SIPD_PROTO_NONE: the plain socket; SIPD_PROTO_TLS: the tls module's layer */
	unsigned handshake_timeout_ms; /* from accept until ready(); 0 = none */
	/* Silence from the peer after which keepalive() runs (0 = never); idle_timeout_ms then counts
	 * silence from the peer, and applies to connections a binding keeps too (live peers answer). */
	unsigned keepalive_ms;
	unsigned idle_timeout_ms;                    /* 0 = never */
	int max_connections, max_connections_per_ip; /* this protocol's own limits, besides tcp's */
	size_t max_input; /* bytes input() may need at once (one frame, one request head) */
	/*
	 * State for a new accepted connection. refused: 0, or EMFILE/EAGAIN when
	 * the connection is over the limits and is kept only to be told so (it
	 * counts against no limit; the framer answers and ends it).
	 */
	int (*open)(void **state, int refused);
	/*
	 * Bytes read (buf may be changed in place). Returns how many it used; 0:
	 * wait for more (the rest is given again with what follows). Loop thread.
	 */
	size_t (*input)(struct stream_conn *c, void *state, char *buf, size_t len);
	/*
	 * The header to send before msg (into hdr, at most STREAM_FRAME_HDR
	 * bytes); 0 when the connection cannot carry messages (not ready,
	 * closing). Any thread, with the connection's lock held.
	 */
	size_t (*frame)(void *state, const char *msg, size_t len, char *hdr);
	void (*keepalive)(struct stream_conn *c, void *state); /* loop thread */
	/* idle_timeout passed: say goodbye and end() (loop thread). */
	void (*idle)(struct stream_conn *c, void *state);
	/* Adds the framer's fields to a listing object (origin ...); optional. */
	void (*list)(void *state, json_t *obj);
	void (*close)(void *state);
};

#define STREAM_FRAME_HDR 16

struct stream_api {
	/*
	 * Serves layer->proto: opens its entries of core.listen, accepts and
	 * connects with the layer on top, and registers the core transport of
	 * that protocol. Call from init; layer must live until stop.
	 */
	int (*layer_register)(const struct stream_layer *layer);
	/* Serves framer->proto the same way (inbound only). Call from init; the layer under it is found at
	 * start. */
	int (*framer_register)(const struct stream_framer *framer);
	/* For framers, inside their callbacks (loop thread): */
	/* Writes raw bytes (a handshake answer, a control frame) after what is queued. 0 or an errno. */
	int (*write)(struct stream_conn *c, const char *buf, size_t len);
	/* Hands one SIP message to the core (copied). */
	void (*deliver)(struct stream_conn *c, const char *msg, size_t len);
	/* The protocol's handshake is done: messages may be sent now. */
	void (*ready)(struct stream_conn *c);
	/* Closes once what is queued is written; no more input. */
	void (*end)(struct stream_conn *c, enum stream_end why, const char *text);
	/* "connection 12 from 192.0.2.1:5060", for log lines. */
	const char *(*name)(struct stream_conn *c, char *buf, size_t size);
	/* The connections of protocol proto, as conns.list shows them (a new array). */
	json_t *(*list)(enum sipd_proto proto);
	/* The tcp service's conn_keep and conn_alive, for any connection id. */
	int (*conn_keep)(uint64_t id, bool keep);
	bool (*conn_alive)(uint64_t id);
};

#endif
