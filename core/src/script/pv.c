/* The standard pseudo-variables ($rm, $ru, $fu, $si, $hdr(Name), ...), read through the msg.h accessors. */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/msg.h>
#include <sipd/transport.h>

#include "script_int.h"

int script_pv_get(struct sipd_ctx *ctx, const struct script_pv *pv, struct sipd_pv_value *out)
{
	memset(out, 0, sizeof(*out));
	if (pv->var >= 0) {
		const struct script_run *run = script_run_current();
		if (!run || run->ctx != ctx || !run->vars[pv->var].set)
			return ENOENT;
		*out = run->vars[pv->var].v;
		return 0;
	}
	if (!ctx || !ctx->msg)
		return ENOENT;
	return pv->get(ctx, pv->param, out);
}

int script_uri_split(struct sipd_str uri, struct script_uri_parts *out)
{
	const char *p = uri.p, *end = uri.p + uri.len, *q;

	memset(out, 0, sizeof(*out));
	q = memchr(p, ':', uri.len);
	if (!q || q == p)
		return EINVAL;
	out->scheme = (struct sipd_str){p, (size_t)(q - p)};
	p = q + 1;
	if (sipd_str_caseeq_c(out->scheme, "tel")) {
		/* tel:+123;phone-context=x: the number acts as the user part. */
		for (q = p; q < end && *q != ';' && *q != '?'; q++)
			;
		out->user = (struct sipd_str){p, (size_t)(q - p)};
		out->rest = (struct sipd_str){q, (size_t)(end - q)};
		return 0;
	}
	/* userinfo ends at the '@' before any '?' (user parts may hold ';'). */
	const char *at = NULL;
	for (q = p; q < end && *q != '?'; q++)
		if (*q == '@')
			at = q;
	if (at) {
		const char *colon = memchr(p, ':', (size_t)(at - p));
		const char *ue = colon ? colon : at;
		out->user = (struct sipd_str){p, (size_t)(ue - p)};
		out->userinfo_rest = (struct sipd_str){ue, (size_t)(at - ue)};
		p = at + 1;
	}
	q = p;
	if (q < end && *q == '[') {
		while (q < end && *q != ']')
			q++;
		if (q == end)
			return EINVAL;
		q++;
	} else {
		while (q < end && *q != ':' && *q != ';' && *q != '?')
			q++;
	}
	out->host = (struct sipd_str){p, (size_t)(q - p)};
	if (out->host.len == 0)
		return EINVAL;
	if (q < end && *q == ':') {
		const char *d = ++q;
		while (q < end && isdigit((unsigned char)*q))
			q++;
		out->port = (struct sipd_str){d, (size_t)(q - d)};
		if (out->port.len == 0 || out->port.len > 5)
			return EINVAL;
	}
	if (q < end && *q != ';' && *q != '?')
		return EINVAL;
	out->rest = (struct sipd_str){q, (size_t)(end - q)};
	return 0;
}

static int set_str(struct sipd_pv_value *out, struct sipd_str s)
{
	if (!s.p)
		return ENOENT;
	out->s = s;
	return 0;
}

static int set_int(struct sipd_pv_value *out, long v)
{
	out->i = v;
	out->is_int = true;
	return 0;
}

static int pv_rm(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	const struct sipd_cseq *cs;

	if (ctx->msg->is_request)
		return set_str(out, ctx->msg->method);
	/* A reply's method is the one its CSeq names. */
	if (sipd_msg_cseq(ctx->msg, &cs))
		return ENOENT;
	return set_str(out, cs->method);
}

static int ruri_parts(struct sipd_ctx *ctx, struct script_uri_parts *parts)
{
	if (!ctx->msg->is_request)
		return ENOENT;
	return script_uri_split(ctx->msg->ops->current_ruri(ctx->msg), parts) ? ENOENT : 0;
}

static int pv_ru(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	if (!ctx->msg->is_request)
		return ENOENT;
	return set_str(out, ctx->msg->ops->current_ruri(ctx->msg));
}

static int pv_rU(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	struct script_uri_parts u;
	if (ruri_parts(ctx, &u) || u.user.len == 0)
		return ENOENT;
	return set_str(out, u.user);
}

static int pv_rd(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	struct script_uri_parts u;
	if (ruri_parts(ctx, &u) || u.host.len == 0)
		return ENOENT;
	return set_str(out, u.host);
}

static int pv_rp(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	struct script_uri_parts u;
	long port = 0;

	if (ruri_parts(ctx, &u) || u.host.len == 0)
		return ENOENT;
	if (u.port.len == 0) {
		/* RFC 3261 19.1.2: the default port of the scheme. */
		return set_int(out, sipd_str_caseeq_c(u.scheme, "sips") ? 5061 : 5060);
	}
	for (size_t i = 0; i < u.port.len; i++)
		port = port * 10 + (u.port.p[i] - '0');
	out->s = u.port;
	return set_int(out, port);
}

