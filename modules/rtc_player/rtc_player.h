/* Internal interfaces of the rtc_player module's SIP side: calls, dialogs, session timers. */
#ifndef RTC_PLAYER_H
#define RTC_PLAYER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sipd/loop.h>
#include <sipd/msg.h>
#include <sipd/rpc.h>
#include <sipd/script.h>
#include <sipd/transport.h>

#include "audio.h"
#include "media.h"
#include "tm_api.h"

/* Settings read from modules.conf at init. */
struct rp_cfg {
	unsigned ring_ms;         /* 180 Ringing before the 200 OK */
	uint32_t session_expires; /* offered when the caller supports timers but asks for none */
	uint32_t min_se;          /* smallest interval we accept (RFC 4028: 90) */
	const char *contact_host; /* host of our Contact; NULL: the listen address or media_host */
	const char *media_host;   /* media_address, else the media bind address */
};

extern struct rp_cfg rp_cfg;
extern const struct tm_api *rp_tm;
extern struct rtc_media_engine *rp_engine;
/* Set once start has loaded the library and the engine runs (RPC refuses work before). */
extern atomic_bool rp_ready;

enum rp_state {
	RP_RINGING = 0, /* 180 sent, 200 due when the ring timer fires */
	RP_ANSWERED,    /* 200 sent, waiting for the ACK (retransmitted over UDP) */
	RP_CONFIRMED,   /* ACK received */
	RP_ENDED,       /* torn down; only references keep it alive */
};

enum rp_refresher { RP_REFRESH_NONE = 0, RP_REFRESH_UAC, RP_REFRESH_UAS };

/*
 * One answered call. Refcounted: the dialog table, each pending timer,
 * each request in flight and each posted media event hold a reference.
 * All fields after the lock are guarded by it.
 */
struct rp_call {
	atomic_uint refs;
	struct rp_call *next; /* dialog table chain */
	char *call_id, *local_tag, *remote_tag;
	char *user;           /* the called user (Request-URI user) */
	char *caller;         /* From URI, for display */
	char *local_hdr;      /* our From value in requests we send: the INVITE's To + our tag */
	char *remote_hdr;     /* their From value as sent (with their tag) */
	char *remote_target;  /* their Contact URI */
	char *route_set;      /* Route header value from Record-Route, NULL when none */
	char *contact;        /* our Contact header line (CRLF-terminated) */
	struct sipd_dest dst; /* where requests go when there is no route set: the caller's transport */
	bool has_dst;
	struct sipd_loop *loop; /* where its timers run */
	uint64_t started_wall;  /* seconds since the epoch */
	enum rtc_media_kind kind;
	enum rtc_media_codec codec;

	pthread_mutex_t lock;
	enum rp_state state;
	struct tm_cell *invite; /* the INVITE's server transaction until the call is answered */
	struct rtc_media_session *media;
	char *answer;        /* our SDP */
	uint32_t local_cseq; /* of requests we send */
	uint32_t remote_cseq;
	uint32_t interval; /* session interval (s), 0: no session timer */
	bool peer_timer;   /* the caller supports RFC 4028 ("timer" in Supported/Require) */
	enum rp_refresher refresher;
	unsigned retr_ms; /* 2xx retransmission interval (Timer G-like, RFC 3261 13.3.1.4) */
	uint64_t answered_ms;
	struct sipd_timer ring, retr, session;
	bool ring_on, retr_on, session_on;
	const char *end_reason;
};

/* ---- call.c: the table, references, timers, teardown ---- */

void rp_calls_shutdown(void);
void rp_call_ref(struct rp_call *c);
void rp_call_unref(struct rp_call *c);
/* Adds c to the table (the table takes a reference). */
void rp_call_link(struct rp_call *c);
/* The call of an in-dialog request (Call-ID + tags), referenced, or NULL. */
struct rp_call *rp_call_find(struct sipd_str call_id, struct sipd_str from_tag, struct sipd_str to_tag);
/* Arms (or re-arms) one of c's timers; lock held. */
void rp_call_timer(struct rp_call *c, struct sipd_timer *t, bool *on, uint64_t ms);
void rp_call_timer_stop(struct rp_call *c, struct sipd_timer *t, bool *on);
/*
 * Ends c: media destroyed, timers stopped, unlinked, rtc.call.ended
 * published; sends BYE first when send_bye. Lock NOT held. Idempotent.
 */
void rp_call_end(struct rp_call *c, const char *reason, bool send_bye);
/* Calls the function for every live call (table lock held: no tm calls in fn). */
void rp_calls_foreach(void (*fn)(struct rp_call *c, void *arg), void *arg);
unsigned rp_calls_count(void);

/* ---- call_answer.c: the INVITE ---- */

/* rtc_player_answer(): replies to ctx's INVITE (always finishes it). */
enum sipd_result rp_answer(struct sipd_ctx *ctx);
/* Timer callbacks (loop thread). */
void rp_ring_fired(void *arg);
void rp_retr_fired(void *arg);
/* Arms c's session timer from its interval and refresher (lock held). */
void rp_session_arm(struct rp_call *c);
/* Session-Expires/Require headers for a 2xx (lock held); writes into buf. */
void rp_timer_headers(const struct rp_call *c, char *buf, size_t size);
/* Reads RFC 4028 headers of an INVITE/UPDATE: 0, or the status to answer (422 with *min_se). */
int rp_timer_negotiate(struct sipd_msg *m, uint32_t *interval, enum rp_refresher *refresher,
		       uint32_t *min_se_out);

/* ---- call_dialog.c: in-dialog requests, and the requests we send ---- */

/* rtc_player_in_dialog(): TRUE-ish STOP when it took the request, FALSE when not ours. */
enum sipd_result rp_in_dialog(struct sipd_ctx *ctx);
/* Sends BYE (or a refreshing UPDATE) on c's dialog through tm. 0 or errno. */
int rp_send_bye(struct rp_call *c);
void rp_session_fired(void *arg);
/* Frees requests tm will never answer (at stop, after the workers stopped). */
void rp_requests_shutdown(void);

/* ---- call_events.c: rtc.call.started / rtc.call.ended ---- */

void rp_event_call(const struct rp_call *c, bool started);

/* ---- rpc.c ---- */

extern const struct sipd_rpc_method rp_rpc_methods[];

#endif
