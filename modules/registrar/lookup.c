/* lookup(): the Request-URI's AOR to its contacts, best q first, as the destination set for relay(). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/branch.h>
#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/msg.h>
#include <sipd/stats.h>

#include "auth_db_api.h"
#include "registrar.h"

struct target {
	struct sipd_branch b;
	int64_t updated;
};

static struct sipd_stat *st_found, *st_404, *st_480;

int reg_lookup_init(void)
{
	st_found = sipd_stat_register("registrar", "lookup_found", "lookups that found contacts");
	st_404 = sipd_stat_register("registrar", "lookup_404", "lookups answered 404 (no such user)");
	st_480 = sipd_stat_register("registrar", "lookup_480", "lookups answered 480 (user not registered)");
	return st_found && st_404 && st_480 ? 0 : ENOMEM;
}

/* Absent q ranks as 1.0; equal q: the most recent registration first. */
static int by_q(const void *pa, const void *pb)
{
	const struct target *a = pa, *b = pb;
	int qa = a->b.q < 0 ? 1000 : a->b.q, qb = b->b.q < 0 ? 1000 : b->b.q;

	if (qa != qb)
		return qb - qa;
	return a->updated < b->updated ? 1 : a->updated > b->updated ? -1 : 0;
}

/*
 * The next hop when the contact is not reachable as written (behind NAT):
 * the address and transport the REGISTER came from, when they differ from
 * the Contact URI's host and port.
 */
static struct sipd_str nat_hop(struct sipd_msg *m, const struct reg_contact *c)
{
	struct sipd_uri u;
	char ip[INET6_ADDRSTRLEN], *buf;
	uint16_t port = sipd_sockaddr_port(&c->src);
	bool v6 = c->src.sa.sa_family == AF_INET6;
	int n;

	if (!reg_nat_received || (c->src.sa.sa_family != AF_INET && !v6) || !reg_parser)
		return SIPD_STR_NULL;
	sipd_sockaddr_ip(&c->src, ip, sizeof(ip));
	if (reg_parser->uri_parse(&u, sipd_str_c(c->uri)) == 0 && sipd_str_eq(u.host, sipd_str_c(ip)) &&
	    (u.port ? u.port : 5060) == port && c->proto == SIPD_PROTO_UDP)
		return SIPD_STR_NULL;
	n = snprintf(NULL, 0, v6 ? "sip:[%s]:%u;transport=%s" : "sip:%s:%u;transport=%s", ip, port,
		     sipd_proto_name(c->proto));
	if (n <= 0 || !(buf = sipd_msg_alloc(m, (size_t)n + 1)))
		return SIPD_STR_NULL;
	snprintf(buf, (size_t)n + 1, v6 ? "sip:[%s]:%u;transport=%s" : "sip:%s:%u;transport=%s", ip, port,
		 sipd_proto_name(c->proto));
	return (struct sipd_str){buf, (size_t)n};
}

static char *arena_dup(struct sipd_msg *m, const char *s)
{
	size_t n = strlen(s);
	char *p = sipd_msg_alloc(m, n + 1);

	if (p)
		memcpy(p, s, n + 1);
	return p;
}

static enum sipd_result answer(struct sipd_ctx *ctx, int code, struct sipd_stat *st)
{
	int err;

	sipd_stat_inc(st);
	if ((err = sipd_reply(ctx, code, NULL, NULL)))
		SIPD_DBG("%d not sent: %s", code, strerror(err));
	return SIPD_STOP;
}

enum sipd_result reg_lookup(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct sipd_msg *m = ctx->msg;
	struct target t[SIPD_MAX_BRANCHES];
	const struct sipd_uri *ruri;
	struct reg_aor *aor;
	int64_t now = sipd_db_now();
	unsigned n = 0;
	bool known;
	char key[512];

	(void)args;
	if (sipd_msg_ruri(m, &ruri) != 0)
		return SIPD_FALSE;
	/* Another domain, or no user part: not ours to resolve; the script decides. */
	if (!reg_domain_is_ours(ruri) || reg_aor_key(key, sizeof(key), ruri) != 0)
		return SIPD_FALSE;
	aor = reg_table_lock(key, false);
	known = aor != NULL;
	for (const struct reg_contact *c = aor ? aor->contacts : NULL; c && n < SIPD_MAX_BRANCHES;
	     c = c->next) {
		struct target *x = &t[n];

		if (c->expires <= now)
			continue;
		memset(x, 0, sizeof(*x));
		/* Copies into the arena: the binding may change once the bucket is unlocked. */
		x->b.uri = sipd_str_c(arena_dup(m, c->uri));
		if (!x->b.uri.p)
			break;
		x->b.q = c->q;
		x->b.path = reg_cluster_hop(m, c);
		if (x->b.path.len) {
			/* A connection another node holds: through that node, which sends over it. */
		} else {
			x->b.path = c->path ? sipd_str_c(arena_dup(m, c->path)) : SIPD_STR_NULL;
			if (c->path && !x->b.path.p)
				break;
			x->b.dst_uri = nat_hop(m, c);
			x->b.proto = c->proto;
			x->b.received = c->src;
			x->b.conn_id = c->conn_id;
		}
		x->updated = c->updated;
		n++;
	}
	reg_table_unlock(key);
	if (n == 0) {
		/* 404: no such user; 480: the user exists (auth_db says so, or it registered before) but is
		 * not reachable now. */
		bool exists = reg_auth ? reg_auth->user_exists(ruri->user) : known;

		return answer(ctx, exists ? 480 : 404, exists ? st_480 : st_404);
	}
	qsort(t, n, sizeof(t[0]), by_q);
	sipd_branch_clear(ctx);
	for (unsigned i = 0; i < n; i++)
		if (sipd_branch_add(ctx, &t[i].b) != 0)
			return SIPD_ERROR;
	if (m->ops->set_ruri(m, t[0].b.uri) != 0)
		return SIPD_ERROR;
	sipd_stat_inc(st_found);
	return SIPD_TRUE;
}
