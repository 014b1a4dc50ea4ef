/* Shared declarations of the tcp transport module's parts (not installed). */
#ifndef TCP_H
#define TCP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sipd/loop.h>
#include <sipd/msg.h>
#include <sipd/rpc.h>
#include <sipd/stats.h>
#include <sipd/transport.h>

#include "framing.h"
#include "stream_api.h"
#include "writeq.h"

/* Module parameters (modules.conf); times in seconds, sizes in bytes. */
struct tcp_cfg {
	int connect_timeout;
	int read_timeout;
	int write_timeout;
	int idle_timeout;
	int max_connections;
	int max_connections_per_ip;
	int max_message_size;
	int max_write_queue;
	int backlog;
	bool spread;      /* hand messages to the loop their Call-ID hashes to */
	int spread_queue; /* ... while fewer than this many wait there */
};
extern struct tcp_cfg tcp_cfg;

struct tcp_counters {
	struct sipd_stat *open, *accepted, *connected, *closed_idle, *closed_read_timeout,
	    *closed_write_timeout, *closed_error, *closed_limit, *closed_peer, *rejected_limit, *rx_messages,
	    *bad_framing, *keepalive_pongs, *write_queue_full, *bytes_queued, *bytes_dropped, *spread;
	struct sipd_stat *handshake_failed; /* layered protocols only (NULL for tcp) */
};

#define TCP_PROTO_SLOTS (SIPD_PROTO_WSS + 1)

/*
 * A stream protocol served here: plain tcp, one with a layer (tls), or one
 * with a framer (ws; wss also with the tls layer) whose module registered it
 * through the stream service.
 */
struct tcp_proto {
	enum sipd_proto proto;
	const char *name;
	const struct stream_layer *layer;   /* NULL: plain TCP */
	const struct stream_framer *framer; /* NULL: SIP's own framing */
	uint64_t idle_ms;                   /* idle timeout, 0 = never */
	size_t max_input;                   /* bytes a pending input may grow to */
	int count;                          /* atomic: connections admitted (framers' own limit) */
	struct tcp_counters st;
	struct sipd_transport transport;
};

/* proto.c: the protocols served; tcp itself is always there. */
int tcp_protos_init(void);
/* The protocol served for p, or NULL. */
struct tcp_proto *tcp_proto_get(enum sipd_proto p);
int tcp_layer_register(const struct stream_layer *layer);
int tcp_framer_register(const struct stream_framer *framer);
/* At start: puts the tls layer under wss. ENOTSUP when a framer's listen entries need a missing layer. */
int tcp_protos_resolve(void);

/* The parser service, set in start. */
extern const struct sipd_parser_api *tcp_parser;

enum tcp_state {
	TCP_ST_CONNECTING = 1, /* outbound, connect() in progress; sends are queued */
	TCP_ST_HANDSHAKE,      /* the layer (tls) is shaking hands; sends are queued */
	TCP_ST_OPEN,
	TCP_ST_CLOSING, /* a final error answer is queued: no more reads, close when written */
	TCP_ST_CLOSED,  /* unlinked and fd closed; the object lives while references remain */
};

/*
 * One connection. It lives on one loop: reads, writes to the socket from
 * that loop, timers and closing happen there. Other threads only look it up
 * (holding a reference) and append to wq under lock.
 */
