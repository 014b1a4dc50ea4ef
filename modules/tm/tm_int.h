/* Internal structures of the tm module: cells (one server transaction and its client branches), timers,
 * table. */
#ifndef TM_INT_H
#define TM_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sipd/branch.h>
#include <sipd/loop.h>
#include <sipd/msg.h>
#include <sipd/rpc.h>
#include <sipd/script.h>
#include <sipd/stats.h>
#include <sipd/transport.h>

#include "tm_api.h"

/* Our branch parameters: the RFC 3261 magic cookie, then "sd" so we recognise our own. */
#define TM_BRANCH_PREFIX "z9hG4bKsd"
#define TM_MAX_UAC       (SIPD_MAX_BRANCHES * 2)
/* Next-hop addresses one lookup gives (RFC 3263 4.3: tried in turn on a transport error or 503). */
#define TM_MAX_TARGETS 8

enum tm_state {
	TM_TRYING = 0,
	TM_CALLING,
	TM_PROCEEDING,
	TM_COMPLETED,
	TM_CONFIRMED,
	TM_ACCEPTED, /* RFC 6026: a 2xx went by; later 2xx still pass */
	TM_TERMINATED,
	TM_STATE_COUNT
};
const char *tm_state_name(enum tm_state s);

/* Clock, timers and the network, replaced by fakes in unit tests. */
struct tm_sys {
	uint64_t (*now)(void);
	void (*timer_start)(struct sipd_timer *t, uint64_t ms);
	bool (*timer_stop)(struct sipd_timer *t);
	int (*send)(const struct sipd_dest *d, const char *buf, size_t len);
	/* Runs a route of the script; NULL in unit tests without a script. */
	enum sipd_result (*run_route)(struct sipd_ctx *ctx, int route);
};
extern const struct tm_sys *tm_sys;
extern const struct tm_sys tm_sys_real;

/* Module parameters (milliseconds). */
struct tm_cfg {
	int t1, t2, t4, timer_c, buckets;
	const char *dns_servers; /* "ip[:port],..." for c-ares; NULL or "" for the system's */
};
extern struct tm_cfg tm_cfg;
extern const struct sipd_parser_api *tm_parser;

struct tm_cell;

enum tm_timer_kind {
	TM_TMR_RETR,    /* A, E (client), G (server) */
	TM_TMR_TIMEOUT, /* B, F (client), H, J, I, L (server) */
	TM_TMR_WAIT,    /* D, K, M (client), on the client's timeout timer once B/F are over */
	TM_TMR_C,       /* proxy Timer C (client INVITE) */
};

struct tm_timer {
	struct sipd_timer t;
	struct tm_cell *cell;
	void *owner; /* the tm_uas or tm_uac */
	uint8_t kind;
	bool armed;
	uint64_t due;
};

/* The server side of a cell (RFC 3261 17.2). */
struct tm_uas {
	struct sipd_msg *req; /* a clone of the request, with the script's edits */
	struct sipd_dest resp_dst;
	enum tm_state state;
	bool invite, reliable;
	int status; /* last status sent, 0 before any */
	char *resp; /* the last response sent, resent on retransmissions */
	size_t resp_len;
	unsigned retr_ms;
	struct tm_timer retr, timeout;
	/* matching (17.2.3): branch and sent-by of the top Via, or the RFC 2543 fields */
	bool rfc2543;
	struct sipd_str branch, sent_host;
	uint16_t sent_port;
	enum sipd_method method_id;
	struct sipd_str method;
	/* Once compacted (compact.c): req is gone, branch, sent_host and method point here (malloc). */
	char *key;
};

