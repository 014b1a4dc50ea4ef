/* The "stream" service of the tcp module: the connection machinery tls and ws build on. */
#ifndef STREAM_API_H
#define STREAM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <sipd/transport.h>

#define STREAM_SERVICE         "stream"
#define STREAM_SERVICE_VERSION 1

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

/*
 * A connection another module owns the socket of (ws: civetweb's threads).
 * It is listed with the others and counts against max_connections and
 * max_connections_per_ip.
 */
struct stream_foreign_ops {
	/* Sends one whole message over the connection. 0 or an errno. Any thread. */
	int (*send)(void *arg, const char *buf, size_t len);
	/* Asks the owner to close it (optional). Any thread; the owner then calls foreign_remove. */
	void (*close)(void *arg);
	/* Protocol details for the listing (optional), like stream_layer.describe. */
	void (*describe)(void *arg, char *buf, size_t size);
};

struct stream_api {
	/*
	 * Serves layer->proto: opens its entries of core.listen, accepts and
	 * connects with the layer on top, and registers the core transport of
	 * that protocol. Call from init; layer must live until stop.
	 */
	int (*layer_register)(const struct stream_layer *layer);
	/*
	 * Adds a foreign connection: *id gets a conn_id from sipd_conn_id_next().
	 * EMFILE (max_connections) or EAGAIN (max_connections_per_ip, inbound)
	 * when over the limits: refuse the connection then.
	 */
	int (*foreign_add)(uint64_t *id, enum sipd_proto proto, bool inbound, const union sipd_sockaddr *peer,
			   const union sipd_sockaddr *local, const struct stream_foreign_ops *ops, void *arg);
	/* Counts traffic on a foreign connection (for idle_s and the byte counters of the listing). */
	void (*foreign_activity)(uint64_t id, size_t rx_bytes, size_t tx_bytes);
	/*
	 * Removes it. Returns once no call into its ops is running; after that
	 * its ops are never called with arg again.
	 */
	void (*foreign_remove)(uint64_t id);
	/* Sends buf on connection id, whatever its protocol. ENOTCONN when it is gone. Any thread. */
	int (*conn_send)(uint64_t id, const char *buf, size_t len);
	/* The tcp service's conn_keep and conn_alive, for any connection id. */
	int (*conn_keep)(uint64_t id, bool keep);
	bool (*conn_alive)(uint64_t id);
};

#endif
