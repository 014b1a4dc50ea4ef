/* The stateful proxy core (RFC 3261 16): relaying to branches, response selection, failure routes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>

#include "tm_int.h"

/* ---- loop detection (16.3 step 4) ---- */

static uint32_t hash_hdrs(struct sipd_msg *m, enum sipd_hdr_type t, uint32_t h)
{
	for (unsigned i = 0; i < m->hdr_count; i++)
		if (m->hdrs[i].type == t)
			h = tm_hash(m->hdrs[i].value, h);
	return h;
}

static struct sipd_str tag_of(struct sipd_msg *m, struct sipd_hdr *hd)
{
	const struct sipd_nameaddr *na;

	return sipd_msg_hdr(m, hd, (const void **)&na) == 0 ? na->tag : SIPD_STR_NULL;
}

/* What a loop leaves unchanged and a spiral changes: the fields 16.6 step 8 names. */
static uint32_t loop_hash(struct sipd_msg *m)
{
	const struct sipd_cseq *cs;
	uint32_t h = tm_hash(m->ruri, 7);

	h = tm_hash(tag_of(m, m->h_from), h);
	h = tm_hash(tag_of(m, m->h_to), h);
	h = tm_hash(m->call_id, h);
	if (sipd_msg_cseq(m, &cs) == 0)
		h = tm_hash((struct sipd_str){(const char *)&cs->number, sizeof(cs->number)}, h);
	h = hash_hdrs(m, SIPD_HDR_ROUTE, h);
	h = hash_hdrs(m, SIPD_HDR_PROXY_REQUIRE, h);
	return h;
}

bool tm_proxy_loops(struct sipd_msg *m, uint32_t *hash)
{
	const struct sipd_via *v;
	unsigned bucket, idx;
	uint32_t label, lh;

	*hash = loop_hash(m);
	if (sipd_msg_via(m, &v))
		return false;
	for (; v; v = v->next)
		if (tm_branch_parse(v->branch, &bucket, &label, &idx, &lh) && lh == *hash &&
		    sipd_is_myself(v->host, v->port))
			return true;
	return false;
}

/* ---- forwarding responses upstream ---- */

/* Filled at start-up before traffic flows; count is published after its entry. */
static struct {
	tm_response_hook_fn fn;
	void *arg;
} hooks[TM_MAX_RESPONSE_HOOKS];
static unsigned hook_count;

int tm_proxy_hook_add(tm_response_hook_fn fn, void *arg)
{
	unsigned n = __atomic_load_n(&hook_count, __ATOMIC_ACQUIRE);

	if (!fn)
		return EINVAL;
	if (n >= TM_MAX_RESPONSE_HOOKS)
		return ENOSPC;
	hooks[n].fn = fn;
	hooks[n].arg = arg;
	__atomic_store_n(&hook_count, n + 1, __ATOMIC_RELEASE);
	return 0;
}

static void run_hooks(struct tm_cell *c, struct sipd_msg *resp, int status)
{
	unsigned n = __atomic_load_n(&hook_count, __ATOMIC_ACQUIRE);

	/* A compacted cell forwards a retransmitted (or a late forked) 2xx: its request is gone. */
	if (!c->uas.req)
		return;
	for (unsigned i = 0; i < n; i++)
		hooks[i].fn(hooks[i].arg, c->uas.req, resp, status);
}

static int forward_response(struct tm_cell *c, struct sipd_msg *resp)
{
	struct sipd_str out;
	int err;

	run_hooks(c, resp, resp->status);
	if ((err = tm_via_pop(resp)) || (err = tm_hdr_frame(resp, c->uas.resp_dst.proto)) ||
	    (err = resp->ops->serialize(resp, &out)))
		return err;
	return tm_uas_send(c, resp->status, out.p, out.len);
}

static bool uac_pending(const struct tm_uac *u)
{
	return u->resolving || u->state == TM_CALLING || u->state == TM_TRYING || u->state == TM_PROCEEDING;
}

static void cancel_others(struct tm_cell *c, const struct tm_uac *except)
{
	for (unsigned i = 0; i < c->nuac; i++)
		if (c->uac[i] != except)
			tm_uac_cancel(c->uac[i]);
}