/* One client transaction (RFC 3261 17.1), a proxy branch or a request of the C API. */
struct tm_uac {
	struct tm_cell *cell;
	unsigned idx;
	enum tm_state state;
	bool invite, reliable, is_cancel;
	char branch[40]; /* "z9hG4bKsd" loop.bucket.label.idx: at most 37 */
	char *req;       /* the request as sent (malloc); after a non-2xx final of an INVITE, its ACK */
	size_t req_len;
	struct sipd_dest dst;
	unsigned retr_ms;
	struct tm_timer retr, timeout, timer_c;
	int status;             /* highest status received (or generated locally), 0 none */
	struct sipd_msg *final; /* the final response kept for selection (proxy), NULL when local */
	bool local_final;       /* status was generated here (408, 503, 480) */
	bool cancel_wanted;     /* CANCEL once a provisional arrives (9.1) */
	struct tm_uac *cancel;  /* the CANCEL client transaction for this branch */
	bool resolving;         /* waiting for the resolver */
	struct sipd_msg *tmpl;  /* the request for this branch, until it is sent (after resolving) */
	bool timed_out;         /* Timer C fired: the branch counts as 408 whatever it answers (16.8) */
	char *uri;       /* target URI (Request-URI of this branch), NUL-terminated; NULL once compacted */
	char *tls_name;  /* the next hop's host name, for TLS (SNI, certificate check); NULL for an IP */
	bool req_is_ack; /* req now holds the ACK of the non-2xx final (17.1.1.3) */
	struct sipd_dest *alt; /* the lookup's further targets (malloc), tried on a transport error or 503 */
	unsigned nalt;
	bool replaced; /* failed over to a later branch: it no longer counts in the answer */
};

struct tm_cell {
	struct tm_cell *next, *prev; /* bucket list, under the bucket lock */
	unsigned bucket;
	uint32_t label;
	uint32_t key_hash;
	int refs; /* atomic */
	bool linked;
	pthread_mutex_t lock;

	bool has_uas, proxy;
	struct tm_uas uas;
	unsigned nuac, uac_cap;
	struct tm_uac **uac; /* malloc, grown as branches are added (most cells have one) */

	/* proxy state (16.7) */
	bool forwarded_2xx, final_sent, cancelled, relaying;
	const struct sipd_listen *rr_listen; /* record_route() was called for a request that came on it */
	int on_failure, on_reply;            /* route ids, -1 none */
	bool failure_ran;
	uint32_t loop_hash;

	/* C API */
	const struct tm_callbacks *cb;
	void *cb_arg;
	bool cb_done;

	/* Script routes running on this cell without its lock; the final answer waits for them. */
	unsigned routes_running;
	bool final_deferred;
};

/* ---- outbox.c ---- */
/* A cell's lock, counted per thread: sends made with tm_send() while any is held wait for the last unlock. */
void tm_cell_lock(struct tm_cell *c);
void tm_cell_unlock(struct tm_cell *c);
/*
 * Sends now, or after the calling thread's last cell unlock when it holds
 * one (buf copied); 0 then, whatever the transport says later. For sends
 * whose error nobody acts on: responses, retransmissions, ACKs.
 */
int tm_send(const struct sipd_dest *d, const char *buf, size_t len);
/* Sends what this thread queued with tm_send() now, even under a cell lock (an INVITE's 100 Trying). */
void tm_send_queued(void);

/* ---- table.c ---- */
int tm_table_init(unsigned buckets);
/* At shutdown, with no loop running: ends every cell (timers stopped, unlinked), then frees the table. */
void tm_table_destroy(void);
/* A new cell with one reference held by the caller (not yet in the table). */
int tm_cell_new(struct tm_cell **out);
void tm_cell_ref(struct tm_cell *c);
void tm_cell_unref(struct tm_cell *c);
typedef bool (*tm_cell_pred)(struct tm_cell *c, void *arg);
/*
 * Links c into the table under key_hash (its bucket); the table holds a
 * reference. When pred accepts a cell already there, c is not linked and
 * that cell is returned referenced; NULL when c was linked.
 */
struct tm_cell *tm_cell_link(struct tm_cell *c, uint32_t key_hash, tm_cell_pred pred, void *arg);
/* Unlinks c (idempotent); drops the table's reference. */
void tm_cell_unlink(struct tm_cell *c);
/* Finds a cell by bucket and label (from our branch), referenced; NULL if none. */
struct tm_cell *tm_cell_by_label(unsigned bucket, uint32_t label);
/* The first cell of key_hash's bucket that pred accepts (called with the bucket locked), referenced. */
struct tm_cell *tm_cell_find(uint32_t key_hash, tm_cell_pred pred, void *arg);
/*
 * Locks the bucket of the linked cell c (the cell lock may be held: cell
 * before bucket): tm_cell_find() reads a cell's matching key under it.
 */
