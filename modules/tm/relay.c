/* Relaying a request (RFC 3261 16.6): one copy per target, the next hop, our Via; ACK of a 2xx statelessly.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

struct target {
	const struct sipd_dest *fixed; /* a caller-chosen destination (C API) */
	struct sipd_str uri, dst_uri, path;
	enum sipd_proto proto;
	union sipd_sockaddr received;
	uint64_t conn_id;
};

/* The script's edits applied, as a fresh message with its own buffer: Route headers as they now are. */
static int base_copy(struct sipd_msg **out, struct sipd_msg *m)
{
	struct sipd_msg *tmp = NULL;
	struct sipd_str s;
	int err;

	if ((err = m->ops->serialize(m, &s)) || (err = tm_parser->parse(&tmp, s.p, s.len, m->rcv, NULL)))
		return err;
	err = tmp->ops->clone(out, tmp);
	tmp->ops->free(tmp);
	return err;
}

/* The URI inside one Route value ("<sip:...;lr>;x" or a bare URI). */
static struct sipd_str route_uri(struct sipd_str v)
{
	const char *lt = memchr(v.p, '<', v.len), *gt;

	if (!lt || !(gt = memchr(lt, '>', v.len - (size_t)(lt - v.p))))
		return v;
	return (struct sipd_str){lt + 1, (size_t)(gt - lt - 1)};
}

static bool uri_has_lr(struct sipd_str uri)
{
	struct sipd_uri u;

	return tm_parser->uri_parse(&u, uri) == 0 && u.lr;
}

/*
 * 16.6 steps 6-7: the next hop is dst_uri, else the first Route, else the
 * Request-URI. A first Route without ;lr is a strict router: it becomes the
 * Request-URI and the Request-URI goes to the end of the Route set.
 */
static int next_hop(struct sipd_msg *b, const struct target *t, struct sipd_str *hop)
{
	struct sipd_str first, rest, ruri = t->uri;
	char *p;
	int err;

	if (t->path.len) {
		tm_hdr_split(t->path, &first, &rest);
		*hop = route_uri(first);
		return 0;
	}
	if (t->dst_uri.len) {
		*hop = t->dst_uri;
		return 0;
	}
	if (!b->h_route) {
		*hop = ruri;
		return 0;
	}
	tm_hdr_split(b->h_route->value, &first, &rest);
	*hop = route_uri(first);
	if (uri_has_lr(*hop))
		return 0;
	if (!(p = sipd_msg_alloc(b, ruri.len + 2)))
		return ENOMEM;
	p[0] = '<';
	memcpy(p + 1, ruri.p, ruri.len);
	p[ruri.len + 1] = '>';
	if ((err = rest.len ? b->ops->hdr_replace(b, b->h_route, rest) : b->ops->hdr_remove(b, b->h_route)) ||
	    (err = b->ops->set_ruri(b, *hop)) ||
	    (err = b->ops->hdr_append(b, SIPD_STR("Route"), (struct sipd_str){p, ruri.len + 2})))
		return err;
	return 0;
}

static void via_value(char *buf, size_t size, const struct sipd_dest *d, const char *branch)
{
	char host[64], hp[80], proto[8];
	const char *pn = sipd_proto_name(d->proto);
	uint16_t port = 5060;
	size_t i;

	if (tm_local_addr(d, host, sizeof(host), &port))
		snprintf(host, sizeof(host), "127.0.0.1");
	tm_hostport(hp, sizeof(hp), host, port);
	for (i = 0; pn && pn[i] && i + 1 < sizeof(proto); i++)
		proto[i] = (char)toupper((unsigned char)pn[i]);
	proto[i] = '\0';
	snprintf(buf, size, "SIP/2.0/%s %s;branch=%s;rport", proto, hp, branch);
}

/* Our Via on top, the copy serialized, the client transaction started. */
static void dispatch(struct tm_uac *u)
{
	struct sipd_msg *b = u->tmpl;
	char via[256];
	struct sipd_str out;

	u->tmpl = NULL;
	via_value(via, sizeof(via), &u->dst, u->branch);
	/*
	 * Crossing sockets (UDP to TCP, or another address): a second Record-Route
	 * for the outbound side. Toward a WebSocket always: it carries the flow
	 * token of that connection, which differs from the inbound one even on
	 * the same listener (RFC 7118 5).
	 */
	if (u->cell->rr_listen && u->dst.from &&
	    (u->dst.from != u->cell->rr_listen || tm_flow_proto(u->dst.proto))) {
		struct sipd_str rr;

		if (tm_rr_value(b, u->dst.from, &u->dst.addr, u->dst.conn_id, &rr) == 0)
			tm_hdr_prepend(b, b->h_record_route, SIPD_STR("Record-Route"), rr);
	}
	if (b->ops->via_push(b, sipd_str_c(via)) || tm_hdr_frame(b, u->dst.proto) ||
	    b->ops->serialize(b, &out) || !(u->req = tm_strndup(out))) {
		b->ops->free(b);
		tm_uac_fail(u, 500);
		return;
	}
	u->req_len = out.len;
	b->ops->free(b);
	tm_uac_start(u);
}