/* The status a branch counts with (16.7 step 6, 16.8): local failures and Timer C. */
static int effective_status(const struct tm_cell *c, const struct tm_uac *u)
{
	if (u->timed_out)
		return c->cancelled ? 487 : 408;
	if (!u->local_final)
		return u->status;
	if (c->cancelled)
		return 487;
	/* A transport failure toward the callee is not the server being unavailable. */
	return u->status == 503 ? 480 : u->status;
}

static int class_rank(int s)
{
	/* 6xx ends the search; then 2xx..5xx by class; 4xx before 5xx (16.7 step 6). */
	return s >= 600 ? 0 : s / 100;
}

static struct tm_uac *best_branch(struct tm_cell *c)
{
	struct tm_uac *best = NULL;
	int best_s = 0;

	for (unsigned i = 0; i < c->nuac; i++) {
		struct tm_uac *u = c->uac[i];
		int s = effective_status(c, u);

		if (s < 300 || u->replaced)
			continue;
		if (!best || class_rank(s) < class_rank(best_s)) {
			best = u;
			best_s = s;
		}
	}
	return best;
}

/* local: the branch failed here, and here a 404 or 504 only ever comes from a failed lookup. */
static void reason_for(int s, bool local, const char **reason)
{
	switch (s) {
	case 404:
		*reason = local ? "Unresolvable Destination" : "Not Found";
		break;
	case 504:
		*reason = local ? "DNS Server Failure" : "Server Time-out";
		break;
	case 408:
		*reason = "Request Timeout";
		break;
	case 430:
		*reason = "Flow Failed"; /* RFC 5626 11.5: a WebSocket (or other flow) that is gone */
		break;
	case 480:
		*reason = "Temporarily Unavailable";
		break;
	case 487:
		*reason = "Request Terminated";
		break;
	case 500:
		*reason = "Server Internal Error";
		break;
	case 503:
		*reason = "Service Unavailable";
		break;
	default:
		*reason = "Request Failed";
		break;
	}
}

/*
 * The script's lock comes before a cell's (relay() locks the cell it creates), so
 * routes run with the cell unlocked; the caller holds a reference. Meanwhile no
 * other thread concludes the cell (send_final defers to the route's thread).
 */
static void run_route_unlocked(struct tm_cell *c, struct sipd_ctx *ctx, int route)
{
	c->routes_running++;
	tm_cell_unlock(c);
	tm_sys->run_route(ctx, route);
	tm_cell_lock(c);
	c->routes_running--;
}

static void run_failure_route(struct tm_cell *c)
{
	struct sipd_msg *fm = NULL;
	int route = c->on_failure;

	if (route < 0 || c->cancelled || !tm_sys->run_route || !c->uas.req ||
	    c->uas.req->ops->clone(&fm, c->uas.req))
		return;
	/* One shot: the failure route arms itself again with t_on_failure() if it wants. */
	c->on_failure = -1;
	struct sipd_ctx ctx = {
	    .msg = fm,
	    .rcv = fm->rcv,
	    .route = SIPD_ROUTE_FAILURE,
	    .owner = c,
	};
	run_route_unlocked(c, &ctx, route);
	fm->ops->free(fm);
}

/* 16.7 step 7: a 401 or 407 going upstream carries the challenges of every branch's 401 and 407. */
static void merge_challenges(struct tm_cell *c, struct tm_uac *best)
{
	struct sipd_msg *f = best->final;

	for (unsigned i = 0; i < c->nuac; i++) {
		struct sipd_msg *o = c->uac[i]->final;

		if (c->uac[i] == best || !o || (o->status != 401 && o->status != 407))
			continue;
		for (unsigned k = 0; k < o->hdr_count; k++) {
			const struct sipd_hdr *h = &o->hdrs[k];
			char *v;

			if (h->type != SIPD_HDR_WWW_AUTHENTICATE && h->type != SIPD_HDR_PROXY_AUTHENTICATE)
				continue;
			/* The value must live as long as the message it goes into. */
			if (!(v = sipd_msg_alloc(f, h->value.len ? h->value.len : 1)))
				return;
			memcpy(v, h->value.p, h->value.len);
			f->ops->hdr_append(f,
					   h->type == SIPD_HDR_WWW_AUTHENTICATE
					       ? SIPD_STR("WWW-Authenticate")
					       : SIPD_STR("Proxy-Authenticate"),
					   (struct sipd_str){v, h->value.len});
		}
	}
}