void tm_bucket_lock(const struct tm_cell *c);
void tm_bucket_unlock(const struct tm_cell *c);
/* Calls fn on every cell (referenced, unlocked), for transport errors and shutdown. */
void tm_cell_foreach(void (*fn)(struct tm_cell *c, void *arg), void *arg);
uint32_t tm_hash(struct sipd_str s, uint32_t seed);
uint64_t tm_cell_count(void);

/* ---- timer.c ---- */
void tm_timer_init(struct tm_timer *t, struct tm_cell *c, void *owner, uint8_t kind);
/* Both with the cell locked. */
void tm_timer_arm(struct tm_timer *t, uint64_t ms);
void tm_timer_disarm(struct tm_timer *t);

/* ---- uas.c ---- */
/* Creates the server transaction of ctx's request in a new linked cell (locked on return). */
int tm_uas_create(struct tm_cell **out, struct sipd_ctx *ctx);
/* Sends a response on the locked cell's server transaction; buf copied. */
int tm_uas_send(struct tm_cell *c, int status, const char *buf, size_t len);
/* Builds and sends a response from the stored request (ctype/body may be NULL). */
int tm_uas_reply(struct tm_cell *c, int status, const char *reason, const char *extra, const char *ctype,
		 const char *body);
/* A retransmission or an ACK matched this cell (locked): true when absorbed. */
bool tm_uas_on_request(struct tm_cell *c, struct sipd_msg *m);
void tm_uas_timer(struct tm_timer *t);
/* True when the cell's server transaction is over and nothing else keeps it. */
bool tm_cell_done(struct tm_cell *c);
/* Stops every timer of the locked cell, dropping the references they held. */
void tm_cell_disarm(struct tm_cell *c);
/* Unlinks the cell when done, else compacts it once its answer is final (locked). */
void tm_cell_check_done(struct tm_cell *c);

/* ---- compact.c ---- */
/*
 * Once the locked cell's final answer went and no branch is pending, drops
 * what absorbing retransmissions does not need: the cloned request (its
 * matching key is copied), the branches' requests, responses and URIs, the
 * last response when nothing resends it (Accepted, Confirmed). Idempotent.
 */
void tm_cell_compact(struct tm_cell *c);
/* A branch that still waits for a final response (or for the resolver, or its CANCEL does). */
bool tm_uac_busy(const struct tm_uac *u);

/* ---- match.c ---- */
/*
 * The server transaction a request belongs to (17.2.3, with the RFC 2543
 * rules), referenced. ACK matches its INVITE; a CANCEL matches its own
 * transaction, or with for_invite the INVITE it cancels.
 */
struct tm_cell *tm_match_request(struct sipd_msg *m, bool for_invite);
/* Links a new server cell for m unless one exists (then returned referenced; see tm_cell_link). */
struct tm_cell *tm_match_link(struct tm_cell *c, struct sipd_msg *m);
/* The table predicate: cell c holds the server transaction of request arg. */
bool tm_match_pred(struct tm_cell *c, void *arg);
/* The client transaction a response belongs to (17.1.3), referenced cell and its uac. */
struct tm_cell *tm_match_response(struct sipd_msg *m, struct tm_uac **uac);
/* The key hash of a request's server transaction. */
int tm_request_key(struct sipd_msg *m, uint32_t *hash, bool *rfc2543, struct sipd_str *branch,
		   struct sipd_str *host, uint16_t *port);

/* ---- uac.c ---- */
/* Adds a client transaction for buf to the locked cell and sends it (dst resolved). */
int tm_uac_add(struct tm_uac **out, struct tm_cell *c, bool invite, const char *uri);
int tm_uac_start(struct tm_uac *u);
void tm_uac_on_response(struct tm_uac *u, struct sipd_msg *resp);
void tm_uac_timer(struct tm_timer *t);
/* Fails the branch with a locally generated status (408, 503, 480). */
void tm_uac_fail(struct tm_uac *u, int status);
/*
 * RFC 3263 4.3: after a transport error or a 503, the same request goes to
 * the lookup's next target as a new branch (relay.c); true when one was
 * started, and u then no longer counts (replaced).
 */
