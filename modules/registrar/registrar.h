/* Internal interfaces of the registrar: bindings, the RFC 3261 10.3 rules, the table, storage. */
#ifndef REGISTRAR_H
#define REGISTRAR_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include <sipd/db.h>
#include <sipd/msg.h>
#include <sipd/rpc.h>
#include <sipd/script.h>
#include <sipd/str.h>
#include <sipd/transport.h>

/* One binding: a contact of an address-of-record. */
struct reg_contact {
	char *uri;  /* Contact URI */
	char *path; /* Path header values (RFC 3327) joined with ",", or NULL */
	char *call_id;
	char *user_agent; /* or NULL */
	uint32_t cseq;
	int q;                 /* q * 1000; -1 when the Contact gave none */
	int64_t expires;       /* absolute, wall-clock seconds */
	int64_t updated;       /* when it was last registered (orders equal q values) */
	enum sipd_proto proto; /* where the REGISTER came from */
	union sipd_sockaddr src;
	uint64_t conn_id; /* stream connection it came over (0 for UDP, and after a restart) */
	/* Another node that took the REGISTER (sharing the database), and its SIP URI; NULL: this node. */
	char *node, *node_uri;
	struct reg_contact *next;
};

struct reg_aor {
	char *aor;
	struct reg_contact *contacts;
	unsigned count;
	struct reg_aor *next;
};

/* ---- rules.c: RFC 3261 10.3 steps 6-8, on plain data so each rule is testable ---- */
struct reg_new_contact {
	struct sipd_str uri;
	long expires; /* the Contact's expires parameter, -1 when absent */
	int q;        /* -1 when absent */
};

struct reg_request {
	bool star;        /* Contact: * */
	long expires_hdr; /* Expires header, -1 when absent */
	const struct reg_new_contact *contacts;
	unsigned n;
	struct sipd_str call_id, path, user_agent;
	uint32_t cseq;
	enum sipd_proto proto;
	union sipd_sockaddr src;
	uint64_t conn_id;
	int64_t now;
};

struct reg_config {
	int default_expires, min_expires, max_expires, max_contacts;
	/* RFC 3261 19.1.4 comparison of two contact URIs; NULL compares the text. */
	bool (*uri_equal)(struct sipd_str a, struct sipd_str b);
};

struct reg_verdict {
	int code;           /* 200, or the error to answer */
	const char *reason; /* for errors */
	int min_expires;    /* for 423 */
	bool changed;       /* the bindings changed (something to write) */
};

/*
 * Applies the REGISTER r to the bindings of aor (all or nothing): on an
 * error v->code says which and aor is untouched. Expired bindings are
 * dropped first. Returns 0, or ENOMEM (the set may then be partly updated).
 */
int reg_rules_apply(struct reg_aor *aor, const struct reg_request *r, const struct reg_config *cfg,
		    struct reg_verdict *v);
void reg_contact_free(struct reg_contact *c);
/*
 * Bindings dropped from memory by the expiry timer, to be deleted from the
 * database by key: "aor" NUL "contact" per entry. When a key could not be
 * kept (out of memory), lost is set and the whole table is swept instead.
 */
struct reg_expired {
	char **keys;
	unsigned n, cap;
	bool lost;
};
void reg_expired_free(struct reg_expired *e);
/* Drops bindings whose expiry is at or before now, noting their keys in gone when given; returns how many. */
unsigned reg_aor_expire(struct reg_aor *aor, int64_t now, struct reg_expired *gone);

/* ---- table.c: AOR records in a hash with per-bucket locks ---- */
extern struct reg_config reg_cfg;
extern bool reg_use_domain, reg_nat_received;
extern int reg_timer_interval;
extern int reg_max_pending;

int reg_table_init(unsigned buckets);
void reg_table_fini(void);
/*
 * Locks the bucket of aor and returns its record (created when create is
 * true; NULL when absent or out of memory). reg_table_unlock(aor) after.
 */
struct reg_aor *reg_table_lock(const char *aor, bool create);
void reg_table_unlock(const char *aor);
/* Calls fn on every record, each bucket locked while its records are visited. */
void reg_table_each(void (*fn)(struct reg_aor *a, void *arg), void *arg);
/* Removes expired bindings everywhere, noting their keys in gone; returns how many went. */
unsigned reg_table_expire(int64_t now, struct reg_expired *gone);
/* The key of the AOR a URI names: "user" or "user@host" (use_domain), in buf. EINVAL without a user. */
int reg_aor_key(char *buf, size_t size, const struct sipd_uri *uri);
/* True if the URI's host is one of ours (on any of our ports). */
bool reg_domain_is_ours(const struct sipd_uri *uri);
/* Bindings in memory (gauge). */
extern struct sipd_stat *reg_st_bindings;

