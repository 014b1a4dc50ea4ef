/* Responses tm forwards upstream (RFC 4028 8.2): timers added to 2xx, dialogs created, refreshed, removed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>

#include "st.h"

#define MAX_RR 32

static struct sipd_str tag_of(struct sipd_msg *m, struct sipd_hdr *h)
{
	const struct sipd_nameaddr *na;

	return sipd_msg_hdr(m, h, (const void **)&na) == 0 ? na->tag : SIPD_STR_NULL;
}

static uint32_t cseq_of(struct sipd_msg *m)
{
	const struct sipd_cseq *cs;

	return sipd_msg_cseq(m, &cs) == 0 ? cs->number : 0;
}

static enum st_ref ref_of(struct sipd_str r)
{
	if (sipd_str_caseeq_c(r, "uac"))
		return ST_REF_UAC;
	if (sipd_str_caseeq_c(r, "uas"))
		return ST_REF_UAS;
	return ST_REF_NONE;
}

/*
 * The interval the 2xx settles. When the UAS chose none but the UAC
 * supports timers, the session is timed anyway: the proxy adds the
 * interval the relayed request asked for with the UAC as refresher (8.2).
 */
static void negotiate(struct sipd_msg *req, struct sipd_msg *resp, uint32_t *interval, enum st_ref *ref)
{
	const struct sipd_session_expires *se;
	struct st_request r;
	struct st_decision d;
	char value[32];
	int n;

	*interval = 0;
	*ref = ST_REF_NONE;
	if (resp->h_session_expires) {
		if (sipd_msg_hdr(resp, resp->h_session_expires, (const void **)&se) == 0) {
			*interval = se->delta;
			*ref = ref_of(se->refresher);
		}
		return;
	}
	/* The stored request carries the original headers: the same decision gives the relayed interval. */
	st_request_read(&r, req);
	st_policy_decide(&d, &st_policy, &r);
	if (d.status || !d.se || !r.supports_timer)
		return;
	n = snprintf(value, sizeof(value), "%u;refresher=uac", d.se);
	if (resp->ops->hdr_append(resp, SIPD_STR("Session-Expires"), (struct sipd_str){value, (size_t)n}) ||
	    resp->ops->hdr_append(resp, SIPD_STR("Require"), SIPD_STR("timer")))
		return;
	*interval = d.se;
	*ref = ST_REF_UAC;
}

/* Appends "<uri>" to a comma list in buf. */
static int route_add(char *buf, size_t size, size_t *len, const struct sipd_nameaddr *na)
{
	int n = snprintf(buf + *len, size - *len, "%s<%.*s>", *len ? ", " : "", SIPD_STR_FMT(na->uri.raw));

	if (n < 0 || (size_t)n >= size - *len)
		return ENOSPC;
	*len += (size_t)n;
	return 0;
}

/*
 * Splits the 2xx's Record-Route around our own entries: those above us lead
 * to the callee (in reverse: the nearest first), those below to the caller.
 */
static int route_sets(struct sipd_msg *resp, struct sipd_str *to_caller, struct sipd_str *to_callee)
{
	const struct sipd_nameaddr *rr, *e[MAX_RR];
	size_t size = resp->h_record_route ? resp->len : 0, lc = 0, le = 0;
	unsigned n = 0, i0, i1;
	char *bc, *be;

	if (sipd_msg_hdr(resp, resp->h_record_route, (const void **)&rr))
		return ENOENT;
	for (; rr && n < MAX_RR; rr = rr->next)
		e[n++] = rr;
	for (i0 = 0; i0 < n && !sipd_is_myself(e[i0]->uri.host, e[i0]->uri.port); i0++)
		;
	if (i0 == n)
		return ENOENT; /* not on the path: refreshes would pass us by */
	for (i1 = i0; i1 + 1 < n && sipd_is_myself(e[i1 + 1]->uri.host, e[i1 + 1]->uri.port); i1++)
		;
	bc = sipd_msg_alloc(resp, size + 1);
	be = sipd_msg_alloc(resp, size + 1);
	if (!bc || !be)
		return ENOMEM;
	bc[0] = be[0] = '\0';
	for (unsigned j = i0; j-- > 0;)
		if (route_add(be, size + 1, &le, e[j]))
			return ENOSPC;
	for (unsigned j = i1 + 1; j < n; j++)
		if (route_add(bc, size + 1, &lc, e[j]))
			return ENOSPC;
	*to_caller = (struct sipd_str){bc, lc};
	*to_callee = (struct sipd_str){be, le};
	return 0;
}