bool tm_uac_failover(struct tm_uac *u);
/* Sends (or schedules) a CANCEL on an INVITE branch (9.1). */
void tm_uac_cancel(struct tm_uac *u);
void tm_uac_free(struct tm_uac *u);
/* Stops the branch's timers (cell locked), dropping the references they held. */
void tm_uac_disarm(struct tm_uac *u);
/* Builds the branch value of uac idx of cell c into buf. */
void tm_branch_make(char *buf, size_t size, const struct tm_cell *c, unsigned idx);
/* Parses one of our branches; false if it is not ours. */
bool tm_branch_parse(struct sipd_str b, unsigned *bucket, uint32_t *label, unsigned *idx, uint32_t *loop);

/* ---- proxy.c ---- */
/* Forwarding rules of 16.7 for a response of branch u (cell locked); resp NULL for a local final status. */
void tm_proxy_on_response(struct tm_uac *u, struct sipd_msg *resp);
/* Relays ctx's request to its branches; ctx->owner is the cell in failure routes. */
enum sipd_result tm_proxy_relay(struct sipd_ctx *ctx);
/* Sends the best final response once no branch is pending (after a relay loop). */
void tm_proxy_check_final(struct tm_cell *c);
/* t_on_failure/t_on_reply: for the cell in failure routes, else for the coming relay() of ctx's message (-1:
 * unchanged). */
void tm_routes_set(struct sipd_ctx *ctx, int on_failure, int on_reply);
/* record_route() ran: relay() adds the outbound Record-Route when the sockets differ. */
void tm_rr_mark(struct sipd_ctx *ctx);
/* Registers a response hook (tm_api.response_hook_add). */
int tm_proxy_hook_add(tm_response_hook_fn fn, void *arg);
/* 16.10: CANCEL matched cell c. */
void tm_proxy_cancel(struct tm_cell *c);
/* RFC 3261 16.3 step 4: 482 when the request loops. */
bool tm_proxy_loops(struct sipd_msg *m, uint32_t *hash);

/* ---- dest.c ---- */
/* Next hop for a target: dst_uri if set, else uri (16.6 step 6/7: the first Route is applied by the caller).
 */
/*
 * True if the URI's host is a .invalid name (RFC 6761 6.4), as WebSocket
 * clients put in their Contact (RFC 7118 5): reachable only over their flow.
 */
bool tm_uri_invalid_host(struct sipd_str uri);
int tm_dest_from_uri(struct sipd_dest *out, struct sipd_str uri, bool *need_dns);
/* The host name a TLS connection to uri must present a certificate for (RFC 5922 4), or NULL for an IP
 * (malloc). */
char *tm_uri_tls_name(struct sipd_str uri);

/* An IPv4 or IPv6 literal (without brackets) into out (port 0). */
bool tm_ip_literal(struct sipd_str host, union sipd_sockaddr *out);
/* A listen socket of proto, preferring the address family. */
const struct sipd_listen *tm_listen_for(enum sipd_proto proto, int family);
/* Parses uri and gives its transport and port (RFC 3263 4.1/4.2 defaults). */
int tm_uri_target(struct sipd_uri *u, struct sipd_str uri, enum sipd_proto *proto, uint16_t *port);
/* Our address toward d (for Via, Record-Route). */
int tm_local_addr(const struct sipd_dest *d, char *host, size_t size, uint16_t *port);
void tm_hostport(char *buf, size_t size, const char *host, uint16_t port);

/* ---- resolve.c ---- */
/* d: the targets in the order to try them (n >= 1), NULL on error. */
typedef void (*tm_resolve_fn)(void *arg, int err, const struct sipd_dest *d, unsigned n);
/* Checks a dns_servers value ("ip[:port][,ip[:port]...]", IPv6 as [addr]:port); logs the bad entry. */
int tm_dns_servers_check(const char *csv);
int tm_resolver_start(void);
void tm_resolver_stop(void);
/*
 * RFC 3263: resolves a SIP URI's host; calls fn on loop (sipd_loop_post). 0 or
 * errno; fn gets ENOENT when the name has no usable record, ETIMEDOUT when no
 * DNS server answered, EHOSTUNREACH when the servers failed otherwise.
 */
