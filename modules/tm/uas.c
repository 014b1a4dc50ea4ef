/* Server transactions (RFC 3261 17.2, RFC 6026 Accepted): responses, retransmissions, ACK, timers G/H/I/J/L.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

const char *tm_state_name(enum tm_state s)
{
	static const char *const names[TM_STATE_COUNT] = {
	    [TM_TRYING] = "trying",         [TM_CALLING] = "calling",     [TM_PROCEEDING] = "proceeding",
	    [TM_COMPLETED] = "completed",   [TM_CONFIRMED] = "confirmed", [TM_ACCEPTED] = "accepted",
	    [TM_TERMINATED] = "terminated",
	};
	return s < TM_STATE_COUNT ? names[s] : "?";
}

int tm_uas_create(struct tm_cell **out, struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg, *req = NULL;
	struct tm_cell *c = NULL, *other;
	struct tm_uas *u;
	uint32_t hash;
	int err;

	if (!m->is_request || m->method_id == SIPD_METHOD_ACK)
		return EINVAL;
	/* received/rport go into the stored copy: relayed requests and our answers carry them. */
	if ((err = m->ops->via_mark_received(m)) || (err = m->ops->clone(&req, m)))
		goto out;
	if ((err = tm_cell_new(&c)))
		goto out;
	u = &c->uas;
	u->req = req;
	req = NULL;
	if ((err = tm_request_key(u->req, &hash, &u->rfc2543, &u->branch, &u->sent_host, &u->sent_port)) ||
	    (err = sipd_response_dest(&u->resp_dst, u->req)))
		goto out;
	c->has_uas = true;
	u->method_id = u->req->method_id;
	u->method = u->req->method;
	u->invite = m->method_id == SIPD_METHOD_INVITE;
	u->reliable = ctx->rcv && ctx->rcv->proto != SIPD_PROTO_UDP;
	u->state = TM_TERMINATED;
	tm_state_set(&u->state, u->invite ? TM_PROCEEDING : TM_TRYING);
	sipd_stat_inc(tm_st.total);
	sipd_stat_inc(tm_st.current);
	tm_timer_init(&u->retr, c, u, TM_TMR_RETR);
	tm_timer_init(&u->timeout, c, u, TM_TMR_TIMEOUT);
	tm_cell_lock(c);
	if ((other = tm_match_link(c, u->req))) {
		/* A retransmission raced us from another worker: use its transaction. */
		tm_cell_unlock(c);
		tm_cell_unref(c);
		c = other;
		tm_cell_lock(c);
	}
	*out = c;
	c = NULL;
out:
	if (req)
		req->ops->free(req);
	if (c)
		tm_cell_unref(c);
	return err;
}

static void resend(struct tm_uas *u)
{
	if (u->resp && tm_send(&u->resp_dst, u->resp, u->resp_len) == 0)
		sipd_stat_inc(tm_st.retrans_sent);
}

int tm_uas_send(struct tm_cell *c, int status, const char *buf, size_t len)
{
	struct tm_uas *u = &c->uas;
	char *copy;
	int err;

	if (!c->has_uas || status < 100 || status > 699)
		return EINVAL;
	/* After a final answer only further 2xx of an INVITE may pass (16.7 step 5, RFC 6026). */
	if (u->status >= 200 && !(u->invite && status / 100 == 2 && u->state == TM_ACCEPTED))
		return EINVAL;
	if (u->state == TM_TERMINATED)
		return EINVAL;
	if (!(copy = malloc(len ? len : 1)))
		return ENOMEM;
	memcpy(copy, buf, len);
	free(u->resp);
	u->resp = copy;
	u->resp_len = len;
	err = tm_send(&u->resp_dst, buf, len);
	if (err)
		SIPD_DBG("sending %d for %.*s failed: %s", status, SIPD_STR_FMT(u->method), strerror(err));
	if (status > u->status)
		u->status = status;
	if (status < 200) {
		tm_state_set(&u->state, TM_PROCEEDING);
		return err;
	}
	if (u->invite && status < 300) {
		/* RFC 6026: the 2xx is the UAS core's to retransmit; we only absorb the INVITE now (Timer L).
		 */
		if (u->state != TM_ACCEPTED) {
			tm_state_set(&u->state, TM_ACCEPTED);
			tm_timer_arm(&u->timeout, 64u * (unsigned)tm_cfg.t1);
		}
		return err;
	}
	tm_state_set(&u->state, TM_COMPLETED);
	if (u->invite) {
		if (!u->reliable) {
			u->retr_ms = (unsigned)tm_cfg.t1;
			tm_timer_arm(&u->retr, u->retr_ms);
		}
		tm_timer_arm(&u->timeout, 64u * (unsigned)tm_cfg.t1); /* Timer H */
	} else if (!u->reliable) {
		tm_timer_arm(&u->timeout, 64u * (unsigned)tm_cfg.t1); /* Timer J */
	} else {
		tm_state_set(&u->state, TM_TERMINATED);
	}
	return err;
}

