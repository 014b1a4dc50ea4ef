/* Transports: listen addresses, receive info, sending, and the receive entry point. */
#ifndef SIPD_TRANSPORT_H
#define SIPD_TRANSPORT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sipd/api.h>
#include <sipd/str.h>

enum sipd_proto {
	SIPD_PROTO_NONE = 0,
	SIPD_PROTO_UDP,
	SIPD_PROTO_TCP,
	SIPD_PROTO_TLS,
	SIPD_PROTO_WS,
	SIPD_PROTO_WSS,
};

union sipd_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* One entry of core.listen ("udp:127.0.0.1:5060", "tcp:[::1]:5060"). */
struct sipd_listen {
	enum sipd_proto proto;
	union sipd_sockaddr addr;
	char host[64]; /* as written: "127.0.0.1", "::1" (no brackets), "0.0.0.0" */
	uint16_t port;
	int fd; /* set by the transport that serves it; -1 before */
};

SIPD_API unsigned sipd_listen_count(void);
SIPD_API const struct sipd_listen *sipd_listen_get(unsigned idx);
/* The transport module fills fd when it opens the socket. */
SIPD_API void sipd_listen_set_fd(unsigned idx, int fd);

/* Where a message came from. */
struct sipd_rcvinfo {
	enum sipd_proto proto;
	union sipd_sockaddr src;
	const struct sipd_listen *listen; /* the local socket it arrived on */
	uint64_t conn_id;                 /* connection for TCP/TLS/WS; 0 for UDP */
	uint64_t time_ms;                 /* sipd_now_ms() at receipt */
};

/* Where to send. conn_id != 0 asks for that connection (reused if still open). */
struct sipd_dest {
	enum sipd_proto proto;
	union sipd_sockaddr addr;
	const struct sipd_listen *from; /* local socket to send from; NULL: the transport picks */
	uint64_t conn_id;
	/*
	 * The host name the destination was resolved from (NULL for an IP
	 * literal). TLS sends it as SNI and checks the server certificate
	 * against it. Borrowed for the duration of the send call only.
	 * Since ABI 1.1.
	 */
	const char *server_name;
};

/* A transport registers its send function for its protocol (from init). */
struct sipd_transport {
	enum sipd_proto proto;
	const char *name;
	/* Sends one whole message. Returns 0 or an errno (ECONNREFUSED, EMSGSIZE, ...). */
	int (*send)(const struct sipd_dest *dst, const char *buf, size_t len);
};

SIPD_API int sipd_transport_register(const struct sipd_transport *t);
/* Sends via the transport registered for dst->proto; ENOTSUP if none. */
SIPD_API int sipd_send(const struct sipd_dest *dst, const char *buf, size_t len);

/*
 * Since ABI 1.3. A transport that can send what a worker loop produced in
 * one round together (udp: one sendmmsg instead of a sendto per datagram)
 * registers this as well, from init. queue takes a copy of the message on
 * the calling worker and returns 0 (or an errno it knows at once); a send
 * error at the flush is counted in the transport's stats, not returned.
 * flush sends what the calling worker queued; the core calls it at the end
 * of every round of each worker loop. A direct send (send) on a worker
 * sends its queue first, so one thread's messages keep their order.
 */
struct sipd_transport_batch {
	enum sipd_proto proto;
	int (*queue)(const struct sipd_dest *dst, const char *buf, size_t len);
	void (*flush)(void);
};

SIPD_API int sipd_transport_batch_register(const struct sipd_transport_batch *b);
/*
 * Since ABI 1.3. Sends soon: on a worker loop whose transport batches, at
 * the end of the loop's round with the other messages of that round;
 * otherwise at once, as sipd_send. For messages whose sender only counts a
 * failure (stateless replies): a failure at the flush is not returned.
 */
SIPD_API int sipd_send_soon(const struct sipd_dest *dst, const char *buf, size_t len);

/*
 * Transport errors that happen after sipd_send returned (a connect that
 * failed, a reset connection with queued data): the transport reports them
 * and whoever registered (tm) fails its transactions toward dst.
 */
typedef void (*sipd_transport_error_fn)(const struct sipd_dest *dst, int err);
SIPD_API int sipd_transport_on_error(sipd_transport_error_fn fn);
SIPD_API void sipd_transport_error(const struct sipd_dest *dst, int err);

/*
 * The receive entry point: a transport calls it with one complete message
 * (framed for stream transports). buf is only borrowed for the call. The
 * core parses it, runs the routing script for requests, hands replies on.
 */
SIPD_API void sipd_receive(const struct sipd_rcvinfo *ri, const char *buf, size_t len);

/*
 * Since ABI 1.4. The Call-ID value of a message not yet parsed (full or
 * compact name, trimmed; folding not undone), or SIPD_STR_NULL when its
 * header block names none. A transport that hands messages between worker
 * loops uses it to keep the messages of one call in the order they came.
 */
SIPD_API struct sipd_str sipd_raw_call_id(const char *buf, size_t len);

/*
 * The module that owns replies (tm) provides this service from init; the
 * core then hands it every parsed reply instead of running reply_route
 * itself. on_reply returns true when it took the reply (it runs reply_route
 * with sipd_script_run_route when it wants to); false lets the core run
 * reply_route and drop the reply. The message is freed when sipd_receive
 * returns: clone it (ops->clone) to keep it.
 */
struct sipd_ctx;
struct sipd_reply_handler_api {
	bool (*on_reply)(struct sipd_ctx *ctx);
};
#define SIPD_REPLY_HANDLER_SERVICE "reply_handler"
#define SIPD_REPLY_HANDLER_VERSION 1

/*
 * The transaction layer (tm) provides this from init to see every parsed
 * request before request_route: on_request returns true when it took the
 * request (a retransmission, the ACK of its non-2xx answer, a CANCEL it
 * matched), and the script does not run for it.
 */
struct sipd_request_handler_api {
	bool (*on_request)(struct sipd_ctx *ctx);
};
#define SIPD_REQUEST_HANDLER_SERVICE "request_handler"
#define SIPD_REQUEST_HANDLER_VERSION 1

/*
 * A new connection id, unique across every stream transport (tcp, tls, ws)
 * for the life of the process and never 0. Any thread. Since ABI 1.1.
 */
SIPD_API uint64_t sipd_conn_id_next(void);

/* "udp", "tcp", ... and back; SIPD_PROTO_NONE if unknown (case-insensitive). */
SIPD_API const char *sipd_proto_name(enum sipd_proto p);
SIPD_API enum sipd_proto sipd_proto_parse(struct sipd_str name);

/*
 * Since ABI 1.1. A transport and an address as one string: "udp:1.2.3.4:5060",
 * "tcp:[::1]:5061" ("" for an address of no IP family), and back: 0, or
 * EINVAL for anything else (IP literals only, a port from 1 to 65535).
 */
SIPD_API void sipd_peer_format(char *buf, size_t size, enum sipd_proto proto, const union sipd_sockaddr *a);
SIPD_API int sipd_peer_parse(struct sipd_str text, enum sipd_proto *proto, union sipd_sockaddr *a);

/* Formats "1.2.3.4" or "::1" (no port) into buf; returns buf. */
SIPD_API const char *sipd_sockaddr_ip(const union sipd_sockaddr *a, char *buf, size_t size);
SIPD_API uint16_t sipd_sockaddr_port(const union sipd_sockaddr *a);

#endif