int tm_resolve(struct sipd_str uri, struct sipd_loop *loop, tm_resolve_fn fn, void *arg);
/* RFC 2782: the record to use of an SRV answer (lowest priority, random by weight); NULL if none is usable.
 */
struct ares_srv_reply;
struct ares_srv_reply *tm_srv_pick(struct ares_srv_reply *r);
/* RFC 2782's order of a whole SRV answer: up to max usable records into out; r is left as it was. */
unsigned tm_srv_order(struct ares_srv_reply **out, unsigned max, struct ares_srv_reply *r);
/* The status a branch fails with when tm_resolve() gave err (relay.c). */
int tm_resolve_status(int err);

/* ---- hdr.c: small header helpers ---- */
/* Splits a header value at its first top-level comma: first element, and the rest (empty if none). */
void tm_hdr_split(struct sipd_str v, struct sipd_str *first, struct sipd_str *rest);
/* Removes the top Via (first via-parm) of m. */
int tm_via_pop(struct sipd_msg *m);
/* Prepends "value" to header type t (a new header when absent). */
int tm_hdr_prepend(struct sipd_msg *m, struct sipd_hdr *first, struct sipd_str name, struct sipd_str value);
/* Adds the Content-Length a message sent over TCP or TLS must carry when it came without one (from UDP). */
int tm_hdr_frame(struct sipd_msg *m, enum sipd_proto proto);
char *tm_strndup(struct sipd_str s);

/* ---- stateless.c ---- */
/* A response no client transaction matched: reply_route, then forwarded per the next Via or dropped. */
bool tm_stateless_response(struct sipd_ctx *ctx);

/* ---- stats ---- */
struct tm_stats {
	struct sipd_stat *current, *total, *by_state[TM_STATE_COUNT], *retrans_sent, *retrans_absorbed,
	    *uac_total, *timeouts, *transport_errors, *cancels, *loops, *stateless_forwarded,
	    *stateless_dropped;
};
extern struct tm_stats tm_st;
int tm_stats_init(void);
extern const struct sipd_rpc_method tm_rpc_methods[];
/* Keeps the per-state gauges right. */
void tm_state_set(enum tm_state *field, enum tm_state to);

/* ---- rr.c ---- */
/* conn_id names the connection to peer on a ws/wss listener (a flow token in the user part); 0 otherwise. */
int tm_rr_value(struct sipd_msg *m, const struct sipd_listen *l, const union sipd_sockaddr *peer,
		uint64_t conn_id, struct sipd_str *out);
enum sipd_result tm_record_route(struct sipd_ctx *ctx);
enum sipd_result tm_loose_route(struct sipd_ctx *ctx);

/* ---- flow.c: flow tokens naming WebSocket connections in Record-Route (RFC 7118 5) ---- */
int tm_flow_init(void);
/* True for transports whose peers cannot be reached but over their own connection (ws, wss). */
bool tm_flow_proto(enum sipd_proto p);
/* The token for d (proto, conn_id, address) as lower-case hex in buf. EINVAL if d is no ws flow. */
int tm_flow_encode(char *buf, size_t size, const struct sipd_dest *d);
/* The destination a token names; EINVAL if malformed, EBADMSG if not made by this process. */
int tm_flow_decode(struct sipd_dest *out, struct sipd_str user);

/* ---- script.c ---- */
extern const struct sipd_script_fn tm_functions[];

/* Sends request m (unedited, without our Via) on the locked local cell c; dst NULL: from Route/RURI. */
int tm_request_send(struct tm_cell *c, struct sipd_msg *m, const struct sipd_dest *dst);

/* ---- api.c ---- */
extern const struct tm_api tm_api_table;
/* Runs the C API callbacks of a finished local request (cell locked; unlocks and relocks). */
void tm_api_deliver(struct tm_cell *c, struct tm_uac *u, struct sipd_msg *resp, int status);

/* ---- transport errors ---- */
void tm_on_transport_error(const struct sipd_dest *dst, int err);
/* The synchronous part: fails every client transaction toward dst. */
void tm_fail_dest(const struct sipd_dest *dst, int err);

#endif