int tm_uas_reply(struct tm_cell *c, int status, const char *reason, const char *extra, const char *ctype,
		 const char *body)
{
	struct sipd_msg *m = c->uas.req;
	struct sipd_str out;
	int err;

	if (!c->has_uas || !m || !reason || strpbrk(reason, "\r\n"))
		return EINVAL;
	err = m->ops->reply_build(m, status, sipd_str_c(reason), sipd_str_c(extra ? extra : ""),
				  sipd_str_c(ctype ? ctype : ""), sipd_str_c(body ? body : ""), &out);
	if (err)
		return err;
	return tm_uas_send(c, status, out.p, out.len);
}

bool tm_uas_on_request(struct tm_cell *c, struct sipd_msg *m)
{
	struct tm_uas *u = &c->uas;

	if (m->method_id == SIPD_METHOD_ACK) {
		/* The ACK of a 2xx is end to end (it only matches here for RFC 2543 clients). */
		if (!u->invite || u->state == TM_ACCEPTED || u->status < 300)
			return u->state != TM_ACCEPTED;
		if (u->state == TM_COMPLETED) {
			tm_timer_disarm(&u->retr);
			tm_timer_disarm(&u->timeout);
			tm_state_set(&u->state, TM_CONFIRMED);
			if (u->reliable)
				tm_state_set(&u->state, TM_TERMINATED);
			else
				tm_timer_arm(&u->timeout, (unsigned)tm_cfg.t4); /* Timer I */
		}
		return true;
	}
	sipd_stat_inc(tm_st.retrans_absorbed);
	/* 17.2.1/17.2.2: the last response answers a retransmission; nothing was sent in Trying. */
	if (u->state == TM_PROCEEDING || u->state == TM_COMPLETED)
		resend(u);
	return true;
}

void tm_uas_timer(struct tm_timer *t)
{
	struct tm_uas *u = &t->cell->uas;

	if (t->kind == TM_TMR_RETR) {
		/* Timer G */
		if (u->state != TM_COMPLETED)
			return;
		resend(u);
		u->retr_ms = u->retr_ms * 2 < (unsigned)tm_cfg.t2 ? u->retr_ms * 2 : (unsigned)tm_cfg.t2;
		tm_timer_arm(&u->retr, u->retr_ms);
		return;
	}
	/* H (no ACK came), I, J, L: the transaction ends. */
	if (u->state == TM_COMPLETED && u->invite) {
		sipd_stat_inc(tm_st.timeouts);
		SIPD_DBG("no ACK for %d to INVITE (Timer H)", u->status);
	}
	tm_timer_disarm(&u->retr);
	tm_state_set(&u->state, TM_TERMINATED);
}

bool tm_cell_done(struct tm_cell *c)
{
	if (c->has_uas && c->uas.state != TM_TERMINATED)
		return false;
	for (unsigned i = 0; i < c->nuac; i++) {
		struct tm_uac *u = c->uac[i];

		if (u->state != TM_TERMINATED || u->resolving ||
		    (u->cancel && u->cancel->state != TM_TERMINATED))
			return false;
	}
	return true;
}

void tm_cell_disarm(struct tm_cell *c)
{
	if (c->has_uas) {
		tm_timer_disarm(&c->uas.retr);
		tm_timer_disarm(&c->uas.timeout);
	}
	for (unsigned i = 0; i < c->nuac; i++) {
		tm_uac_disarm(c->uac[i]);
		if (c->uac[i]->cancel)
			tm_uac_disarm(c->uac[i]->cancel);
	}
}

void tm_cell_check_done(struct tm_cell *c)
{
	if (!c->linked)
		return;
	if (!tm_cell_done(c)) {
		tm_cell_compact(c);
		return;
	}
	tm_cell_disarm(c);
	tm_cell_unlink(c);
}
