/* Responses that match no transaction (RFC 3261 16.7, 18.2.1): the main reply_route sees them, then our Via
 * is popped and they go on statelessly per the next Via (18.2.2, RFC 3581). */
#include <errno.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>

#include "tm_int.h"

/* 18.2.2 for a response we forward: received and rport of the next Via, else its sent-by. */
static int next_via_dest(struct sipd_dest *d, const struct sipd_via *v)
{
	struct sipd_str host = v->received.len ? v->received : v->host;
	uint16_t port = v->port;

	memset(d, 0, sizeof(*d));
	d->proto = sipd_proto_parse(v->protocol);
	if (d->proto == SIPD_PROTO_NONE)
		return EPROTONOSUPPORT;
	/* A name in sent-by needs RFC 3263 5; clients behind a proxy give an address (or received). */
	if (!tm_ip_literal(host, &d->addr))
		return EHOSTUNREACH;
	if (v->rport && v->rport_value > 0 && v->rport_value < 65536)
		port = (uint16_t)v->rport_value;
	if (!port)
		port = d->proto == SIPD_PROTO_TLS ? 5061 : 5060;
	if (d->addr.sa.sa_family == AF_INET6)
		d->addr.sin6.sin6_port = htons(port);
	else
		d->addr.sin.sin_port = htons(port);
	d->from = tm_listen_for(d->proto, d->addr.sa.sa_family);
	return 0;
}

bool tm_stateless_response(struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg;
	const struct sipd_via *v;
	struct sipd_dest d;
	struct sipd_str out;
	int err;

	/* 18.1.2: a response whose top Via is not ours was misrouted; one with only ours was for us. */
	if (sipd_msg_via(m, &v) || !sipd_is_myself(v->host, v->port) || !v->next) {
		sipd_stat_inc(tm_st.stateless_dropped);
		return true;
	}
	if (tm_sys->run_route) {
		tm_sys->run_route(ctx, SIPD_ROUTE_ID_REPLY);
		if (ctx->dropped)
			return true;
	}
	if ((err = next_via_dest(&d, v->next)) || (err = tm_via_pop(m)) || (err = tm_hdr_frame(m, d.proto)) ||
	    (err = m->ops->serialize(m, &out)) || (err = tm_sys->send(&d, out.p, out.len))) {
		SIPD_DBG("%d response to %.*s not forwarded statelessly: %s", m->status,
			 SIPD_STR_FMT(m->call_id), strerror(err));
		sipd_stat_inc(tm_st.stateless_dropped);
		return true;
	}
	sipd_stat_inc(tm_st.stateless_forwarded);
	return true;
}
