/* Internal interfaces of the session_timer module: policy, dialog table, expiry, RPC. */
#ifndef ST_H
#define ST_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <sipd/db.h>
#include <sipd/loop.h>
#include <sipd/msg.h>
#include <sipd/rpc.h>
#include <sipd/stats.h>
#include <sipd/transport.h>

#include "tm_api.h"

/* RFC 4028 4: the smallest Min-SE a UA may use, and the implied one when Min-SE is absent. */
#define ST_RFC_MIN_SE 90

/* ---- policy.c: the pure decision of session_timer_check() ---- */

enum st_mode { ST_MODE_OFF = 0, ST_MODE_SUPPORTED, ST_MODE_REQUIRED };

struct st_policy {
	enum st_mode mode;
	uint32_t min_se;          /* our minimum interval (s) */
	uint32_t session_expires; /* inserted when the UAC supports timers but asked for none */
	uint32_t max_se;          /* larger requests are lowered to this (never below their Min-SE) */
};

/* What a request says about session timers, from its headers. */
struct st_request {
	bool supports_timer; /* "timer" in Supported */
	bool se_present, se_malformed;
	uint32_t se;
	bool min_se_present, min_se_malformed;
	uint32_t min_se;
};

enum st_se_edit {
	ST_SE_KEEP = 0, /* relay Session-Expires as it is (or absent) */
	ST_SE_INSERT,   /* add Session-Expires: se */
	ST_SE_SET,      /* replace its delta with se (keeping refresher) */
};

struct st_decision {
	int status;          /* 0: relay; else 400, 421 or 422 */
	const char *reason;  /* reason phrase of the rejection */
	const char *warning; /* what was wrong (400), NULL otherwise */
	/* 422: the Min-SE to answer with. Relay: the Min-SE the relayed request must carry, 0 to leave it. */
	uint32_t min_se;
	enum st_se_edit se_edit;
	uint32_t se; /* the interval the relayed request asks for; 0 when it asks for none */
};

/* Decides what to do with an INVITE or UPDATE (RFC 4028 8.1). Never fails. */
void st_policy_decide(struct st_decision *out, const struct st_policy *p, const struct st_request *r);
/* Reads the session-timer headers of m into *out (malformed ones are flagged, not errors). */
void st_request_read(struct st_request *out, struct sipd_msg *m);
/*
 * RFC 4028 10: milliseconds after a refresh at which a session of interval
 * seconds is over for the side that does not refresh: interval minus
 * min(32 s, interval / 3).
 */
uint64_t st_expiry_ms(uint32_t interval);
/* "required", "supported", "off" → mode; -1 if unknown. */
int st_mode_parse(const char *name);

/* ---- dialog.c: the table of live sessions ---- */

enum st_party { ST_PARTY_NONE = 0, ST_PARTY_CALLER, ST_PARTY_CALLEE };

struct st_dialog_info;

/* Clock and timers, replaced by fakes in unit tests. */
struct st_sys {
	uint64_t (*now)(void);
	void (*timer_start)(struct sipd_timer *t, struct sipd_loop *l, uint64_t ms);
	bool (*timer_stop)(struct sipd_timer *t);
	/* Ends an expired session (expiry.c); NULL forgets it quietly. */
	void (*expire)(const struct st_dialog_info *d);
};
extern const struct st_sys *st_sys;
extern const struct st_sys st_sys_real;

/* What a new dialog is made of (strings are copied). */
struct st_dialog_info {
	struct sipd_str call_id, caller_tag, callee_tag;
	struct sipd_str caller, callee;                 /* From value of the INVITE, To value of its 2xx */
	struct sipd_str caller_contact, callee_contact; /* their Contact URIs */
	struct sipd_str route_caller,
	    route_callee;                        /* Route header values from us toward each, may be empty */
	struct sipd_dest caller_dst, callee_dst; /* where they sent from (used when there is no Route) */
	uint32_t caller_cseq, callee_cseq;
	uint32_t interval; /* 0: no timer negotiated */
	enum st_party refresher;
};

struct st_dialog;

