/* Client transactions (RFC 3261 17.1, RFC 6026): sending, retransmission, timers A-F/K/M, ACK and CANCEL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

int tm_uac_add(struct tm_uac **out, struct tm_cell *c, bool invite, const char *uri)
{
	struct tm_uac *u;

	if (c->nuac >= TM_MAX_UAC)
		return ENOSPC;
	if (c->nuac == c->uac_cap) {
		unsigned cap = c->uac_cap ? c->uac_cap * 2 : 1;
		struct tm_uac **a = realloc(c->uac, cap * sizeof(*a));

		if (!a)
			return ENOMEM;
		c->uac = a;
		c->uac_cap = cap;
	}
	if (!(u = calloc(1, sizeof(*u))) || !(u->uri = strdup(uri ? uri : ""))) {
		free(u);
		return ENOMEM;
	}
	u->cell = c;
	u->idx = c->nuac;
	u->invite = invite;
	tm_branch_make(u->branch, sizeof(u->branch), c, u->idx);
	tm_timer_init(&u->retr, c, u, TM_TMR_RETR);
	tm_timer_init(&u->timeout, c, u, TM_TMR_TIMEOUT);
	tm_timer_init(&u->timer_c, c, u, TM_TMR_C);
	u->state = TM_TERMINATED;
	tm_state_set(&u->state, invite ? TM_CALLING : TM_TRYING);
	c->uac[c->nuac++] = u;
	*out = u;
	return 0;
}

void tm_uac_free(struct tm_uac *u)
{
	if (!u)
		return;
	tm_state_set(&u->state, TM_TERMINATED);
	if (u->final)
		u->final->ops->free(u->final);
	if (u->tmpl)
		u->tmpl->ops->free(u->tmpl);
	tm_uac_free(u->cancel);
	free(u->alt);
	free(u->req);
	free(u->uri);
	free(u->tls_name);
	free(u);
}

void tm_uac_disarm(struct tm_uac *u)
{
	tm_timer_disarm(&u->retr);
	tm_timer_disarm(&u->timeout);
	tm_timer_disarm(&u->timer_c);
}

/* D, K, M run on the timeout timer's slot: B and F are over once a final arrived. */
static void wait_arm(struct tm_uac *u, uint64_t ms)
{
	u->timeout.kind = TM_TMR_WAIT;
	tm_timer_arm(&u->timeout, ms);
}

/* The transaction user: the proxy core, the C API, or nobody for a CANCEL. */
static void to_tu(struct tm_uac *u, struct sipd_msg *resp)
{
	struct tm_cell *c = u->cell;

	if (u->is_cancel)
		return;
	if (c->proxy)
		tm_proxy_on_response(u, resp);
	else if (c->cb)
		tm_api_deliver(c, u, resp, resp ? resp->status : u->status);
}

int tm_uac_start(struct tm_uac *u)
{
	int err;

	sipd_stat_inc(tm_st.uac_total);
	u->reliable = u->dst.proto != SIPD_PROTO_UDP;
	if ((err = tm_sys->send(&u->dst, u->req, u->req_len))) {
		SIPD_DBG("sending to %s failed: %s", u->uri ? u->uri : "?", strerror(err));
		sipd_stat_inc(tm_st.transport_errors);
		/* RFC 5626 5.3: a WebSocket that is gone cannot be reconnected to: 430 Flow Failed. */
		tm_uac_fail(u, err == ENOTCONN && tm_flow_proto(u->dst.proto) ? 430 : 503);
		return err;
	}
	if (!u->reliable) {
		u->retr_ms = (unsigned)tm_cfg.t1;
		tm_timer_arm(&u->retr, u->retr_ms); /* A or E */
	}
	tm_timer_arm(&u->timeout, 64u * (unsigned)tm_cfg.t1); /* B or F */
	if (u->invite && u->cell->proxy && !u->is_cancel)
		tm_timer_arm(&u->timer_c, (unsigned)tm_cfg.timer_c);
	return 0;
}

/* Appends "Name: value\r\n" lines of every header of type t in m. */
static size_t copy_hdrs(char *p, size_t room, struct sipd_msg *m, enum sipd_hdr_type t)
{
	size_t n = 0;

	for (unsigned i = 0; i < m->hdr_count; i++) {
		const struct sipd_hdr *h = &m->hdrs[i];
		int k;

		if (h->type != t)
			continue;
		k = snprintf(p + n, room - n, "%.*s: %.*s\r\n", SIPD_STR_FMT(h->name),
			     SIPD_STR_FMT(h->value));
		if (k < 0 || (size_t)k >= room - n)
			return room;
		n += (size_t)k;
	}
	return n;
}

/*
 * ACK for a non-2xx (17.1.1.3) and CANCEL (9.1) are built from the request
 * as sent: same Request-URI, top Via, Route set, From, Call-ID, CSeq
 * number; the ACK takes the To of the response.
 */