bool tm_uac_failover(struct tm_uac *u)
{
	struct tm_cell *c = u->cell;
	struct sipd_msg *b = NULL;
	struct tm_uac *n;

	if (!u->nalt || u->replaced || u->is_cancel || !u->req || u->req_is_ack || c->cancelled ||
	    c->final_sent || (c->has_uas && c->uas.status >= 200))
		return false;
	/* The request as sent, without our Via: the new branch puts its own (a new transaction, 4.3). */
	if (tm_parser->parse(&b, u->req, u->req_len, NULL, NULL) || tm_via_pop(b) ||
	    tm_uac_add(&n, c, u->invite, u->uri ? u->uri : "")) {
		if (b)
			b->ops->free(b);
		return false;
	}
	n->dst = u->alt[0];
	/* The next target serves the same domain: the same name is checked (RFC 5922 4). */
	if (u->tls_name && (n->tls_name = strdup(u->tls_name)))
		n->dst.server_name = n->tls_name;
	if (u->nalt > 1 && (n->alt = malloc((u->nalt - 1) * sizeof(*n->alt)))) {
		memcpy(n->alt, u->alt + 1, (u->nalt - 1) * sizeof(*n->alt));
		n->nalt = u->nalt - 1;
	}
	free(u->alt);
	u->alt = NULL;
	u->nalt = 0;
	u->replaced = true;
	n->tmpl = b;
	SIPD_INFO("%s: a transport error or 503: the next target (RFC 3263 4.3)", n->uri);
	dispatch(n);
	return true;
}

/*
 * A name with no usable record is definite: 404 (RFC 3261 21.4.5, the
 * Request-URI's domain is not one anybody serves). DNS servers that did not
 * answer, or failed, are an external server the proxy depends on: 504
 * (21.5.5), not 503, which would say that this proxy is overloaded.
 */
int tm_resolve_status(int err)
{
	return err == ENOENT ? 404 : 504;
}

struct resolve_job {
	struct tm_cell *cell;
	unsigned idx;
};

static void resolved(void *arg, int err, const struct sipd_dest *d, unsigned n)
{
	struct resolve_job *j = arg;
	struct tm_cell *c = j->cell;
	struct tm_uac *u;

	tm_cell_lock(c);
	u = j->idx < c->nuac ? c->uac[j->idx] : NULL;
	/* ECANCELED is the resolver stopping: the cell goes with the table and nobody is answered. */
	if (u && u->resolving && err != ECANCELED) {
		u->resolving = false;
		if (err) {
			SIPD_INFO("cannot resolve %s: %s", u->uri, strerror(err));
			tm_uac_fail(u, tm_resolve_status(err));
		} else {
			u->dst = d[0];
			u->dst.server_name = u->tls_name;
			if (n > 1 && (u->alt = malloc((n - 1) * sizeof(*d)))) {
				memcpy(u->alt, d + 1, (n - 1) * sizeof(*d));
				u->nalt = n - 1;
			}
			dispatch(u);
		}
	}
	tm_cell_check_done(c);
	tm_cell_unlock(c);
	tm_cell_unref(c);
	free(j);
}

/*
 * A contact registered over a stream connection: the source port of that
 * connection is ephemeral, so once the connection is gone the address to
 * connect to is the Contact URI's own host and port, over the transport the
 * contact registered with (RFC 5626 5.3 sends over the flow while it lasts).
 * The transport uses conn_id while it is open and the address otherwise.
 * False when the URI names no IP literal: the registered-from address then.
 */
static bool stream_contact(struct sipd_dest *d, const struct target *t)
{
	struct sipd_dest u;
	bool need_dns;

	if (!t->conn_id || (t->proto != SIPD_PROTO_TCP && t->proto != SIPD_PROTO_TLS) || t->path.len ||
	    tm_dest_from_uri(&u, t->uri, &need_dns))
		return false;
	memset(d, 0, sizeof(*d));
	d->proto = t->proto;
	d->addr = u.addr;
	d->conn_id = t->conn_id;
	d->from = tm_listen_for(d->proto, d->addr.sa.sa_family);
	return true;
}