static void send_final(struct tm_cell *c)
{
	struct tm_uac *best;
	const char *reason;
	int s;

	for (unsigned i = 0; i < c->nuac; i++)
		if (uac_pending(c->uac[i]))
			return;
	if (c->routes_running) {
		c->final_deferred = true;
		return;
	}
	c->final_deferred = false;
	run_failure_route(c);
	if (c->uas.status >= 200 || c->final_sent)
		return; /* t_reply() in the failure route answered, or a 2xx went by meanwhile */
	for (unsigned i = 0; i < c->nuac; i++)
		if (uac_pending(c->uac[i]))
			return; /* the failure route relayed again */
	c->final_sent = true;
	best = best_branch(c);
	s = best ? effective_status(c, best) : 500;
	if (best && s == best->status && !best->local_final && best->final && s != 503) {
		if (s == 401 || s == 407)
			merge_challenges(c, best);
		if (forward_response(c, best->final) == 0)
			return;
	}
	/* 16.7 step 6: a 503 from downstream becomes 500 (the callee is busy, not us). */
	if (s == 503)
		s = 500;
	reason_for(s, best && best->local_final, &reason);
	run_hooks(c, NULL, s);
	tm_uas_reply(c, s, reason, NULL, NULL, NULL);
}

static bool run_reply_route(struct tm_cell *c, struct sipd_msg *resp)
{
	struct sipd_ctx ctx = {.msg = resp, .rcv = resp->rcv, .route = SIPD_ROUTE_REPLY, .owner = c};

	if (!tm_sys->run_route)
		return true;
	run_route_unlocked(c, &ctx, SIPD_ROUTE_ID_REPLY);
	if (c->on_reply >= 0 && !ctx.dropped)
		run_route_unlocked(c, &ctx, c->on_reply);
	return !ctx.dropped;
}

static void on_response(struct tm_uac *u, struct sipd_msg *resp)
{
	struct tm_cell *c = u->cell;
	int s = resp ? resp->status : u->status;

	if (resp && !run_reply_route(c, resp) && s < 200)
		return;
	if (s < 200) {
		/* 16.7 step 5: provisionals other than 100 go upstream while no final went. */
		if (resp && s > 100 && c->uas.status < 200)
			forward_response(c, resp);
		return;
	}
	if (s < 300) {
		/* Every 2xx goes upstream at once; the others are cancelled (16.7 step 10). */
		if (resp)
			forward_response(c, resp);
		c->forwarded_2xx = c->final_sent = true;
		if (u->invite)
			cancel_others(c, u);
		return;
	}
	if (resp && !u->final && resp->ops->clone(&u->final, resp))
		u->final = NULL;
	if (s >= 600 && u->invite && !u->local_final)
		cancel_others(c, u);
	if (!c->final_sent && !c->relaying)
		send_final(c);
}

void tm_proxy_on_response(struct tm_uac *u, struct sipd_msg *resp)
{
	struct tm_cell *c = u->cell;

	on_response(u, resp);
	/* Another thread left the final answer to the routes that ran here. */
	if (c->final_deferred && !c->routes_running)
		tm_proxy_check_final(c);
}

void tm_proxy_check_final(struct tm_cell *c)
{
	if (!c->final_sent && !c->relaying)
		send_final(c);
}

void tm_proxy_cancel(struct tm_cell *c)
{
	if (c->uas.status >= 200)
		return;
	c->cancelled = true;
	cancel_others(c, NULL);
	/* Branches still resolving never went out: they end here. */
	for (unsigned i = 0; i < c->nuac; i++)
		if (c->uac[i]->resolving) {
			c->uac[i]->resolving = false;
			tm_uac_fail(c->uac[i], 487);
		}
}
