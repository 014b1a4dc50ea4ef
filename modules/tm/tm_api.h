/* The tm service ("tm", version 1): transactions for other modules (registrar, session_timer, rtc_player). */
#ifndef TM_API_H
#define TM_API_H

#include <stdbool.h>
#include <stddef.h>

#include <sipd/msg.h>
#include <sipd/script.h>
#include <sipd/transport.h>

#define TM_SERVICE         "tm"
#define TM_SERVICE_VERSION 2

/* A transaction handle: referenced, released with tm_api.release. */
struct tm_cell;

/*
 * Callbacks of a request sent with tm_api.request. They run on a worker
 * (whichever received the response or fired the timer), without tm locks
 * held, so they may call tm again. Exactly one of on_final or on_failure
 * ends the transaction's callbacks.
 */
struct tm_callbacks {
	/* A provisional response (1xx); may be NULL. resp lives only for the call. */
	void (*on_provisional)(void *arg, struct sipd_msg *resp);
	/* The final response (every 2xx of an INVITE, the first other final). */
	void (*on_final)(void *arg, struct sipd_msg *resp);
	/*
	 * No final response: status 408 (Timer B/F fired) or 503 (transport
	 * error, RFC 3261 8.1.3.1), err the errno behind it (ETIMEDOUT, ...).
	 */
	void (*on_failure)(void *arg, int status, int err);
};

/*
 * A proxy response hook (service version 2): sees each final or provisional
 * response the proxy sends upstream for a relayed request. req is the
 * request as received (the script's edits are pending on it: its parsed
 * headers are the original ones); resp is the response about to be
 * forwarded and may be edited (hdr_append ...), or NULL when tm answers by
 * itself (408 Timer C/B, 480, 487, 500) with status. Runs on a worker with
 * the transaction locked: it must not call tm.
 */
typedef void (*tm_response_hook_fn)(void *arg, struct sipd_msg *req, struct sipd_msg *resp, int status);
#define TM_MAX_RESPONSE_HOOKS 4

struct tm_api {
	/*
	 * The server transaction of ctx's request: found, or created (the
	 * request is cloned). Retransmissions are then absorbed by tm. *out is
	 * referenced. 0, EINVAL (ACK or not a request), ENOMEM.
	 */
	int (*uas_get)(struct tm_cell **out, struct sipd_ctx *ctx);
	/*
	 * Replies on a server transaction (built from its request per RFC 3261
	 * 8.2.6; extra_headers: CRLF-terminated lines or NULL; body with its
	 * content type or NULL). Retransmitted over UDP as 17.2.1 says.
	 * 0, EINVAL (bad code, already answered with a final), errno of sending.
	 */
	int (*uas_reply)(struct tm_cell *t, int code, const char *reason, const char *extra_headers,
			 const char *content_type, const char *body);
	/* Shortcut: uas_get + uas_reply + release; sets ctx->replied for finals. */
	int (*reply)(struct sipd_ctx *ctx, int code, const char *reason, const char *extra_headers);
	/*
	 * Sends a request statefully. buf holds a whole request without a Via
	 * (tm adds its own Via with a fresh branch). dst NULL: the next hop is
	 * taken from the first Route or the Request-URI (RFC 3263 for names).
	 * cb and arg must stay valid until on_final or on_failure ran (which
	 * may happen before request returns: a send that fails at once is
	 * reported through on_failure with 503, like a later transport error).
	 * 0 or errno (EBADMSG: buf does not parse; EINVAL; ENOMEM).
	 */
	int (*request)(const char *buf, size_t len, const struct sipd_dest *dst,
		       const struct tm_callbacks *cb, void *arg);
	/* Drops a reference taken by uas_get. */
	void (*release)(struct tm_cell *t);
	/*
	 * Since service version 2. Adds a response hook (call from a module's
	 * start, before traffic). 0, EINVAL, ENOSPC past TM_MAX_RESPONSE_HOOKS.
	 */
	int (*response_hook_add)(tm_response_hook_fn fn, void *arg);
};

#endif
