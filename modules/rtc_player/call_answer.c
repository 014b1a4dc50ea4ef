/* Answering an INVITE for a user with audio: RFC 4028 negotiation, SDP answer, 100/180/200, 2xx
 * retransmission. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sipd/log.h>

#include "rtc_player.h"

#define T1_MS      500
#define T2_MS      4000
#define ALLOW_LINE "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE\r\n"
#define RFC_MIN_SE 90

static bool has_timer_tag(struct sipd_msg *m, struct sipd_hdr *h)
{
	const struct sipd_tokens *t;

	if (sipd_msg_hdr(m, h, (const void **)&t))
		return false;
	for (unsigned i = 0; i < t->count; i++)
		if (sipd_str_caseeq_c(t->items[i], "timer"))
			return true;
	return false;
}

int rp_timer_negotiate(struct sipd_msg *m, uint32_t *interval, enum rp_refresher *refresher,
		       uint32_t *min_se_out)
{
	const struct sipd_session_expires *se = NULL;
	const uint32_t *min = NULL;
	bool supports = has_timer_tag(m, m->h_supported) || has_timer_tag(m, m->h_require);
	uint32_t floor = rp_cfg.min_se;

	if ((m->h_session_expires && sipd_msg_hdr(m, m->h_session_expires, (const void **)&se)) ||
	    (m->h_min_se && sipd_msg_hdr(m, m->h_min_se, (const void **)&min)))
		return 400;
	if (min && *min > floor)
		floor = *min;
	if (se) {
		if (se->delta < rp_cfg.min_se) {
			*min_se_out = rp_cfg.min_se;
			return 422;
		}
		*interval = se->delta;
		if (sipd_str_caseeq_c(se->refresher, "uas"))
			*refresher = RP_REFRESH_UAS;
		else if (sipd_str_caseeq_c(se->refresher, "uac"))
			*refresher = RP_REFRESH_UAC;
		else
			*refresher = supports ? RP_REFRESH_UAC : RP_REFRESH_UAS;
		/* A caller without timer support cannot refresh (RFC 4028 9): we do. */
		if (!supports)
			*refresher = RP_REFRESH_UAS;
	} else if (supports) {
		*interval = rp_cfg.session_expires > floor ? rp_cfg.session_expires : floor;
		*refresher = RP_REFRESH_UAC;
	} else {
		*interval = 0;
		*refresher = RP_REFRESH_NONE;
	}
	return 0;
}

void rp_timer_headers(const struct rp_call *c, char *buf, size_t size)
{
	if (!c->interval) {
		snprintf(buf, size, "Supported: timer\r\n");
		return;
	}
	snprintf(buf, size, "Supported: timer\r\n%sSession-Expires: %u;refresher=%s\r\n",
		 c->peer_timer ? "Require: timer\r\n" : "", c->interval,
		 c->refresher == RP_REFRESH_UAS ? "uas" : "uac");
}

/* Refusal on the INVITE's transaction, with a Warning saying why (RFC 3261 20.43). */
static enum sipd_result refuse(struct sipd_ctx *ctx, struct tm_cell *t, int code, const char *reason,
			       const char *why, const char *extra)
{
	char hdrs[512];
	int n = 0;

	if (why && (n = sipd_warning_header(hdrs, sizeof(hdrs), ctx->rcv, why)) < 0)
		n = 0;
	snprintf(hdrs + n, sizeof(hdrs) - (size_t)n, "%s", extra ? extra : "");
	if (rp_tm->uas_reply(t, code, reason, hdrs, NULL, NULL))
		ctx->dropped = true;
	ctx->replied = true;
	return SIPD_STOP;
}

/* Our To-tag: the one tm's answers carry (the parser derives it from the request). */
static int local_tag(struct sipd_msg *m, char **out)
{
	struct sipd_str r;
	const char *to, *end, *tag;

	if (m->ops->reply_build(m, 180, SIPD_STR("Ringing"), SIPD_STR_NULL, SIPD_STR_NULL, SIPD_STR_NULL, &r))
		return ENOMEM;
	if (!(to = strstr(r.p, "\r\nTo: ")) || !(end = strstr(to + 2, "\r\n")) ||
	    !(tag = strstr(to, ";tag=")) || tag > end)
		return EPROTO;
	tag += 5;
	return (*out = strndup(tag, (size_t)(end - tag))) ? 0 : ENOMEM;
}