static void dest_of(struct sipd_dest *d, const struct sipd_rcvinfo *ri)
{
	memset(d, 0, sizeof(*d));
	if (!ri)
		return;
	d->proto = ri->proto;
	d->addr = ri->src;
	d->from = ri->listen;
	d->conn_id = ri->conn_id;
}

/* The message came from another node of the cluster. */
static bool from_peer(const struct sipd_msg *m)
{
	return m->rcv && sipd_node_is_peer(&m->rcv->src);
}

static void create(struct sipd_msg *req, struct sipd_msg *resp, uint32_t interval, enum st_ref ref)
{
	const struct sipd_nameaddr *cc, *ce;
	struct st_dialog_info di = {0};
	int err;

	/*
	 * The 2xx came from another node of the cluster that record-routed too (it relayed to a flow it
	 * holds): that node, nearer the callee, tracks the session, so that one node alone runs its expiry.
	 */
	if (from_peer(resp)) {
		SIPD_DBG("session %.*s is tracked by the node that answered it", SIPD_STR_FMT(req->call_id));
		return;
	}
	if (!req->h_from || !resp->h_to || sipd_msg_contact(req, &cc) || sipd_msg_contact(resp, &ce) ||
	    route_sets(resp, &di.route_caller, &di.route_callee)) {
		/* Without our Record-Route or the contacts we could neither see refreshes nor end it. */
		sipd_stat_inc(st_st.untracked);
		SIPD_DBG("session %.*s not tracked: no Record-Route of ours or no Contact",
			 SIPD_STR_FMT(req->call_id));
		return;
	}
	di.call_id = req->call_id;
	di.caller_tag = tag_of(req, req->h_from);
	di.callee_tag = tag_of(resp, resp->h_to);
	di.caller = req->h_from->value;
	di.callee = resp->h_to->value;
	di.caller_contact = cc->uri.raw;
	di.callee_contact = ce->uri.raw;
	dest_of(&di.caller_dst, req->rcv);
	dest_of(&di.callee_dst, resp->rcv);
	di.caller_cseq = cseq_of(req);
	di.interval = interval;
	di.refresher = ref == ST_REF_UAC   ? ST_PARTY_CALLER
		       : ref == ST_REF_UAS ? ST_PARTY_CALLEE
					   : ST_PARTY_NONE;
	if ((err = st_dialog_create(&di)))
		SIPD_WARN("session %.*s not tracked: %s", SIPD_STR_FMT(req->call_id), strerror(err));
}

void st_on_response(void *arg, struct sipd_msg *req, struct sipd_msg *resp, int status)
{
	enum sipd_method m = req->method_id;
	struct sipd_str ftag, ttag;
	enum st_ref ref;
	uint32_t interval;
	bool in_dialog;

	(void)arg;
	if (st_policy.mode == ST_MODE_OFF || status < 200 ||
	    (m != SIPD_METHOD_INVITE && m != SIPD_METHOD_UPDATE && m != SIPD_METHOD_BYE))
		return;
	ftag = tag_of(req, req->h_from);
	ttag = tag_of(req, req->h_to);
	in_dialog = ttag.len > 0;
	if (m == SIPD_METHOD_BYE) {
		/* 481/408: the other side has no such dialog (any more) either. */
		if ((status < 300 || status == 408 || status == 481) &&
		    st_dialog_remove(req->call_id, ftag, ttag) == 0) {
			sipd_stat_inc(st_st.ended);
			st_event_ended(req->call_id, "bye");
		}
		return;
	}
	if (status >= 300) {
		/* RFC 4028 10 / RFC 5057: a refresh answered 408 or 481 means the dialog is gone. */
		if (in_dialog && (status == 408 || status == 481) &&
		    st_dialog_remove(req->call_id, ftag, ttag) == 0) {
			sipd_stat_inc(st_st.refresh_failed);
			st_event_ended(req->call_id, "failed");
		}
		return;
	}
	if (!resp)
		return;
	negotiate(req, resp, &interval, &ref);
	if (!in_dialog) {
		if (m == SIPD_METHOD_INVITE)
			create(req, resp, interval, ref);
		return;
	}
	if (st_dialog_refresh(req->call_id, ftag, ttag, interval, ref, cseq_of(req)) == ENOENT &&
	    !from_peer(req) && !from_peer(resp))
		/* Another node may hold it (it took it over from this one, say): the session moves here. */
		st_takeover_refresh(req->call_id, ftag, ttag, interval, ref, cseq_of(req));
}
