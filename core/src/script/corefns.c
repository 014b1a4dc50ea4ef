/* The core's own script functions: reply, drop, uri_is_myself, from_cluster_node, has_to_tag, is_method, log,
 * append_hf, remove_hf. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/msg.h>

#include "internal.h"
#include "script_int.h"

static enum sipd_result fn_reply(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	char reason[256];
	struct sipd_str r;
	int err;

	if (!ctx->msg->is_request)
		return SIPD_ERROR;
	if (sipd_fmt_eval(ctx, args[1].fmt, reason, sizeof(reason), &r))
		r = sipd_str_c(strcpy(reason, "Reason Too Long"));
	/* A reason is one line of text: a pseudo-variable must not break the status line. */
	for (size_t i = 0; i < r.len; i++)
		if (reason[i] == '\r' || reason[i] == '\n')
			reason[i] = ' ';
	if ((err = sipd_reply(ctx, (int)args[0].i, reason, NULL))) {
		SIPD_WARN("reply(%ld): cannot send: %s", args[0].i, strerror(err));
		return SIPD_ERROR;
	}
	/* A provisional answer does not finish the request; a final one does. */
	return args[0].i < 200 ? SIPD_TRUE : SIPD_STOP;
}

static int fixup_reply(union sipd_arg *args, char *err, size_t errlen)
{
	if (args[0].i < 100 || args[0].i > 699) {
		snprintf(err, errlen, "status code %ld is not between 100 and 699", args[0].i);
		return EINVAL;
	}
	return 0;
}

static enum sipd_result fn_drop(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	ctx->dropped = true;
	return SIPD_STOP;
}

static enum sipd_result fn_uri_is_myself(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct script_uri_parts u;
	struct sipd_str host;
	unsigned port = 0;

	if (!ctx->msg->is_request || script_uri_split(ctx->msg->ops->current_ruri(ctx->msg), &u) || !u.host.p)
		return SIPD_FALSE;
	host = u.host;
	if (host.len >= 2 && host.p[0] == '[') {
		host.p++;
		host.len -= 2;
	}
	for (size_t i = 0; i < u.port.len; i++)
		port = port * 10 + (unsigned)(u.port.p[i] - '0');
	if (port > 65535)
		return SIPD_FALSE;
	return sipd_is_myself(host, (uint16_t)port) ? SIPD_TRUE : SIPD_FALSE;
}

static enum sipd_result fn_from_cluster_node(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	(void)args;
	return ctx->rcv && sipd_node_is_peer(&ctx->rcv->src) ? SIPD_TRUE : SIPD_FALSE;
}

static enum sipd_result fn_has_to_tag(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	const struct sipd_nameaddr *to;
	if (sipd_msg_to(ctx->msg, &to) != 0)
		return SIPD_FALSE;
	return to->tag.len ? SIPD_TRUE : SIPD_FALSE;
}

/* is_method("INVITE|REGISTER"): known methods as a bit mask, others by name. */
struct method_set {
	unsigned mask;
	unsigned count;
	struct sipd_str names[];
};

static int fixup_is_method(union sipd_arg *args, char *err, size_t errlen)
{
	struct sipd_str list = args[0].s;
	unsigned parts = 1;
	struct method_set *set;

	for (size_t i = 0; i < list.len; i++)
		if (list.p[i] == '|')
			parts++;
	if (!(set = calloc(1, sizeof(*set) + parts * sizeof(set->names[0]))))
		return ENOMEM;
	const char *p = list.p, *end = list.p + list.len;
	while (p <= end) {
		const char *q = memchr(p, '|', (size_t)(end - p));
		if (!q)
			q = end;
		struct sipd_str m = {p, (size_t)(q - p)};
		while (m.len && isspace((unsigned char)m.p[0])) {
			m.p++;
			m.len--;
		}
		while (m.len && isspace((unsigned char)m.p[m.len - 1]))
			m.len--;
		if (m.len == 0) {
			snprintf(err, errlen, "empty method name in \"%s\"", list.p);
			free(set);
			return EINVAL;
		}
		for (size_t i = 0; i < m.len; i++) {
			if (!isalpha((unsigned char)m.p[i]) && m.p[i] != '-' && m.p[i] != '_') {
				snprintf(err, errlen, "'%.*s' is not a method name", SIPD_STR_FMT(m));
				free(set);
				return EINVAL;
			}
		}
		enum sipd_method id = sipd_method_of(m);
		if (id != SIPD_METHOD_OTHER)
			set->mask |= 1u << id;
		else
			set->names[set->count++] =
			    m; /* slices of the argument, which lives with the script */
		p = q + 1;
	}
	args[0].ptr = set;
	return 0;
}