int st_table_init(unsigned buckets);
/* Drops every dialog and frees the table. */
void st_table_destroy(void);
/*
 * Adds a dialog (or refreshes the one with the same Call-ID and tags).
 * Returns 0, ENOMEM.
 */
int st_dialog_create(const struct st_dialog_info *info);
/* Who refreshes, as a Session-Expires refresher parameter says it: relative to the transaction. */
enum st_ref { ST_REF_NONE = 0, ST_REF_UAC, ST_REF_UAS };

/*
 * A successful refresh (re-INVITE/UPDATE 2xx) of the dialog named by
 * call_id and the request's From and To tags (either party may refresh):
 * new interval (0: untimed), refresher relative to that request, and its
 * CSeq. Returns 0 or ENOENT.
 */
int st_dialog_refresh(struct sipd_str call_id, struct sipd_str from_tag, struct sipd_str to_tag,
		      uint32_t interval, enum st_ref refresher, uint32_t cseq);
/*
 * Ends the (first) dialog of call_id on an administrator's request: unlinks
 * it and sends BYE to both parties from the dialog's loop, as expiry does.
 * Returns 0, ENOENT, or ENOMEM.
 */
int st_dialog_end(struct sipd_str call_id);
/*
 * A dialog loaded from the database at start: expires in expires_in_ms (UINT64_MAX: untimed), started
 * at started_wall (seconds). Not written back. Returns 0, ENOMEM.
 */
int st_dialog_restore(const struct st_dialog_info *info, uint64_t expires_in_ms, uint64_t started_wall);
/* The bytes the strings of info take, and a copy of info whose strings go to strings[that many]. */
size_t st_info_strings_len(const struct st_dialog_info *info);
void st_info_copy(struct st_dialog_info *out, const struct st_dialog_info *info, char *strings);
/* Removes a dialog (BYE, failed refresh). 0 or ENOENT. */
int st_dialog_remove(struct sipd_str call_id, struct sipd_str tag1, struct sipd_str tag2);
/* Drops a dialog that another node holds now: no row change, no BYE. 0 or ENOENT. */
int st_dialog_forget(struct sipd_str call_id, struct sipd_str tag1, struct sipd_str tag2);
/* Live dialogs, and the heap bytes they hold (the table's buckets not counted). */
uint64_t st_dialog_count(void);
uint64_t st_dialog_bytes(void);
/* Milliseconds until the dialog expires (UINT64_MAX when untimed); ENOENT when gone. */
int st_dialog_expires_in(uint64_t *out, struct sipd_str call_id, struct sipd_str tag1, struct sipd_str tag2);
/* The timer callback (exposed for tests that drive a fake clock). */
void st_dialog_timer_fired(void *arg);
/* Calls fn for each dialog under its bucket lock (RPC listing). */
void st_dialog_foreach(void (*fn)(const struct st_dialog_info *d, uint64_t started_wall,
				  uint64_t expires_in_ms, void *arg),
		       void *arg);

/* ---- persist.c: the st_dialogs table (sessions survive a restart) ---- */
/* Sessions that ran out while sipd was down end this long after start (the transports are up by then). */
#define ST_RESTORE_MIN_MS 500u
/* Migrates and prepares (init); without a database, persistence is off. */
int st_persist_init(void);
/* The columns of a row, in the order st_persist_row reads them. */
#define ST_COLUMNS                                                                                           \
	"call_id, caller_tag, callee_tag, caller, callee, caller_contact, callee_contact, route_caller, "    \
	"route_callee, caller_proto, caller_ip, caller_port, callee_proto, callee_ip, callee_port, "         \
	"caller_cseq, callee_cseq, interval_s, refresher, expires_ms, started"
/*
 * Start, once tm is there for the BYEs: adopts the rows no live node holds and loads this node's own
 * sessions into the table.
 */
int st_persist_load(void);
/* Queues the write of a dialog's row (save, naming this node) or its removal; never blocks. */
void st_persist(const struct st_dialog_info *info, bool save, uint64_t expires_in_ms, uint64_t started_wall);
/*
 * A dialog ran out on this node: its row goes and st_sys->expire runs (on this loop) unless the row names
 * another node, which took it over and ends it itself. Without a database, expires at once.
 */
