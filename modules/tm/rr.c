/* record_route() and loose_route(): Record-Route with ;lr (RFC 3261 16.6 step 4) and Route processing
 * (16.4, 16.12). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/branch.h>
#include <sipd/core.h>
#include <sipd/log.h>

#include "tm_int.h"

/* "<sip:host:port;transport=tcp;lr>" for listen socket l as the peer at peer sees it. */
int tm_rr_value(struct sipd_msg *m, const struct sipd_listen *l, const union sipd_sockaddr *peer,
		struct sipd_str *out)
{
	struct sipd_dest d = {.proto = l->proto, .from = l};
	char host[64], hp[80], *p;
	uint16_t port;
	int n, err;

	if (peer)
		d.addr = *peer;
	else
		d.addr = l->addr;
	if ((err = tm_local_addr(&d, host, sizeof(host), &port)))
		return err;
	tm_hostport(hp, sizeof(hp), host, port);
	if (!(p = sipd_msg_alloc(m, 128)))
		return ENOMEM;
	n = snprintf(p, 128, "<sip:%s%s%s;lr>", hp, l->proto == SIPD_PROTO_UDP ? "" : ";transport=",
		     l->proto == SIPD_PROTO_UDP ? "" : sipd_proto_name(l->proto));
	if (n < 0 || n >= 128)
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
	if (tm_rr_value(m, ctx->rcv->listen, &ctx->rcv->src, &v) ||
	    tm_hdr_prepend(m, m->h_record_route, SIPD_STR("Record-Route"), v))
		return SIPD_ERROR;
	tm_rr_mark(ctx);
	return SIPD_TRUE;
}

static bool uri_is_me(struct sipd_str value)
{
	const char *lt = memchr(value.p, '<', value.len), *gt;
	struct sipd_str uri = value;
	struct sipd_uri u;

	if (lt && (gt = memchr(lt, '>', value.len - (size_t)(lt - value.p))))
		uri = (struct sipd_str){lt + 1, (size_t)(gt - lt - 1)};
	return tm_parser->uri_parse(&u, uri) == 0 && u.scheme != SIPD_URI_TEL &&
	       sipd_is_myself(u.host, u.port);
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

/*
 * Our Route entry naming a flow (";sipd-flow=tcp:192.0.2.7:5062~17"): another
 * node sharing the database found a binding whose connection this node
 * holds (registrar cluster.c), so the request goes on over that connection.
 * 0 also when the entry names none (or a malformed one: it is ignored).
 */
static int flow_branch(struct sipd_ctx *ctx, struct sipd_str entry)
{
	static const char key[] = ";sipd-flow=";
	const char *p = memmem(entry.p, entry.len, key, sizeof(key) - 1), *end, *tilde;
	struct sipd_branch b = {.q = -1};
	char *stop;

	/* Only another node of the cluster may ask for one of our connections. */
	if (!p || !ctx->rcv || !sipd_node_is_peer(&ctx->rcv->src))
		return 0;
	p += sizeof(key) - 1;
	for (end = p; end < entry.p + entry.len && *end != ';' && *end != '>'; end++)
		;
	if (!(tilde = memchr(p, '~', (size_t)(end - p))) ||
	    sipd_peer_parse((struct sipd_str){p, (size_t)(tilde - p)}, &b.proto, &b.received) != 0)
		return 0;
	b.conn_id = strtoull(tilde + 1, &stop, 10);
	if (stop != end || !b.conn_id)
		return 0;
	b.uri = ctx->msg->ops->current_ruri(ctx->msg);
	sipd_branch_clear(ctx);
	return sipd_branch_add(ctx, &b) == 0 ? 0 : ENOMEM;
}

enum sipd_result tm_loose_route(struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg;
	const struct sipd_uri *ru;
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

			tm_hdr_split(v, &first, &rest);
			if (!uri_is_me(first)) {
				more = true;
				rest = v;
				break;
			}
			removed = true;
			if (flow_branch(ctx, first) != 0)
				return SIPD_ERROR;
		}
		if (rest.len == h->value.len)
			break;
		err = rest.len ? m->ops->hdr_replace(m, h, rest) : m->ops->hdr_remove(m, h);
		if (err)
			return SIPD_ERROR;
	}
	return removed || more ? SIPD_TRUE : SIPD_FALSE;
}