static void free_is_method(union sipd_arg *args)
{
	free(args[0].ptr);
}

static enum sipd_result fn_is_method(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	const struct method_set *set = args[0].ptr;
	struct sipd_msg *m = ctx->msg;
	enum sipd_method id = m->method_id;
	struct sipd_str name = m->method;

	if (!m->is_request) {
		const struct sipd_cseq *cs;
		if (sipd_msg_cseq(m, &cs))
			return SIPD_FALSE;
		id = cs->method_id;
		name = cs->method;
	}
	if (id != SIPD_METHOD_OTHER)
		return (set->mask & (1u << id)) ? SIPD_TRUE : SIPD_FALSE;
	for (unsigned i = 0; i < set->count; i++)
		if (sipd_str_eq(set->names[i], name))
			return SIPD_TRUE;
	return SIPD_FALSE;
}

static int fixup_log(union sipd_arg *args, char *err, size_t errlen)
{
	int level = sipd_log_level_parse(args[0].s.p);
	if (level < 0) {
		snprintf(err, errlen, "unknown log level \"%s\" (error, warn, notice, info or debug)",
			 args[0].s.p);
		return EINVAL;
	}
	args[0].i = level;
	return 0;
}

static enum sipd_result fn_log(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	char buf[1024];
	struct sipd_str text;

	if (args[0].i > sipd_log_threshold)
		return SIPD_TRUE;
	if (sipd_fmt_eval(ctx, args[1].fmt, buf, sizeof(buf), &text)) {
		/* Too long: log what fits, marked as cut. */
		memcpy(buf + sizeof(buf) - 5, "...", 4);
		text = sipd_str_c(buf);
	}
	sipd_log((int)args[0].i, "script", "%.*s", SIPD_STR_FMT(text));
	return SIPD_TRUE;
}

static bool token_char(char c)
{
	return isalnum((unsigned char)c) || strchr("-.!%*_+`'~", c);
}

/* Splits "Name: value" into trimmed parts; false when it is not a valid header line. */
static bool split_header(struct sipd_str line, struct sipd_str *name, struct sipd_str *value)
{
	const char *colon = memchr(line.p, ':', line.len);
	if (!colon)
		return false;
	*name = (struct sipd_str){line.p, (size_t)(colon - line.p)};
	while (name->len && (name->p[name->len - 1] == ' ' || name->p[name->len - 1] == '\t'))
		name->len--;
	if (name->len == 0)
		return false;
	for (size_t i = 0; i < name->len; i++)
		if (!token_char(name->p[i]))
			return false;
	*value = (struct sipd_str){colon + 1, line.len - (size_t)(colon + 1 - line.p)};
	while (value->len && (value->p[0] == ' ' || value->p[0] == '\t')) {
		value->p++;
		value->len--;
	}
	/* No line breaks: a value must not smuggle in extra header lines. */
	return !memchr(value->p, '\r', value->len) && !memchr(value->p, '\n', value->len);
}

static int fixup_append_hf(union sipd_arg *args, char *err, size_t errlen)
{
	const struct sipd_fmt *f = args[0].fmt;
	struct sipd_str name, value;

	if (f->constant && !split_header(f->text, &name, &value)) {
		snprintf(err, errlen, "\"%.*s\" is not a header line \"Name: value\"", SIPD_STR_FMT(f->text));
		return EINVAL;
	}
	return 0;
}