struct tcp_conn {
	struct tcp_conn *next_id, *next_peer; /* hash chains (guarded by the bucket locks) */
	uint64_t id;
	struct tcp_proto *proto;
	struct tcp_counters *st; /* &proto->st */
	void *io;                /* the layer's state (under lock), NULL for plain TCP */
	void *fstate;            /* the framer's state (frame() under lock, the rest loop thread) */
	int refs;                /* atomic */
	int fd;
	uint8_t state; /* enum tcp_state; changes under lock, with atomic stores (read unlocked by lookups) */
	bool outbound;
	bool kept;         /* atomic: a binding uses it (tcp_conn_keep), no idle close */
	bool out_watched;  /* EPOLLOUT requested (loop thread only) */
	bool flush_posted; /* a flush is queued on the loop (under lock) */
	bool close_posted; /* a close is queued on the loop (under lock) */
	bool peer_eof;     /* the peer half-closed: close once wq is written */
	bool admitted;     /* counted in the limits (false: a framer answers "too many" and ends it) */
	bool ready;        /* atomic: a framer's handshake is done */
	bool sent_request; /* atomic: a request went out here (a client transaction may await its answer) */
	int close_err;     /* why a posted close happens (under lock) */
	struct sipd_stat *close_counter;
	const char *close_why;
	struct sipd_loop *loop;
	struct sipd_io *watch;
	const struct sipd_listen *listen;
	union sipd_sockaddr peer, local;
	pthread_mutex_t lock; /* guards wq, state, the posted flags */
	struct tcp_writeq wq;
	struct tcp_framer fr; /* partial inbound message (loop thread only) */
	struct sipd_timer timer;
	uint64_t timer_at; /* when timer fires, 0 if not armed */
	uint64_t created_ms;
	uint64_t hs_start_ms;        /* when the handshake began (0: none running) */
	uint64_t active_ms;          /* last byte read or written (atomic: read by the rpc) */
	uint64_t rx_ms, ping_ms;     /* last byte read, last keepalive() (framers; loop thread) */
	uint64_t wprogress_ms;       /* last time the queue shrank (or got its first bytes) */
	uint64_t rx_bytes, tx_bytes; /* atomic: read by the rpc */
};

/*
 * spread.c: true when the framed message went to another worker loop (the
 * one its Call-ID hashes to; counted in counter); false: the caller handles
 * it on this loop.
 */
bool tcp_spread(const struct sipd_rcvinfo *ri, const char *p, size_t len, struct sipd_stat *counter);
/* The other workers are spread_queue messages behind: readers leave data in the socket (TCP back-pressure).
 */
bool tcp_spread_full(void);

/* conn.c: objects, the id and peer hashes, limits. */
int tcp_conns_init(void);
void tcp_conns_shutdown(void);
/*
 * Admits (limits), creates and links an accepted connection on fd. The
 * caller (the loop's thread) borrows the result; the connection owns fd.
 * EMFILE (max_connections) or EAGAIN (max_connections_per_ip) when refused;
 * a framed protocol gets a connection anyway, not admitted, so that its
 * framer tells the peer (a few at a time).
 */
int tcp_conn_accepted(struct tcp_conn **out, struct tcp_proto *p, int fd, const union sipd_sockaddr *peer,
		      struct sipd_loop *loop, const struct sipd_listen *ls);
void tcp_conn_ref(struct tcp_conn *c);
void tcp_conn_unref(struct tcp_conn *c);
/* Lookups return a new reference or NULL. */
struct tcp_conn *tcp_conn_by_id(uint64_t id);
/*
 * Finds a live connection of protocol p to peer, or creates an outbound one
 * (socket made, not yet connecting: see tcp_conn_attach) on loop, with
 * *created set. server_name goes to the layer of a new one. Returns a new
 * reference.
 */
int tcp_conn_by_peer_or_new(struct tcp_conn **out, bool *created, struct tcp_proto *p,
			    const union sipd_sockaddr *peer, const char *server_name, struct sipd_loop *loop);
/*
 * Admission against max_connections (and max_connections_per_ip when
 * inbound), and p's own limits when its framer has some: 0, EMFILE, EAGAIN.
 */