static int derive(struct tm_uac *u, struct sipd_msg *resp, const char *method, char **out, size_t *out_len)
{
	struct sipd_msg *r = NULL;
	const struct sipd_via *v;
	const struct sipd_cseq *cs;
	struct sipd_hdr *to;
	size_t room = u->req_len + 512, n;
	char *buf = NULL;
	int err, k;

	if ((err = tm_parser->parse(&r, u->req, u->req_len, NULL, NULL)))
		return err;
	if ((err = sipd_msg_via(r, &v)) || (err = sipd_msg_cseq(r, &cs)) || !r->h_from || !r->h_to) {
		err = err ? err : EBADMSG;
		goto out;
	}
	to = resp && resp->h_to ? resp->h_to : r->h_to;
	if (!(buf = malloc(room + (resp ? to->value.len : 0)))) {
		err = ENOMEM;
		goto out;
	}
	room += resp ? to->value.len : 0;
	k = snprintf(buf, room, "%s %.*s SIP/2.0\r\nVia: %.*s\r\n", method, SIPD_STR_FMT(r->ruri),
		     SIPD_STR_FMT(v->value));
	n = (size_t)k;
	n += copy_hdrs(buf + n, room - n, r, SIPD_HDR_ROUTE);
	if (n < room) {
		k = snprintf(buf + n, room - n,
			     "From: %.*s\r\nTo: %.*s\r\nCall-ID: %.*s\r\nCSeq: %u %s\r\nMax-Forwards: 70\r\n"
			     "Content-Length: 0\r\n\r\n",
			     SIPD_STR_FMT(r->h_from->value), SIPD_STR_FMT(to->value),
			     SIPD_STR_FMT(r->call_id), cs->number, method);
		n = k < 0 ? room : n + (size_t)k;
	}
	if (n >= room) {
		err = EMSGSIZE;
		goto out;
	}
	*out = buf;
	*out_len = n;
	buf = NULL;
out:
	free(buf);
	tm_parser->free(r);
	return err;
}

/* The request is not sent again after a final: the ACK takes its place and answers retransmitted finals. */
static void send_ack(struct tm_uac *u, struct sipd_msg *resp)
{
	struct {
		char *buf;
		size_t len;
	} *ack;

	if (!u->req_is_ack) {
		/* On the heap: GCC 12 at -O3 wrongly sees the address of a local ACK escape through derive(). */
		if (!u->req || !(ack = calloc(1, sizeof(*ack))))
			return;
		if (derive(u, resp, "ACK", &ack->buf, &ack->len)) {
			free(ack);
			return;
		}
		free(u->req);
		u->req = ack->buf;
		u->req_len = ack->len;
		u->req_is_ack = true;
		free(ack);
	}
	tm_send(&u->dst, u->req, u->req_len);
}

static void send_cancel(struct tm_uac *u)
{
	struct tm_uac *cn;

	if (!(cn = calloc(1, sizeof(*cn))))
		return;
	if (derive(u, NULL, "CANCEL", &cn->req, &cn->req_len) || !(cn->uri = strdup(u->uri))) {
		free(cn->req);
		free(cn);
		return;
	}
	cn->cell = u->cell;
	cn->idx = u->idx;
	cn->is_cancel = true;
	cn->dst = u->dst;
	cn->tls_name = u->tls_name ? strdup(u->tls_name) : NULL;
	cn->dst.server_name = cn->tls_name;
	memcpy(cn->branch, u->branch, sizeof(cn->branch));
	tm_timer_init(&cn->retr, u->cell, cn, TM_TMR_RETR);
	tm_timer_init(&cn->timeout, u->cell, cn, TM_TMR_TIMEOUT);
	tm_timer_init(&cn->timer_c, u->cell, cn, TM_TMR_C);
	cn->state = TM_TERMINATED;
	tm_state_set(&cn->state, TM_TRYING);
	u->cancel = cn;
	sipd_stat_inc(tm_st.cancels);
	tm_uac_start(cn);
}

void tm_uac_cancel(struct tm_uac *u)
{
	if (!u->invite || u->is_cancel || u->cancel || u->resolving)
		return;
	if (u->state == TM_CALLING)
		u->cancel_wanted = true; /* 9.1: not before a provisional response */
	else if (u->state == TM_PROCEEDING)
		send_cancel(u);
}

void tm_uac_fail(struct tm_uac *u, int status)
{
	if (u->state == TM_TERMINATED || u->state == TM_COMPLETED || u->state == TM_ACCEPTED)
		return;
	tm_uac_disarm(u);
	tm_state_set(&u->state, TM_TERMINATED);
	u->status = status;
	u->local_final = true;
	/* A transport error (503) tries the lookup's next target first. */
	if (status == 503 && tm_uac_failover(u))
		return;
	to_tu(u, NULL);
}