static enum sipd_result fn_append_hf(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	char buf[SCRIPT_VALUE_MAX];
	struct sipd_str line, name, value;
	char *copy;

	if (sipd_fmt_eval(ctx, args[0].fmt, buf, sizeof(buf), &line) || !split_header(line, &name, &value)) {
		SIPD_WARN("append_hf(): \"%.*s\" is not a valid header line",
			  SIPD_STR_FMT(args[0].fmt->text));
		return SIPD_FALSE;
	}
	/* Edits keep the slices until the message is serialized: copy them to its arena. */
	if (!(copy = sipd_msg_alloc(ctx->msg, line.len)))
		return SIPD_ERROR;
	memcpy(copy, line.p, line.len);
	name.p = copy + (name.p - line.p);
	value.p = copy + (value.p - line.p);
	return ctx->msg->ops->hdr_append(ctx->msg, name, value) ? SIPD_ERROR : SIPD_TRUE;
}

static enum sipd_result fn_remove_hf(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct sipd_msg *m = ctx->msg;
	enum sipd_hdr_type type = sipd_hdr_type_of(args[0].s);
	bool any = false;

	for (unsigned i = 0; i < m->hdr_count; i++) {
		struct sipd_hdr *h = &m->hdrs[i];
		bool match = type != SIPD_HDR_OTHER ? h->type == type : sipd_str_caseeq(h->name, args[0].s);
		if (match && m->ops->hdr_remove(m, h) == 0)
			any = true;
	}
	return any ? SIPD_TRUE : SIPD_FALSE;
}

static const struct sipd_script_fn core_fns[] = {
    {
	.name = "reply",
	.fn = fn_reply,
	.args = {SIPD_ARG_INT, SIPD_ARG_FMT},
	.routes = SIPD_ROUTE_REQUEST | SIPD_ROUTE_FAILURE,
	.fixup = fixup_reply,
	.help = "reply(code, reason): stateless reply; a final code ends the route",
    },
    {
	.name = "drop",
	.fn = fn_drop,
	.help = "drop(): discard the message, ending processing",
    },
    {
	.name = "uri_is_myself",
	.fn = fn_uri_is_myself,
	.routes = SIPD_ROUTE_REQUEST | SIPD_ROUTE_FAILURE,
	.help = "uri_is_myself(): the Request-URI host/port is one of ours",
    },
    {
	.name = "from_cluster_node",
	.fn = fn_from_cluster_node,
	.routes = SIPD_ROUTE_REQUEST,
	.help = "from_cluster_node(): the request came from another live node sharing the database",
    },
    {
	.name = "has_to_tag",
	.fn = fn_has_to_tag,
	.help = "has_to_tag(): the To header carries a tag (in-dialog request)",
    },
    {
	.name = "is_method",
	.fn = fn_is_method,
	.args = {SIPD_ARG_STR},
	.fixup = fixup_is_method,
	.free_fixup = free_is_method,
	.help = "is_method(\"INVITE|REGISTER\"): the method (CSeq method for replies) is one of these",
    },
    {
	.name = "log",
	.fn = fn_log,
	.args = {SIPD_ARG_STR, SIPD_ARG_FMT},
	.fixup = fixup_log,
	.help = "log(level, text): log text with $pseudo-variables expanded",
    },
    {
	.name = "append_hf",
	.fn = fn_append_hf,
	.args = {SIPD_ARG_FMT},
	.fixup = fixup_append_hf,
	.help = "append_hf(\"Name: value\"): add a header line",
    },
    {
	.name = "remove_hf",
	.fn = fn_remove_hf,
	.args = {SIPD_ARG_STR},
	.help = "remove_hf(name): remove every header of that name; true if any",
    },
    {.name = NULL},
};

int script_core_register(void)
{
	int err = script_pv_register_core();
	if (!err)
		err = sipd_script_register("core", core_fns);
	return err;
}
