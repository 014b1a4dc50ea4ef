/* Shared declarations of the ws transport module's parts (not installed). */
#ifndef WS_H
#define WS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sipd/loop.h>
#include <sipd/rpc.h>
#include <sipd/stats.h>
#include <sipd/transport.h>

#include "frames.h"

struct stream_foreign_ops;

/* Module parameters (modules.conf); times in seconds, sizes in bytes. */
struct ws_cfg {
	const char *const *allowed_origins; /* NULL: the web admin's own origin */
	const char *certificate, *private_key;
	int max_message_size;
	int max_connections;
	int max_connections_per_ip;
	int idle_timeout;
	int keepalive_interval;
	int write_timeout;
};
extern struct ws_cfg ws_cfg;

struct ws_counters {
	struct sipd_stat *open, *accepted, *refused_origin, *refused_protocol, *refused_limit, *rx_messages,
	    *tx_messages, *closed_peer, *closed_idle, *closed_protocol, *closed_too_big, *closed_error,
	    *send_failed;
};
extern struct ws_counters ws_stats;

/*
 * One WebSocket connection. civetweb owns the socket and runs one thread per
 * connection that reads frames (ws_asm is that thread's); workers write to
 * it under lock while mg is set. The object outlives the socket while
 * references remain.
 */
struct ws_conn {
	struct ws_conn *next_id, *next_peer; /* table chains (under the table lock) */
	uint64_t id;
	int refs; /* atomic */
	enum sipd_proto proto;
	const struct sipd_listen *listen;
	union sipd_sockaddr peer;
	pthread_mutex_t lock; /* guards mg, closing, pending */
	pthread_cond_t drained;
	void *mg;         /* struct mg_connection *; NULL once civetweb closed it */
	bool closing;     /* a close frame went out: no more sends, drop what comes */
	bool foreign;     /* registered in the tcp module's stream table */
	unsigned pending; /* messages posted to the loop and not yet handled */
	struct sipd_loop *loop;
	struct ws_asm asm_;
	uint64_t created_ms;
	uint64_t active_ms;        /* last frame from the peer (atomic) */
	uint64_t rx_msgs, tx_msgs; /* atomic */
	char origin[128];          /* as the browser sent it, for the listing */
};

/* conn.c: the connection table (ids, peer aliases, limits). */
int ws_conns_init(unsigned max_total, unsigned max_per_ip);
void ws_conns_fini(void);
/* 0 if one more connection from peer fits, EMFILE (total) or EAGAIN (per IP) if not. */
int ws_conn_admit(const union sipd_sockaddr *peer);
/*
 * Creates and links a connection (limits checked again); the caller owns the
 * returned reference. EMFILE / EAGAIN as ws_conn_admit, ENOMEM.
 */
int ws_conn_add(struct ws_conn **out, enum sipd_proto proto, const struct sipd_listen *ls,
		const union sipd_sockaddr *peer, void *mg);
/* Unlinks c (idempotent): no lookup finds it any more and it leaves the limits. */
void ws_conn_unlink(struct ws_conn *c);
/* The stream service (tcp module) and the ops it calls us with, or NULL: connections are then registered
 * there too. */
void ws_conns_use_stream(const void *api, const void *ops);
/* Once civetweb closed it: out of the stream table (not from inside a send). */
void ws_conn_forget(struct ws_conn *c);
/* Traffic for the stream table's listing. */
void ws_conn_activity(struct ws_conn *c, size_t rx, size_t tx);
void ws_conn_ref(struct ws_conn *c);
void ws_conn_unref(struct ws_conn *c);
/* Lookups return a new reference or NULL. */
struct ws_conn *ws_conn_by_id(uint64_t id);
struct ws_conn *ws_conn_by_peer(enum sipd_proto proto, const union sipd_sockaddr *peer);
/* Calls fn for every linked connection (a reference held during the call, no table lock). */
void ws_conn_foreach(void (*fn)(struct ws_conn *c, void *arg), void *arg);
unsigned ws_conn_count(void);
bool ws_addr_eq(const union sipd_sockaddr *a, const union sipd_sockaddr *b);
/* "1.2.3.4:5060" or "[::1]:5060" */
const char *ws_addr_str(const union sipd_sockaddr *a, char *buf, size_t size);

/* handshake.c: what the HTTP upgrade request must carry. */
/* True if origin (the Origin header, NULL when absent) is allowed by list (NULL: the defaults). */
bool ws_origin_allowed(const char *const *list, const char *origin);
/* True if the Sec-WebSocket-Protocol header value (comma-separated tokens) offers "sip". */
bool ws_offers_sip(const char *header);

/* io.c: writing frames (any thread). */
/* Sends one SIP message on c as a text frame (binary if not UTF-8). 0, ENOTCONN, EPIPE. */
int ws_conn_send(struct ws_conn *c, const char *buf, size_t len);
/* Sends a close frame with code and reason and stops sending; counter (may be NULL) counts it. */
void ws_conn_close(struct ws_conn *c, uint16_t code, const char *reason, struct sipd_stat *counter);
/* io.c: the ops of ws connections in the stream table (a struct stream_foreign_ops). */
extern const struct stream_foreign_ops ws_foreign_ops;
/* Writes a frame as is (pong, close echo); the caller must be c's civetweb thread or hold no lock. */
int ws_conn_write(struct ws_conn *c, int opcode, const char *buf, size_t len);

/* server.c: civetweb contexts, one per ws/wss listen entry. */
int ws_servers_start(void);
void ws_servers_stop(void);

/* rx.c: a whole message from a civetweb thread to a worker loop. */
/* Copies buf and posts it to c's loop, waiting while too many are queued. 0 or ENOMEM. */
int ws_rx_post(struct ws_conn *c, const char *buf, size_t len);
/* At stop, before civetweb stops: no reader waits for room any more. */
void ws_rx_stop(void);
/* At stop, after the loops and civetweb stopped: frees the messages no loop will run now. */
void ws_rx_discard(void);

/* idle.c: pings silent peers every keepalive_interval, closes those silent for idle_timeout. */
void ws_idle_start(void);
void ws_idle_stop(void);

/* send.c: the transport's send function. */
int ws_send(const struct sipd_dest *dst, const char *buf, size_t len);

/* rpc.c */
extern const struct sipd_rpc_method ws_rpc_methods[];

#define WS_LOAD(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WS_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#endif