static void on_invite_response(struct tm_uac *u, struct sipd_msg *resp)
{
	int s = resp->status;

	switch (u->state) {
	case TM_CALLING:
	case TM_PROCEEDING:
		if (s < 200) {
			tm_timer_disarm(&u->retr);
			tm_timer_disarm(&u->timeout); /* Timer B only runs in Calling */
			tm_state_set(&u->state, TM_PROCEEDING);
			/* 16.8: a provisional other than 100 restarts Timer C. */
			if (s > 100 && u->timer_c.armed)
				tm_timer_arm(&u->timer_c, (unsigned)tm_cfg.timer_c);
			if (u->cancel_wanted)
				send_cancel(u);
			break;
		}
		tm_uac_disarm(u);
		if (s < 300) {
			tm_state_set(&u->state, TM_ACCEPTED);
			wait_arm(u, 64u * (unsigned)tm_cfg.t1); /* Timer M */
		} else {
			/* Before the ACK takes the request's place: the next target needs the request. */
			if (s == 503)
				tm_uac_failover(u);
			send_ack(u, resp);
			tm_state_set(&u->state, u->reliable ? TM_TERMINATED : TM_COMPLETED);
			if (!u->reliable)
				wait_arm(u, 64u * (unsigned)tm_cfg.t1); /* Timer D (>= 32 s at T1 500) */
		}
		break;
	case TM_ACCEPTED:
		if (s < 200 || s >= 300)
			return;
		break;
	case TM_COMPLETED:
		if (s >= 300)
			send_ack(u, resp); /* a retransmitted final */
		return;
	default:
		return;
	}
	if (s > u->status || s / 100 == 2)
		u->status = s;
	if (!u->replaced)
		to_tu(u, resp);
}

static void on_other_response(struct tm_uac *u, struct sipd_msg *resp)
{
	int s = resp->status;

	if (u->state != TM_TRYING && u->state != TM_PROCEEDING)
		return;
	if (s < 200) {
		tm_state_set(&u->state, TM_PROCEEDING);
	} else {
		tm_uac_disarm(u);
		if (u->reliable) {
			tm_state_set(&u->state, TM_TERMINATED);
		} else {
			tm_state_set(&u->state, TM_COMPLETED);
			wait_arm(u, (unsigned)tm_cfg.t4); /* Timer K */
		}
	}
	u->status = s;
	if (s == 503 && tm_uac_failover(u))
		return;
	to_tu(u, resp);
}

void tm_uac_on_response(struct tm_uac *u, struct sipd_msg *resp)
{
	if (u->invite && !u->is_cancel)
		on_invite_response(u, resp);
	else
		on_other_response(u, resp);
}

void tm_uac_timer(struct tm_timer *t)
{
	struct tm_uac *u = t->owner;

	switch (t->kind) {
	case TM_TMR_RETR:
		if (u->state != TM_CALLING && u->state != TM_TRYING && u->state != TM_PROCEEDING)
			return;
		if (u->invite && !u->is_cancel && u->state != TM_CALLING)
			return;
		if (tm_send(&u->dst, u->req, u->req_len) == 0)
			sipd_stat_inc(tm_st.retrans_sent);
		/* A doubles without bound; E doubles up to T2, and stays at T2 in Proceeding. */
		if (u->invite && !u->is_cancel)
			u->retr_ms *= 2;
		else if (u->state == TM_PROCEEDING || u->retr_ms * 2 > (unsigned)tm_cfg.t2)
			u->retr_ms = (unsigned)tm_cfg.t2;
		else
			u->retr_ms *= 2;
		tm_timer_arm(&u->retr, u->retr_ms);
		return;
	case TM_TMR_TIMEOUT:
		if (u->state == TM_CALLING || u->state == TM_TRYING || u->state == TM_PROCEEDING) {
			sipd_stat_inc(tm_st.timeouts);
			tm_uac_fail(u, 408);
		}
		return;
	case TM_TMR_WAIT:
		if (u->state == TM_COMPLETED || u->state == TM_ACCEPTED)
			tm_state_set(&u->state, TM_TERMINATED);
		return;
	case TM_TMR_C:
		if (u->state != TM_CALLING && u->state != TM_PROCEEDING)
			return;
		sipd_stat_inc(tm_st.timeouts);
		u->timed_out = true;
		/* 16.8: cancel a branch that rang; one that never answered (or ignored the CANCEL) is 408. */
		if (u->state == TM_PROCEEDING && !u->cancel) {
			send_cancel(u);
			tm_timer_arm(&u->timer_c, 64u * (unsigned)tm_cfg.t1);
		} else {
			tm_uac_fail(u, 408);
		}
		return;
	}
}