void st_persist_expire(const struct st_dialog_info *info);
/* The current row of s (ST_COLUMNS) as a dialog (slices valid until the next step) and its two times. */
void st_persist_row(struct sipd_db_stmt *s, struct st_dialog_info *i, int64_t *expires_ms, int64_t *started);
/* Milliseconds from now_ms to a stored expiry (UINT64_MAX: untimed; at least ST_RESTORE_MIN_MS). */
uint64_t st_restore_in(int64_t expires_ms, int64_t now_ms);
int64_t st_wall_ms(void);
/* The node whose row has call_id, into node[size] (control thread): 0, ENOENT, ENODEV (not persisted). */
int st_persist_holder(struct sipd_str call_id, char *node, size_t size);
/* Adds {node: rows} of every node to counts (control thread); ENODEV when sessions are not persisted. */
int st_persist_count(json_t *counts);
/*
 * Appends to list the sessions other nodes hold (rows naming another node, read from the shared
 * database on the control thread), each with its node and "local": false; call-ids that are keys of
 * skip are left out. 0, ENODEV (the database is not shared), EIO, ENOMEM.
 */
int st_persist_others(json_t *list, json_t *skip);

/* ---- takeover.c: the sessions of dead nodes (shared database only) ---- */
/* True when nodes share the database (PostgreSQL): sessions move between them. */
bool st_shared(void);
/* How often a node looks for dead nodes' sessions. */
#define ST_TAKEOVER_EVERY_MS 1000u
/* Listens for sessions that moved to another node (init; PostgreSQL only). */
int st_takeover_init(void);
/* Starts the periodic claim on loop 0 (PostgreSQL only); stopped by st_takeover_stop. */
int st_takeover_start(void);
void st_takeover_stop(void);
/*
 * A refresh (2xx) this node relayed for a session it does not hold: when another node holds it in the
 * database, it moves here (the refreshes pass here now) and takes the refresh. Only with a shared database.
 */
void st_takeover_refresh(struct sipd_str call_id, struct sipd_str from_tag, struct sipd_str to_tag,
			 uint32_t interval, enum st_ref ref, uint32_t cseq);

/* ---- response.c: what tm forwards upstream ---- */
void st_on_response(void *arg, struct sipd_msg *req, struct sipd_msg *resp, int status);

/* ---- expiry.c ---- */
/* Sends BYE to both parties of an expired dialog with tm (RFC 4028 10), when expiry = "bye". */
void st_expire_bye(const struct st_dialog_info *d);
/* Sends BYE to both parties whatever expiry says, with a Reason header value (sessions.end). */
void st_send_byes(const struct st_dialog_info *d, const char *reason);

/* ---- events.c ---- */
/* A session as listed by sessions and sent with session.started. */
json_t *st_session_json(const struct st_dialog_info *d, uint64_t started_wall, uint64_t expires_in_ms);
/* Publish the session events (nothing is built when nobody listens). */
void st_event_started(const struct st_dialog_info *d, uint64_t started_wall, uint64_t expires_in_ms);
void st_event_refreshed(const struct st_dialog_info *d, uint64_t expires_in_ms);
void st_event_ended(struct sipd_str call_id, const char *reason);

/* ---- rpc.c ---- */
extern const struct sipd_rpc_method st_rpc_methods[];

/* ---- session_timer.c: configuration and shared state ---- */
extern struct st_policy st_policy;
/* expiry = "bye" (true) or "forget" (false). */
extern bool st_expiry_bye;
/* untimed_lifetime: seconds an untimed session is kept without a refresh or a BYE; 0 until its BYE. */
extern uint32_t st_untimed_lifetime;
extern const struct tm_api *st_tm;

struct st_stats {
	struct sipd_stat *active, *created, *refreshed, *expired, *ended, *refresh_failed, *untracked,
	    *rej_400, *rej_421, *rej_422, *byes_sent, *bye_failures, *inserted, *lowered, *untimed_dropped;
};
extern struct st_stats st_st;

#endif