static bool wildcard(const char *host)
{
	return !strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !host[0];
}

/* "Contact: <sip:user@host:port;transport=x>" where the caller reached us. */
static int contact_line(struct rp_call *c, const struct sipd_rcvinfo *rcv, const char *media_host)
{
	const struct sipd_listen *l = rcv ? rcv->listen : NULL;
	const char *host = rp_cfg.contact_host;
	char buf[512];
	bool v6;

	if (!host || !host[0])
		host = l && !wildcard(l->host) ? l->host : media_host;
	v6 = strchr(host, ':') != NULL;
	snprintf(buf, sizeof(buf), "Contact: <sip:%s@%s%s%s:%u%s%s>\r\n", c->user, v6 ? "[" : "", host,
		 v6 ? "]" : "", l ? l->port : 5060, rcv && rcv->proto != SIPD_PROTO_UDP ? ";transport=" : "",
		 rcv && rcv->proto != SIPD_PROTO_UDP ? sipd_proto_name(rcv->proto) : "");
	return (c->contact = strdup(buf)) ? 0 : ENOMEM;
}

static char *dup_str(struct sipd_str s)
{
	return strndup(s.p ? s.p : "", s.len);
}

/* The dialog state of the UAS side (RFC 3261 12.1.1). */
static int dialog_from_invite(struct rp_call *c, struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg;
	const struct sipd_nameaddr *from, *contact, *rr;
	const struct sipd_cseq *cseq;
	char route[2048];
	size_t rl = 0;
	int err;

	if ((err = sipd_msg_from(m, &from)) || (err = sipd_msg_cseq(m, &cseq)))
		return err;
	if (sipd_msg_contact(m, &contact) || contact->star)
		return EBADMSG;
	c->remote_cseq = cseq->number;
	if (!(c->call_id = dup_str(m->call_id)) || !(c->remote_tag = dup_str(from->tag)) ||
	    !(c->caller = dup_str(from->uri.raw)) || !(c->remote_hdr = dup_str(m->h_from->value)) ||
	    !(c->remote_target = dup_str(contact->uri.raw)))
		return ENOMEM;
	size_t hl = m->h_to->value.len + strlen(c->local_tag) + 6;

	if (!(c->local_hdr = malloc(hl)))
		return ENOMEM;
	snprintf(c->local_hdr, hl, "%.*s;tag=%s", SIPD_STR_FMT(m->h_to->value), c->local_tag);
	/* Our route set toward the caller: its Record-Route in order (12.1.1). */
	if (m->h_record_route && sipd_msg_hdr(m, m->h_record_route, (const void **)&rr) == 0) {
		for (; rr; rr = rr->next) {
			int n = snprintf(route + rl, sizeof(route) - rl, "%s<%.*s>", rl ? ", " : "",
					 SIPD_STR_FMT(rr->uri.raw));

			if (n < 0 || (size_t)n >= sizeof(route) - rl)
				return ENOSPC;
			rl += (size_t)n;
		}
		if (!(c->route_set = strdup(route)))
			return ENOMEM;
	}
	if (ctx->rcv) {
		/* Requests we send go back the way the caller came (its Contact may be unreachable, e.g. ws).
		 */
		c->dst = (struct sipd_dest){.proto = ctx->rcv->proto,
					    .addr = ctx->rcv->src,
					    .from = ctx->rcv->listen,
					    .conn_id = ctx->rcv->conn_id};
		c->has_dst = true;
	}
	return 0;
}

static void media_event_run(void *arg)
{
	struct rp_call *c = arg;

	rp_call_end(c, c->end_reason ? c->end_reason : "media ended", true);
	rp_call_unref(c);
}

/* Media thread: the reason is recorded and the ending runs on the call's loop. */
static void media_event(void *arg, enum rtc_media_event ev, const char *detail)
{
	struct rp_call *c = arg;
	const char *why = ev == RTC_MEDIA_FINISHED    ? "audio played to the end"
			  : ev == RTC_MEDIA_PEER_GONE ? "peer gone (no ICE consent or media)"
						      : "DTLS failed";

	SIPD_INFO("call %s: %s (%s)", c->call_id, why, detail ? detail : "");
	pthread_mutex_lock(&c->lock);
	if (!c->end_reason)
		c->end_reason = why;
	pthread_mutex_unlock(&c->lock);
	rp_call_ref(c);
	if (sipd_loop_post(c->loop, media_event_run, c))
		rp_call_unref(c);
}