enum na_part { NA_URI, NA_USER, NA_HOST, NA_TAG };

static int nameaddr(struct sipd_ctx *ctx, bool to, enum na_part part, struct sipd_pv_value *out)
{
	const struct sipd_nameaddr *na;
	struct sipd_str v;

	if ((to ? sipd_msg_to(ctx->msg, &na) : sipd_msg_from(ctx->msg, &na)) != 0)
		return ENOENT;
	switch (part) {
	case NA_URI:
		v = na->uri.raw;
		break;
	case NA_USER:
		v = na->uri.user;
		break;
	case NA_HOST:
		v = na->uri.host;
		break;
	default:
		v = na->tag;
		break;
	}
	return v.len ? set_str(out, v) : ENOENT;
}

#define NAMEADDR_PV(fname, to, part)                                                                         \
	static int fname(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)             \
	{                                                                                                    \
		return nameaddr(ctx, to, part, out);                                                         \
	}
NAMEADDR_PV(pv_fu, false, NA_URI)
NAMEADDR_PV(pv_fU, false, NA_USER)
NAMEADDR_PV(pv_fd, false, NA_HOST)
NAMEADDR_PV(pv_ft, false, NA_TAG)
NAMEADDR_PV(pv_tu, true, NA_URI)
NAMEADDR_PV(pv_tU, true, NA_USER)
NAMEADDR_PV(pv_td, true, NA_HOST)
NAMEADDR_PV(pv_tt, true, NA_TAG)

static int pv_ci(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	return ctx->msg->h_call_id ? set_str(out, ctx->msg->call_id) : ENOENT;
}

static int pv_cs(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	const struct sipd_cseq *cs;
	if (sipd_msg_cseq(ctx->msg, &cs))
		return ENOENT;
	return set_int(out, (long)cs->number);
}

static const struct sipd_rcvinfo *rcv_of(struct sipd_ctx *ctx)
{
	return ctx->rcv ? ctx->rcv : ctx->msg->rcv;
}

static int pv_si(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	const struct sipd_rcvinfo *ri = rcv_of(ctx);
	char *buf;

	if (!ri || (ri->src.sa.sa_family != AF_INET && ri->src.sa.sa_family != AF_INET6))
		return ENOENT;
	if (!(buf = sipd_msg_alloc(ctx->msg, INET6_ADDRSTRLEN)))
		return ENOMEM;
	sipd_sockaddr_ip(&ri->src, buf, INET6_ADDRSTRLEN);
	return set_str(out, sipd_str_c(buf));
}

static int pv_sp(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	const struct sipd_rcvinfo *ri = rcv_of(ctx);
	if (!ri || (ri->src.sa.sa_family != AF_INET && ri->src.sa.sa_family != AF_INET6))
		return ENOENT;
	return set_int(out, sipd_sockaddr_port(&ri->src));
}

static int pv_proto(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	const struct sipd_rcvinfo *ri = rcv_of(ctx);
	if (!ri || ri->proto == SIPD_PROTO_NONE)
		return ENOENT;
	return set_str(out, sipd_str_c(sipd_proto_name(ri->proto)));
}

static int pv_ua(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	return ctx->msg->h_user_agent ? set_str(out, ctx->msg->h_user_agent->value) : ENOENT;
}

static int pv_rs(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	return ctx->msg->is_request ? ENOENT : set_int(out, ctx->msg->status);
}

static int pv_rr(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	return ctx->msg->is_request ? ENOENT : set_str(out, ctx->msg->reason);
}

static int pv_hdr(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	struct sipd_hdr *h = sipd_msg_hdr_find(ctx->msg, param);
	return h ? set_str(out, h->value) : ENOENT;
}

static int pv_ml(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out)
{
	return set_int(out, (long)ctx->msg->len);
}

int script_pv_register_core(void)
{
	static const struct {
		const char *name;
		bool param;
		sipd_pv_get_fn get;
	} table[] = {
	    {"rm", false, pv_rm}, {"ru", false, pv_ru},       {"rU", false, pv_rU}, {"rd", false, pv_rd},
	    {"rp", false, pv_rp}, {"fu", false, pv_fu},       {"fU", false, pv_fU}, {"fd", false, pv_fd},
	    {"ft", false, pv_ft}, {"tu", false, pv_tu},       {"tU", false, pv_tU}, {"td", false, pv_td},
	    {"tt", false, pv_tt}, {"ci", false, pv_ci},       {"cs", false, pv_cs}, {"si", false, pv_si},
	    {"sp", false, pv_sp}, {"proto", false, pv_proto}, {"ua", false, pv_ua}, {"rs", false, pv_rs},
	    {"rr", false, pv_rr}, {"hdr", true, pv_hdr},      {"ml", false, pv_ml},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		int err = sipd_pv_register(table[i].name, table[i].param, table[i].get);
		if (err)
			return err;
	}
	return 0;
}
