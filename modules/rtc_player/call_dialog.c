/* In-dialog requests of player calls (ACK, BYE, re-INVITE, UPDATE, OPTIONS) and those we send (BYE, UPDATE).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>

#include "rtc_player.h"

#define ALLOW_LINE "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE\r\n"

static void reply(struct sipd_ctx *ctx, int code, const char *reason, const char *hdrs, const char *body)
{
	struct tm_cell *t;

	if (rp_tm->uas_get(&t, ctx)) {
		ctx->dropped = true;
		return;
	}
	if (rp_tm->uas_reply(t, code, reason, hdrs, body ? "application/sdp" : NULL, body))
		ctx->dropped = true;
	ctx->replied = true;
	rp_tm->release(t);
}

/* re-INVITE and UPDATE: the same media (RFC 3264 8: an unchanged answer keeps its version), a new interval.
 */
static void refresh(struct sipd_ctx *ctx, struct rp_call *c, bool invite)
{
	struct sipd_msg *m = ctx->msg;
	char hdrs[1024], timer[128], *answer = NULL;
	enum rp_refresher refresher;
	uint32_t interval, min_se = 0;
	int status;

	pthread_mutex_lock(&c->lock);
	if (c->state == RP_RINGING) {
		pthread_mutex_unlock(&c->lock);
		/* RFC 3261 14.2: our INVITE answer is still pending. */
		reply(ctx, invite ? 500 : 491, invite ? "Server Internal Error" : "Request Pending",
		      "Retry-After: 1\r\n", NULL);
		return;
	}
	if ((status = rp_timer_negotiate(m, &interval, &refresher, &min_se))) {
		pthread_mutex_unlock(&c->lock);
		snprintf(hdrs, sizeof(hdrs), "Min-SE: %u\r\n", min_se);
		reply(ctx, status, status == 422 ? "Session Interval Too Small" : "Bad Request",
		      status == 422 ? hdrs : NULL, NULL);
		return;
	}
	c->interval = interval;
	c->refresher = refresher;
	rp_session_arm(c);
	if (invite || m->body.len)
		answer = strdup(c->answer);
	rp_timer_headers(c, timer, sizeof(timer));
	snprintf(hdrs, sizeof(hdrs), "%s" ALLOW_LINE "%s", c->contact, timer);
	pthread_mutex_unlock(&c->lock);
	reply(ctx, 200, "OK", hdrs, answer);
	free(answer);
	SIPD_DBG("call %s refreshed by %s: %u s", c->call_id, invite ? "re-INVITE" : "UPDATE", interval);
}