static void release_audio(void *arg)
{
	rp_audio_unref(arg);
}

/* Media for the offer: 0, or the SIP status to refuse with (*why says why). */
static int media_setup(struct rp_call *c, struct sipd_msg *m, struct rp_audio *audio, enum rp_mode mode,
		       const char **why)
{
	static __thread struct rtc_sdp_offer offer; /* ~10 KB: kept off the worker's stack */
	struct rtc_media_choice choice;
	struct rtc_media_session_params p = {0};
	char answer[4096];
	size_t len;
	int err;

	if (!m->body.len) {
		*why = "an SDP offer in the INVITE is required";
		return 488;
	}
	if (rtc_sdp_parse(&offer, m->body.p, m->body.len, why))
		return 488;
	if (rtc_sdp_choose(&choice, &offer, why))
		return 488;
	c->kind = choice.kind;
	c->codec = choice.codec;
	p.offer = &offer;
	p.choice = &choice;
	p.source = (struct rtc_media_source){.frames = audio->frames[choice.codec],
					     .count = audio->frame_count[choice.codec],
					     .loop = mode == RP_MODE_LOOP,
					     .release = release_audio,
					     .release_arg = audio};
	p.on_event = media_event;
	p.arg = c;
	rp_audio_ref(audio);
	if ((err = rtc_media_session_create(&c->media, rp_engine, &p))) {
		rp_audio_unref(audio);
		*why = err == EADDRINUSE ? "no free media port" : "media set-up failed";
		return err == EADDRINUSE ? 503 : 500;
	}
	if (rtc_media_session_answer(c->media, answer, sizeof(answer), &len) ||
	    !(c->answer = strdup(answer))) {
		*why = "SDP answer too large";
		return 500;
	}
	return 0;
}

static struct rp_call *call_new(struct sipd_ctx *ctx, struct sipd_str user)
{
	struct rp_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	atomic_init(&c->refs, 1);
	pthread_mutex_init(&c->lock, NULL);
	c->loop = sipd_loop_self();
	c->started_wall = (uint64_t)time(NULL);
	c->local_cseq = 1;
	sipd_timer_init(&c->ring, rp_ring_fired, c);
	sipd_timer_init(&c->retr, rp_retr_fired, c);
	sipd_timer_init(&c->session, rp_session_fired, c);
	if (!(c->user = dup_str(user)) || local_tag(ctx->msg, &c->local_tag)) {
		rp_call_unref(c);
		return NULL;
	}
	return c;
}

enum sipd_result rp_answer(struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg;
	const struct sipd_uri *ruri;
	const struct sipd_nameaddr *to;
	struct rp_audio *audio = NULL;
	struct rp_call *c = NULL;
	struct tm_cell *t = NULL;
	enum rp_mode mode;
	enum sipd_result res = SIPD_STOP;
	const char *why = NULL;
	char extra[256];
	uint32_t min_se = 0;
	int status;

	if (m->method_id != SIPD_METHOD_INVITE || sipd_msg_to(m, &to) || to->tag.len ||
	    sipd_msg_ruri(m, &ruri))
		return SIPD_FALSE;
	if (!rp_assign_lookup(ruri->user.p, ruri->user.len, &audio, &mode))
		return SIPD_FALSE;
	if (rp_tm->uas_get(&t, ctx)) {
		res = SIPD_ERROR;
		goto out;
	}
	rp_tm->uas_reply(t, 100, "Trying", NULL, NULL, NULL);
	if (!(c = call_new(ctx, ruri->user))) {
		res = refuse(ctx, t, 500, "Server Internal Error", "out of memory", NULL);
		goto out;
	}
	c->peer_timer = has_timer_tag(m, m->h_supported) || has_timer_tag(m, m->h_require);
	if ((status = rp_timer_negotiate(m, &c->interval, &c->refresher, &min_se))) {
		snprintf(extra, sizeof(extra), "Min-SE: %u\r\n", min_se);
		res = refuse(ctx, t, status, status == 422 ? "Session Interval Too Small" : "Bad Request",
			     status == 422 ? NULL : "malformed Session-Expires or Min-SE",
			     status == 422 ? extra : NULL);
		goto out;
	}
	if (dialog_from_invite(c, ctx)) {
		res =
		    refuse(ctx, t, 400, "Bad Request", "the INVITE needs From, CSeq and a Contact URI", NULL);
		goto out;
	}
	if ((status = media_setup(c, m, audio, mode, &why))) {
		res = refuse(ctx, t, status,
			     status == 488   ? "Not Acceptable Here"
			     : status == 503 ? "Service Unavailable"
					     : "Server Internal Error",
			     why, status == 503 ? "Retry-After: 5\r\n" : NULL);
		goto out;
	}
	if (contact_line(c, ctx->rcv, rp_cfg.media_host)) {
		res = refuse(ctx, t, 500, "Server Internal Error", "out of memory", NULL);
		goto out;
	}
	rp_tm->uas_reply(t, 180, "Ringing", c->contact, NULL, NULL);
	c->invite = t;
	t = NULL;
	ctx->replied = true;
	rp_call_link(c);
	pthread_mutex_lock(&c->lock);
	rp_call_timer(c, &c->ring, &c->ring_on, rp_cfg.ring_ms);
	pthread_mutex_unlock(&c->lock);
	SIPD_INFO("call %s from %s to %s: %s/%s, ringing", c->call_id, c->caller, c->user,
		  rtc_media_kind_name(c->kind), rtc_media_codec_name(c->codec));
out:
	if (t)
		rp_tm->release(t);
	rp_call_unref(c);
	rp_audio_unref(audio);
	return res;
}