int tcp_admit(struct tcp_proto *p, const union sipd_sockaddr *peer, bool inbound);
void tcp_release(struct tcp_proto *p, const union sipd_sockaddr *peer, bool inbound);
/* Closes c now (loop thread): unlinks, reports unsent data, counts counter. */
void tcp_conn_close(struct tcp_conn *c, struct sipd_stat *counter, int err, const char *why);
/* Asks c's loop to close it (any thread). */
void tcp_conn_close_async(struct tcp_conn *c, struct sipd_stat *counter, int err, const char *why);
/* Calls fn for every linked connection (reference held during the call). */
void tcp_conn_foreach(void (*fn)(struct tcp_conn *c, void *arg), void *arg);
const char *tcp_conn_state_name(const struct tcp_conn *c);
/* "1.2.3.4:5060" or "[::1]:5060" */
const char *tcp_addr_str(const union sipd_sockaddr *a, char *buf, size_t size);
bool tcp_addr_eq(const union sipd_sockaddr *a, const union sipd_sockaddr *b);

/* conn_io.c: the socket side of a connection (loop thread unless said). */
/* Starts watching c on its loop; for outbound connections starts the connect. */
int tcp_conn_attach(struct tcp_conn *c);
/* Queues or writes buf for c from any thread. Returns 0, ENOBUFS (queue full), ENOTCONN (closed). */
int tcp_conn_write(struct tcp_conn *c, const char *buf, size_t len);
/* Sends one SIP message: as is, or in its framer's frame (ENOTCONN when it cannot carry one now). */
int tcp_conn_send_msg(struct tcp_conn *c, const char *buf, size_t len);
/* The framer's end(): close once written (loop thread). */
void tcp_conn_end(struct tcp_conn *c, enum stream_end why, const char *text);
/* Handing a framed message to the core. */
void tcp_conn_deliver(struct tcp_conn *c, const char *p, size_t len);
/* True before the connection can carry data (connecting, handshake). */
bool tcp_conn_pending(const struct tcp_conn *c);

/* io.c: the byte path of a connection, plain socket or the layer (c->lock held by the caller). */
ssize_t tcp_io_read(struct tcp_conn *c, void *buf, size_t len);
ssize_t tcp_io_writev(struct tcp_conn *c, const struct iovec *iov, int iovcnt);
bool tcp_io_pending(struct tcp_conn *c);
/* Runs the layer's handshake step: 0 done, EAGAIN (*want_write), or an error with why. */
int tcp_io_handshake(struct tcp_conn *c, bool *want_write, char *why, size_t size);
void tcp_io_close(struct tcp_conn *c);

/* timeout.c: the single per-connection timer. */
void tcp_timer_init(struct tcp_conn *c);
/* Makes sure the timer fires no later than c's nearest deadline (loop thread). */
void tcp_timer_update(struct tcp_conn *c);
void tcp_timer_stop(struct tcp_conn *c);

/* listener.c */
int tcp_listeners_start(void);
void tcp_listeners_close(void);
/* Opens the listen entries of protocol p (tcp at init, a layer when it registers). */
int tcp_listeners_open_proto(struct tcp_proto *p);
/* A listen entry to report as the local socket for an outbound connection. */
const struct sipd_listen *tcp_listener_for(enum sipd_proto proto, int family);

/* send.c: the transport's send function. */
int tcp_send(const struct sipd_dest *dst, const char *buf, size_t len);
/* Writes buf on a connection to peer (existing or new); *conn_id (optional) gets its id. */
int tcp_send_peer(uint64_t *conn_id, struct tcp_proto *p, const union sipd_sockaddr *peer,
		  const char *server_name, const char *buf, size_t len);
/* Sends on connection id (a stream connection of any protocol). */
int tcp_send_conn(uint64_t id, const char *buf, size_t len);

/* rpc.c */
extern const struct sipd_rpc_method tcp_rpc_methods[];
/* The listing of protocol proto's connections (SIPD_PROTO_NONE: all), at most limit. */
json_t *tcp_conns_list(enum sipd_proto proto, size_t limit);

/* Relaxed atomics for fields the rpc reads while the loop writes them. */
#define TCP_LOAD(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define TCP_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

#endif