static void on_ack(struct rp_call *c)
{
	struct tm_cell *invite = NULL;

	pthread_mutex_lock(&c->lock);
	if (c->state == RP_ANSWERED) {
		c->state = RP_CONFIRMED;
		rp_call_timer_stop(c, &c->retr, &c->retr_on);
		invite = c->invite;
		c->invite = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (invite)
		rp_tm->release(invite);
}

enum sipd_result rp_in_dialog(struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg;
	const struct sipd_nameaddr *from, *to;
	const struct sipd_cseq *cseq;
	struct rp_call *c;

	if (!m->is_request || sipd_msg_to(m, &to) || !to->tag.len || sipd_msg_from(m, &from) ||
	    sipd_msg_cseq(m, &cseq))
		return SIPD_FALSE;
	if (!(c = rp_call_find(m->call_id, from->tag, to->tag)))
		return SIPD_FALSE;
	switch (m->method_id) {
	case SIPD_METHOD_ACK:
		on_ack(c);
		ctx->dropped = true;
		break;
	case SIPD_METHOD_BYE:
		reply(ctx, 200, "OK", NULL, NULL);
		rp_call_end(c, "BYE from the caller", false);
		break;
	case SIPD_METHOD_INVITE:
	case SIPD_METHOD_UPDATE:
		refresh(ctx, c, m->method_id == SIPD_METHOD_INVITE);
		break;
	case SIPD_METHOD_OPTIONS:
	case SIPD_METHOD_INFO:
		reply(ctx, 200, "OK", ALLOW_LINE, NULL);
		break;
	default:
		reply(ctx, 405, "Method Not Allowed", ALLOW_LINE, NULL);
		break;
	}
	rp_call_unref(c);
	return SIPD_STOP;
}

/* ---- requests we send on the dialog (RFC 3261 12.2.1.1) ---- */

struct rp_request {
	struct rp_request *next, *prev;
	struct rp_call *call;
	bool refresh;
};

/* Requests in flight: tm drops their callbacks at shutdown, so stop frees what is left. */
static struct {
	pthread_mutex_t lock;
	struct rp_request head;
} pending = {.lock = PTHREAD_MUTEX_INITIALIZER, .head = {.next = &pending.head, .prev = &pending.head}};

static void pending_link(struct rp_request *r)
{
	pthread_mutex_lock(&pending.lock);
	r->next = &pending.head;
	r->prev = pending.head.prev;
	r->prev->next = r;
	pending.head.prev = r;
	pthread_mutex_unlock(&pending.lock);
}

static void pending_unlink(struct rp_request *r)
{
	pthread_mutex_lock(&pending.lock);
	r->prev->next = r->next;
	r->next->prev = r->prev;
	pthread_mutex_unlock(&pending.lock);
}

void rp_requests_shutdown(void)
{
	pthread_mutex_lock(&pending.lock);
	while (pending.head.next != &pending.head) {
		struct rp_request *r = pending.head.next;

		r->prev->next = r->next;
		r->next->prev = r->prev;
		rp_call_unref(r->call);
		free(r);
	}
	pthread_mutex_unlock(&pending.lock);
}

static void request_done(struct rp_request *r, int status)
{
	struct rp_call *c = r->call;

	pending_unlink(r);
	if (r->refresh) {
		if (status / 100 == 2) {
			SIPD_DBG("call %s: our UPDATE refreshed the session", c->call_id);
		} else {
			SIPD_INFO("call %s: session refresh failed with %d", c->call_id, status);
			rp_call_end(c, "session refresh failed", status != 481 && status != 408);
		}
	} else if (status / 100 != 2) {
		SIPD_DBG("call %s: BYE answered %d", c->call_id, status);
	}
	rp_call_unref(c);
	free(r);
}

static void on_final(void *arg, struct sipd_msg *resp)
{
	request_done(arg, resp->status);
}

static void on_failure(void *arg, int status, int err)
{
	(void)err;
	request_done(arg, status);
}

static const struct tm_callbacks callbacks = {.on_final = on_final, .on_failure = on_failure};

static int send_request(struct rp_call *c, const char *method, bool refresh)
{
	struct rp_request *r = calloc(1, sizeof(*r));
	char buf[4096], timer[160] = "";
	uint32_t cseq;
	int n, err;

	if (!r)
		return ENOMEM;
	pthread_mutex_lock(&c->lock);
	cseq = ++c->local_cseq;
	if (refresh)
		snprintf(timer, sizeof(timer), "%sSupported: timer\r\nSession-Expires: %u;refresher=uas\r\n",
			 c->contact, c->interval);
	pthread_mutex_unlock(&c->lock);
	n = snprintf(buf, sizeof(buf),
		     "%s %s SIP/2.0\r\n%s%s%sMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
		     "CSeq: %u %s\r\nUser-Agent: %s\r\n%sContent-Length: 0\r\n\r\n",
		     method, c->remote_target, c->route_set ? "Route: " : "",
		     c->route_set ? c->route_set : "", c->route_set ? "\r\n" : "", c->local_hdr,
		     c->remote_hdr, c->call_id, cseq, method, sipd_server_name(), timer);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		free(r);
		return ENOSPC;
	}
	r->call = c;
	r->refresh = refresh;
	rp_call_ref(c);
	pending_link(r);
	/* Without a route set the request goes back over the caller's own transport (and connection). */
	err = rp_tm->request(buf, (size_t)n, c->route_set || !c->has_dst ? NULL : &c->dst, &callbacks, r);
	/* tm calls back only for requests it took (a send failing at once comes through on_failure). */
	if (err) {
		pending_unlink(r);
		rp_call_unref(c);
		free(r);
	}
	return err;
}

int rp_send_bye(struct rp_call *c)
{
	return send_request(c, "BYE", false);
}

/* The session timer: ours to refresh (UPDATE at half the interval), or the caller's that lapsed. */
void rp_session_fired(void *arg)
{
	struct rp_call *c = arg;
	bool ours, live;

	pthread_mutex_lock(&c->lock);
	c->session_on = false;
	live = c->state == RP_ANSWERED || c->state == RP_CONFIRMED;
	ours = c->refresher == RP_REFRESH_UAS;
	if (live && ours)
		rp_session_arm(c);
	pthread_mutex_unlock(&c->lock);
	if (live && ours) {
		if (send_request(c, "UPDATE", true))
			rp_call_end(c, "session refresh could not be sent", true);
	} else if (live) {
		rp_call_end(c, "session expired (no refresh from the caller)", true);
	}
	rp_call_unref(c);
}
