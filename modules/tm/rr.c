/* record_route() and loose_route(): Record-Route with ;lr (RFC 3261 16.6 step 4) and Route processing
 * (16.4, 16.12). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>

#include "tm_int.h"

/*
 * "<sip:host:port;transport=tcp;lr>" for listen socket l as the peer at peer
 * sees it. Over TLS a sips Request-URI gets a sips Record-Route (RFC 3261
 * 16.6 step 4), any other "transport=tls" (RFC 5630 4.1 keeps it for sip
 * URIs that must stay on TLS hop by hop). Toward a WebSocket peer the user
 * part is a flow token for conn_id (RFC 7118 5:
 * "<sip:h7kjh12s@proxy.example.com:443;transport=wss;lr>").
 */
int tm_rr_value(struct sipd_msg *m, const struct sipd_listen *l, const union sipd_sockaddr *peer,
		uint64_t conn_id, struct sipd_str *out)
{
	struct sipd_dest d = {.proto = l->proto, .from = l, .conn_id = conn_id};
	const struct sipd_uri *ru;
	char host[64], hp[80], token[128] = "", *p;
	uint16_t port;
	int n, err;

	if (peer)
		d.addr = *peer;
	else
		d.addr = l->addr;
	if ((err = tm_local_addr(&d, host, sizeof(host), &port)))
		return err;
	tm_hostport(hp, sizeof(hp), host, port);
	if (tm_flow_proto(l->proto) && conn_id && peer && (err = tm_flow_encode(token, sizeof(token), &d)))
		return err;
	if (!(p = sipd_msg_alloc(m, 256)))
		return ENOMEM;
	if (l->proto == SIPD_PROTO_TLS && sipd_msg_ruri(m, &ru) == 0 && ru->scheme == SIPD_URI_SIPS)
		n = snprintf(p, 256, "<sips:%s;lr>", hp);
	else
		n = snprintf(p, 256, "<sip:%s%s%s%s%s;lr>", token, *token ? "@" : "", hp,
			     l->proto == SIPD_PROTO_UDP ? "" : ";transport=",
			     l->proto == SIPD_PROTO_UDP ? "" : sipd_proto_name(l->proto));
	if (n < 0 || n >= 256)
		return EMSGSIZE;
	*out = (struct sipd_str){p, (size_t)n};
	return 0;
}

enum sipd_result tm_record_route(struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg;
	struct sipd_str v;

	if (!ctx->rcv || !ctx->rcv->listen)
		return SIPD_FALSE;
	if (tm_rr_value(m, ctx->rcv->listen, &ctx->rcv->src, ctx->rcv->conn_id, &v) ||
	    tm_hdr_prepend(m, m->h_record_route, SIPD_STR("Record-Route"), v))
		return SIPD_ERROR;
	tm_rr_mark(ctx);
	return SIPD_TRUE;
}

static bool uri_is_me(struct sipd_str value, struct sipd_uri *u)
{
	const char *lt = memchr(value.p, '<', value.len), *gt;
	struct sipd_str uri = value;

	if (lt && (gt = memchr(lt, '>', value.len - (size_t)(lt - value.p))))
		uri = (struct sipd_str){lt + 1, (size_t)(gt - lt - 1)};
	return tm_parser->uri_parse(u, uri) == 0 && u->scheme != SIPD_URI_TEL &&
	       sipd_is_myself(u->host, u->port);
}

/*
 * A flow token in one of our routes names a WebSocket connection: unless the
 * request came over that very connection, that is where it goes next.
 */
static int follow_flow(struct sipd_ctx *ctx, const struct sipd_dest *d)
{
	struct sipd_msg *m = ctx->msg;
	struct sipd_branch b = {.q = -1};

	if (d->conn_id == ctx->rcv->conn_id)
		return 0;
	b.uri = m->ops->current_ruri(m);
	b.proto = d->proto;
	b.received = d->addr;
	b.conn_id = d->conn_id;
	sipd_branch_clear(ctx);
	return sipd_branch_add(ctx, &b);
}

/* 16.4: a strict router before us put our URI in the Request-URI; the real one is the last Route. */
static int strict_fix(struct sipd_msg *m)
{
	struct sipd_hdr *last = NULL;
	struct sipd_str first, rest, prev = SIPD_STR_NULL, lastv = SIPD_STR_NULL, v;
	const char *lt, *gt;

	for (struct sipd_hdr *h = m->h_route; h; h = sipd_msg_hdr_next(m, h))
		last = h;
	if (!last)
		return 0;
	for (v = last->value; v.len; v = rest) {
		tm_hdr_split(v, &first, &rest);
		if (!rest.len) {
			lastv = first;
			break;
		}
		prev = (struct sipd_str){last->value.p, (size_t)(first.p + first.len - last->value.p)};
	}
	lt = memchr(lastv.p, '<', lastv.len);
	if (lt && (gt = memchr(lt, '>', lastv.len - (size_t)(lt - lastv.p))))
		lastv = (struct sipd_str){lt + 1, (size_t)(gt - lt - 1)};
	if (m->ops->set_ruri(m, lastv))
		return EINVAL;
	return prev.len ? m->ops->hdr_replace(m, last, prev) : m->ops->hdr_remove(m, last);
}

enum sipd_result tm_loose_route(struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg;
	const struct sipd_uri *ru;
	struct sipd_dest flow = {0};
	bool removed = false, more = false;

	if (!m->h_route)
		return SIPD_FALSE;
	if (sipd_msg_ruri(m, &ru) == 0 && ru->scheme != SIPD_URI_TEL && sipd_is_myself(ru->host, ru->port) &&
	    strict_fix(m))
		return SIPD_ERROR;
	/* Our own entries on top (two after double record-routing) are consumed; the next hop is what
	 * follows. */
	for (struct sipd_hdr *h = m->h_route; h && !more; h = sipd_msg_hdr_next(m, h)) {
		struct sipd_str first, rest = h->value;
		int err = 0;

		while (rest.len) {
			struct sipd_str v = rest;
			struct sipd_uri u;
			struct sipd_dest d;

			tm_hdr_split(v, &first, &rest);
			if (!uri_is_me(first, &u)) {
				more = true;
				rest = v;
				break;
			}
			if (u.user.len && tm_flow_decode(&d, u.user) == 0 && d.conn_id != ctx->rcv->conn_id)
				flow = d;
			removed = true;
		}
		if (rest.len == h->value.len)
			break;
		err = rest.len ? m->ops->hdr_replace(m, h, rest) : m->ops->hdr_remove(m, h);
		if (err)
			return SIPD_ERROR;
	}
	if (flow.conn_id && follow_flow(ctx, &flow))
		return SIPD_ERROR;
	return removed || more ? SIPD_TRUE : SIPD_FALSE;
}