static int branch_start(struct tm_cell *c, struct sipd_msg *base, const struct target *t)
{
	struct sipd_msg *b = NULL;
	struct tm_uac *u = NULL;
	struct sipd_str hop;
	struct sipd_dest d;
	bool need_dns = false;
	char *uri;
	int err;

	if (!(uri = tm_strndup(t->uri)))
		return ENOMEM;
	if ((err = base->ops->clone(&b, base)))
		goto out;
	if (!sipd_str_eq(t->uri, base->ops->current_ruri(base)) && (err = b->ops->set_ruri(b, t->uri)))
		goto out;
	if (t->path.len && (err = tm_hdr_prepend(b, b->h_route, SIPD_STR("Route"), t->path)))
		goto out;
	if ((err = next_hop(b, t, &hop)))
		goto out;
	memset(&d, 0, sizeof(d));
	if (t->fixed) {
		d = *t->fixed;
		if (!d.from)
			d.from = tm_listen_for(d.proto, d.addr.sa.sa_family);
	} else if (stream_contact(&d, t)) {
		SIPD_DBG("%s: over connection %llu, else to the Contact", uri, (unsigned long long)d.conn_id);
	} else if (t->received.sa.sa_family == AF_INET || t->received.sa.sa_family == AF_INET6) {
		/* Where the contact registered from (NAT). */
		d.proto = t->proto ? t->proto : SIPD_PROTO_UDP;
		d.addr = t->received;
		d.conn_id = t->conn_id;
		d.from = tm_listen_for(d.proto, d.addr.sa.sa_family);
	} else if ((err = tm_dest_from_uri(&d, hop, &need_dns)) && !need_dns) {
		goto out;
	}
	if ((err = tm_uac_add(&u, c, base->method_id == SIPD_METHOD_INVITE, uri)))
		goto out;
	u->tmpl = b;
	b = NULL;
	if (need_dns && tm_uri_invalid_host(hop)) {
		/* Never looked up: a browser's flow that is not (or no longer) there. */
		SIPD_INFO("%s: a .invalid host is reachable only over its flow, and none is known", uri);
		tm_uac_fail(u, 430);
		goto out;
	}
	if (need_dns) {
		/* Only a host name needs resolving, and only a name can be checked in a certificate (SNI). */
		u->tls_name = tm_uri_tls_name(hop);
		struct resolve_job *j = malloc(sizeof(*j));

		err = ENOMEM;
		if (j) {
			j->cell = c;
			j->idx = u->idx;
			tm_cell_ref(c);
			u->resolving = true;
			err = tm_resolve(hop, sipd_loop_self(), resolved, j);
			if (err) {
				u->resolving = false;
				tm_cell_unref(c);
				free(j);
			}
		}
		if (err)
			tm_uac_fail(u, 503);
		err = 0;
		goto out;
	}
	u->dst = d;
	u->dst.server_name = u->tls_name;
	dispatch(u);
out:
	if (b)
		b->ops->free(b);
	if (err)
		SIPD_INFO("cannot relay to %s: %s", uri, strerror(err));
	free(uri);
	return err;
}

/* What the script asked for before relay() created the cell; a request runs on one thread. */
static __thread struct {
	const struct sipd_msg *m;
	int on_failure, on_reply;
	const struct sipd_listen *rr_listen;
} pending_routes;

static void pending_for(const struct sipd_msg *m)
{
	if (pending_routes.m != m) {
		pending_routes.m = m;
		pending_routes.on_failure = pending_routes.on_reply = -1;
		pending_routes.rr_listen = NULL;
	}
}

void tm_rr_mark(struct sipd_ctx *ctx)
{
	struct tm_cell *c = ctx->owner;

	if (c) {
		tm_cell_lock(c);
		c->rr_listen = ctx->rcv->listen;
		tm_cell_unlock(c);
		return;
	}
	pending_for(ctx->msg);
	pending_routes.rr_listen = ctx->rcv->listen;
}

void tm_routes_set(struct sipd_ctx *ctx, int on_failure, int on_reply)
{
	struct tm_cell *c = ctx->owner;

	if (c) {
		tm_cell_lock(c);
		if (on_failure >= 0)
			c->on_failure = on_failure;
		if (on_reply >= 0)
			c->on_reply = on_reply;
		tm_cell_unlock(c);
		return;
	}
	pending_for(ctx->msg);
	if (on_failure >= 0)
		pending_routes.on_failure = on_failure;
	if (on_reply >= 0)
		pending_routes.on_reply = on_reply;
}

/* The 2xx ACK (and any ACK we hold no transaction for) goes on statelessly, without retransmissions. */
static enum sipd_result relay_ack(struct sipd_ctx *ctx)
{
	struct sipd_msg *b = NULL;
	struct target t = {0};
	struct sipd_str hop, out;
	struct sipd_dest d;
	const struct sipd_via *v;
	bool need_dns;
	char branch[48], via[256];