/* Sends (or resends) the 200 OK with our answer; lock held. */
static int send_ok(struct rp_call *c)
{
	char hdrs[1024], timer[128];

	rp_timer_headers(c, timer, sizeof(timer));
	snprintf(hdrs, sizeof(hdrs), "%s" ALLOW_LINE "%s", c->contact, timer);
	return rp_tm->uas_reply(c->invite, 200, "OK", hdrs, "application/sdp", c->answer);
}

/* Arms the session timer: we refresh at half the interval, or end it unrefreshed (RFC 4028 10). */
void rp_session_arm(struct rp_call *c)
{
	uint64_t ms;

	if (!c->interval)
		return;
	if (c->refresher == RP_REFRESH_UAS)
		ms = (uint64_t)c->interval * 500;
	else
		ms = ((uint64_t)c->interval - (c->interval / 3 < 32 ? c->interval / 3 : 32)) * 1000;
	rp_call_timer(c, &c->session, &c->session_on, ms);
}

void rp_ring_fired(void *arg)
{
	struct rp_call *c = arg;
	bool cancelled = false, answered = false, reliable;

	pthread_mutex_lock(&c->lock);
	c->ring_on = false;
	if (c->state == RP_RINGING) {
		if (send_ok(c)) {
			/* tm answered a CANCEL with 487 meanwhile: the INVITE is over. */
			cancelled = true;
		} else {
			c->state = RP_ANSWERED;
			answered = true;
			c->answered_ms = sipd_now_ms();
			rtc_media_session_start(c->media);
			reliable = c->has_dst && c->dst.proto != SIPD_PROTO_UDP;
			if (!reliable) {
				c->retr_ms = T1_MS;
				rp_call_timer(c, &c->retr, &c->retr_on, c->retr_ms);
			}
			rp_session_arm(c);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (cancelled)
		rp_call_end(c, "cancelled by the caller", false);
	else if (answered)
		rp_event_call(c, true);
	rp_call_unref(c);
}

/* RFC 3261 13.3.1.4: the 2xx is resent at T1, 2T1 ... T2 until the ACK; after 64*T1 the call ends. */
void rp_retr_fired(void *arg)
{
	struct rp_call *c = arg;
	bool give_up = false;

	pthread_mutex_lock(&c->lock);
	c->retr_on = false;
	if (c->state == RP_ANSWERED) {
		if (sipd_now_ms() - c->answered_ms >= 64u * T1_MS || send_ok(c)) {
			give_up = true;
		} else {
			c->retr_ms = c->retr_ms * 2 < T2_MS ? c->retr_ms * 2 : T2_MS;
			rp_call_timer(c, &c->retr, &c->retr_on, c->retr_ms);
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (give_up)
		rp_call_end(c, "no ACK for the 200 OK", true);
	rp_call_unref(c);
}