/* ---- store.c: the contacts table ---- */
int reg_store_init(void);
/* Loads unexpired bindings into the table (start-up). */
int reg_store_load(int64_t now);
/* One durable write: the whole binding set of an AOR after a REGISTER. */
struct reg_row {
	char *uri, *path, *call_id, *user_agent, *received;
	uint32_t cseq;
	int q;
	int64_t expires, updated;
	uint64_t conn_id;
};
struct reg_snapshot {
	char *aor;
	struct reg_row *rows; /* the bindings this REGISTER created or refreshed */
	unsigned n;
	char **removed; /* contact URIs it removed (or that had expired) */
	unsigned n_removed;
	bool write;       /* false: nothing changed, the job only waits for earlier commits */
	unsigned reloads; /* reg_store_reloads(aor) when taken */
};
/*
 * The rows to write after r was applied to aor: r's contacts as they are
 * now, and the URIs of before[0..n_before-1] that are gone. Writes touch only
 * these rows, so bindings other nodes made meanwhile are kept.
 */
int reg_snapshot_take(struct reg_snapshot *out, const struct reg_aor *aor, bool write,
		      const struct reg_request *r, char *const *before, unsigned n_before);
void reg_snapshot_free(struct reg_snapshot *s);
int reg_store_write(const struct reg_snapshot *s); /* on the DB thread */
/* Deletes one binding (RPC, lock held). */
int reg_store_delete_one(const char *aor, const char *contact);
/*
 * Replaces the bindings of aor in memory with the database's (DB thread or
 * control thread, inside a transaction): another node changed them.
 */
int reg_store_reload_aor(const char *aor);
/*
 * The same for keys[0..n-1] (duplicates allowed; sorted in place), in one
 * statement per few hundred AORs outside any transaction (DB thread,
 * PostgreSQL only).
 */
int reg_store_reload_aors(const char **keys, unsigned n);
/*
 * How many times aor's bindings were replaced from the database (a counter
 * shared by the AORs of one hash slot). A write whose AOR was not replaced
 * since its snapshot finds memory as the snapshot left it, plus later
 * REGISTERs: it need not read the AOR back.
 */
unsigned reg_store_reloads(const char *aor);
/* On the DB thread: the rows of gone's keys still expired at now (all expired rows when keys were lost). */
int reg_store_delete_expired(const struct reg_expired *gone, int64_t now);

/* ---- cluster.c: bindings shared by the nodes of one database ---- */
/* Listens for other nodes' changes (init, after reg_store_init). */
int reg_cluster_init(void);
/* resync.c: every AOR read again when the database connection comes back (shared database only). */
int reg_resync_init(void);
/* Tells the other nodes that aor changed (inside the write's transaction). */
int reg_cluster_changed(const char *aor);
/* True while a server database is shared by nodes: other nodes' changes are read on notification. */
bool reg_cluster_shared(void);
/*
 * The Route value that reaches contact c through the node holding its
 * connection ("<sip:node;lr;sipd-flow=...>", in m's arena), or an empty
 * string when c is reached directly.
 */
struct sipd_str reg_cluster_hop(struct sipd_msg *m, const struct reg_contact *c);

/* ---- events.c: registration.added/removed (sipd/event.h) ---- */
/* The contact URIs of aor before a change, or NULL when nobody listens for events. */
json_t *reg_events_before(const struct reg_aor *aor);
/*
 * The events of a REGISTER (identified by cseq and call_id) that turned the
 * bindings before into aor's: an array of [type, data]; NULL when before is NULL.
 */
json_t *reg_events_diff(json_t *before, const struct reg_aor *aor, int64_t now, uint32_t cseq,
			const char *call_id);
/* One [type, data] pair for a binding that went. */
json_t *reg_event_removed(const char *aor, const char *contact, const char *reason);
/* Publishes every [type, data] pair of events (NULL is fine) and frees the array. */
void reg_events_publish(json_t *events);

/* ---- save.c / lookup.c / rpc.c ---- */
int reg_save_init(void);
int reg_lookup_init(void);
extern const struct sipd_script_fn reg_functions[];
enum sipd_result reg_save(struct sipd_ctx *ctx, const union sipd_arg *args);
enum sipd_result reg_lookup(struct sipd_ctx *ctx, const union sipd_arg *args);
extern const struct sipd_rpc_method reg_rpc_methods[];
/* The auth_db service when loaded (user existence for 404 vs 480), else NULL. */
extern const struct auth_db_api *reg_auth;
extern const struct ws_api *reg_ws; /* NULL without the ws module */
extern const struct sipd_parser_api *reg_parser;

#endif