	ctx->dropped = true;
	if (base_copy(&b, ctx->msg))
		return SIPD_STOP;
	t.uri = b->ops->current_ruri(b);
	if (sipd_branch_count(ctx)) {
		/* loose_route() found a flow token: the ACK goes over that WebSocket. */
		const struct sipd_branch *br = sipd_branch_get(ctx, 0);

		memset(&d, 0, sizeof(d));
		d.proto = br->proto;
		d.addr = br->received;
		d.conn_id = br->conn_id;
		d.from = tm_listen_for(d.proto, d.addr.sa.sa_family);
		if (sipd_msg_via(ctx->msg, &v))
			goto out;
	} else if (next_hop(b, &t, &hop) || tm_dest_from_uri(&d, hop, &need_dns) ||
		   sipd_msg_via(ctx->msg, &v)) {
		SIPD_DBG("ACK %.*s not relayed: no usable next hop", SIPD_STR_FMT(ctx->msg->call_id));
		goto out;
	}
	/* The same ACK retransmitted gets the same branch. */
	snprintf(branch, sizeof(branch), "z9hG4bKsa%08x", tm_hash(v->branch, tm_hash(ctx->msg->call_id, 3)));
	via_value(via, sizeof(via), &d, branch);
	if (b->ops->via_push(b, sipd_str_c(via)) || tm_hdr_frame(b, d.proto) || b->ops->serialize(b, &out))
		goto out;
	tm_sys->send(&d, out.p, out.len);
out:
	b->ops->free(b);
	return SIPD_STOP;
}

enum sipd_result tm_proxy_relay(struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg, *base = NULL;
	struct tm_cell *c = ctx->owner;
	struct target targets[SIPD_MAX_BRANCHES];
	unsigned n = 0;
	uint32_t hash = 0;

	if (!m->is_request)
		return SIPD_ERROR;
	if (m->method_id == SIPD_METHOD_ACK)
		return relay_ack(ctx);
	if (!c) {
		if (tm_proxy_loops(m, &hash)) {
			sipd_stat_inc(tm_st.loops);
			sipd_reply(ctx, 482, "Loop Detected", NULL);
			return SIPD_STOP;
		}
		if (tm_uas_create(&c, ctx)) {
			SIPD_WARN("no transaction for %.*s %.*s", SIPD_STR_FMT(m->method),
				  SIPD_STR_FMT(m->call_id));
			return SIPD_ERROR;
		}
		if (c->proxy || c->uas.status) {
			/* Another worker already handles this request (a retransmission raced it). */
			tm_cell_unlock(c);
			tm_cell_unref(c);
			ctx->dropped = true;
			return SIPD_STOP;
		}
		c->proxy = true;
		c->loop_hash = hash;
		if (pending_routes.m == m) {
			c->on_failure = pending_routes.on_failure;
			c->on_reply = pending_routes.on_reply;
			c->rr_listen = pending_routes.rr_listen;
			pending_routes.m = NULL;
		}
		/*
		 * The 100 leaves before the INVITE is relayed: queued until the unlock, it could follow the
		 * callee's 180, relayed by another worker as soon as this one lets the cell go.
		 */
		if (c->uas.invite) {
			tm_uas_reply(c, 100, "Trying", NULL, NULL, NULL);
			tm_send_queued();
		}
	} else {
		/* A failure route: its caller dropped the cell lock to run the script. */
		tm_cell_lock(c);
	}
	for (unsigned i = 0; i < sipd_branch_count(ctx); i++) {
		const struct sipd_branch *br = sipd_branch_get(ctx, i);

		targets[n++] = (struct target){.uri = br->uri,
					       .dst_uri = br->dst_uri,
					       .path = br->path,
					       .proto = br->proto,
					       .received = br->received,
					       .conn_id = br->conn_id};
	}
	if (n == 0)
		targets[n++] = (struct target){.uri = m->ops->current_ruri(m)};
	sipd_branch_clear(ctx);
	c->relaying = true;
	if (base_copy(&base, m) == 0) {
		for (unsigned i = 0; i < n; i++)
			branch_start(c, base, &targets[i]);
		base->ops->free(base);
	}
	c->relaying = false;
	ctx->dropped = true; /* finished: tm answers from now on */
	if (ctx->owner) {
		tm_cell_unlock(c);
		return SIPD_STOP; /* the failure route's caller concludes */
	}
	tm_proxy_check_final(c);
	tm_cell_check_done(c);
	tm_cell_unlock(c);
	tm_cell_unref(c);
	return SIPD_STOP;
}

int tm_request_send(struct tm_cell *c, struct sipd_msg *m, const struct sipd_dest *dst)
{
	struct sipd_msg *base = NULL;
	struct target t = {.fixed = dst};
	int err;

	if ((err = m->ops->clone(&base, m)))
		return err;
	t.uri = base->ruri;
	err = branch_start(c, base, &t);
	base->ops->free(base);
	return err;
}
