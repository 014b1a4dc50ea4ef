/* The interpreter: walks a compiled route tree for one message. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/msg.h>

#include "script_int.h"

/* How a statement ends; X_NEXT goes on with the next one. */
enum { X_NEXT = 0, X_RETURN, X_EXIT, X_ERROR, X_SUSPEND };

struct exec {
	struct script_run *run;
	long ret;
	bool has_ret;
};

struct val {
	struct sipd_str s; /* s.p NULL for a bare integer */
	long i;
	bool is_int;
};

static __thread struct script_run *cur_run;

struct script_run *script_run_current(void)
{
	return cur_run;
}

static int exec_block(struct exec *ex, const struct script_node *n);
static int eval_cond(struct exec *ex, const struct script_node *n);

static int result_to_x(const struct script_call *call, enum sipd_result r)
{
	switch (r) {
	case SIPD_TRUE:
	case SIPD_FALSE:
		return X_NEXT;
	case SIPD_STOP:
		return X_EXIT;
	case SIPD_SUSPEND:
		return X_SUSPEND;
	case SIPD_ERROR:
		return X_ERROR;
	}
	SIPD_ERR("script: %s() returned %d, which is not a sipd_result", call->entry->fn->name, (int)r);
	return X_ERROR;
}

/* Runs a route body; *truth is its value as an expression (return 0 or negative: false). */
static int exec_route(struct exec *ex, const struct script_route *r, bool *truth)
{
	int x;

	if (ex->run->depth >= SCRIPT_MAX_DEPTH) {
		SIPD_ERR("script: route(%s) nested deeper than %d calls", r->name ? r->name : "?",
			 SCRIPT_MAX_DEPTH);
		return X_ERROR;
	}
	ex->run->depth++;
	ex->has_ret = false;
	x = exec_block(ex, r->body->u.first);
	ex->run->depth--;
	*truth = !ex->has_ret || ex->ret > 0;
	ex->has_ret = false;
	return x == X_RETURN ? X_NEXT : x;
}

static enum sipd_result call_fn(struct exec *ex, const struct script_call *call)
{
	return call->entry->fn->fn(ex->run->ctx, call->args);
}

static bool parse_long(struct sipd_str s, long *out)
{
	char buf[24], *end;

	if (s.len == 0 || s.len >= sizeof(buf))
		return false;
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	errno = 0;
	*out = strtol(buf, &end, 10);
	return errno == 0 && *end == '\0';
}

/* Values are read into v; strings built here land in buf (SCRIPT_VALUE_MAX bytes). */
static int eval_value(struct exec *ex, const struct script_node *n, struct val *v, char *buf)
{
	struct sipd_pv_value pv;
	int c;

	memset(v, 0, sizeof(*v));
	switch (n->op) {
	case E_INT:
		v->i = n->u.ival;
		v->is_int = true;
		return 0;
	case E_STR:
		if (n->u.fmt->constant) {
			v->s = n->u.fmt->text;
			return 0;
		}
		if (sipd_fmt_eval(ex->run->ctx, n->u.fmt, buf, SCRIPT_VALUE_MAX, &v->s)) {
			SIPD_WARN("script: line %d: string longer than %d bytes", n->line, SCRIPT_VALUE_MAX);
			return -X_ERROR;
		}
		return 0;
	case E_PV:
		/* An absent value reads as the empty string. */
		if (script_pv_get(ex->run->ctx, &n->u.pv, &pv) == 0) {
			v->s = pv.s;
			v->i = pv.i;
			v->is_int = pv.is_int;
		} else {
			v->s = (struct sipd_str){"", 0};
		}
		return 0;
	default:
		if ((c = eval_cond(ex, n)) < 0)
			return c;
		v->i = c;
		v->is_int = true;
		return 0;
	}
}

static struct sipd_str val_str(const struct val *v, char *num, size_t size)
{
	if (v->s.p || !v->is_int)
		return v->s;
	int w = snprintf(num, size, "%ld", v->i);
	return (struct sipd_str){num, (size_t)w};
}

static bool val_int(const struct val *v, long *out)
{
	if (v->is_int) {
		*out = v->i;
		return true;
	}
	return parse_long(v->s, out);
}

static int eval_compare(struct exec *ex, const struct script_node *n)
{
	char lb[SCRIPT_VALUE_MAX], rb[SCRIPT_VALUE_MAX], ln[24], rn[24];
	struct val l, r;
	long a, b;
	int c;

	if ((c = eval_value(ex, n->u.bin.l, &l, lb)) < 0 || (c = eval_value(ex, n->u.bin.r, &r, rb)) < 0)
		return c;
	if (n->op == E_EQ || n->op == E_NE) {
		bool eq;
		if (l.is_int && r.is_int)
			eq = l.i == r.i;
		else
			eq = sipd_str_eq(val_str(&l, ln, sizeof(ln)), val_str(&r, rn, sizeof(rn)));
		return n->op == E_EQ ? eq : !eq;
	}
	/* Ordering is only defined on integers; anything else is simply false. */
	if (!val_int(&l, &a) || !val_int(&r, &b))
		return 0;
	switch (n->op) {
	case E_LT:
		return a < b;
	case E_GT:
		return a > b;
	case E_LE:
		return a <= b;
	default:
		return a >= b;
	}
}

static int eval_match(struct exec *ex, const struct script_node *n)
{
	char buf[SCRIPT_VALUE_MAX], num[24];
	struct val v;
	struct sipd_str s;
	char *z;
	int c;

	if ((c = eval_value(ex, n->u.match.l, &v, buf)) < 0)
		return c;
	s = val_str(&v, num, sizeof(num));
	/* regexec needs a C string; values are slices. */
	if (s.p == buf && s.len < SCRIPT_VALUE_MAX) {
		z = buf;
	} else if (s.len < SCRIPT_VALUE_MAX) {
		memcpy(buf, s.p, s.len);
		z = buf;
	} else if (!(z = sipd_msg_alloc(ex->run->ctx->msg, s.len + 1))) {
		return -X_ERROR;
	} else {
		memcpy(z, s.p, s.len);
	}
	z[s.len] = '\0';
	bool m = regexec(n->u.match.re, z, 0, NULL, 0) == 0;
	return n->op == E_MATCH ? m : !m;
}

/* 1 true, 0 false, or -X when the message's processing ends inside the expression. */
static int eval_cond(struct exec *ex, const struct script_node *n)
{
	struct sipd_pv_value pv;
	enum sipd_result r;
	bool truth;
	int c, x;

	switch (n->op) {
	case E_AND:
		if ((c = eval_cond(ex, n->u.bin.l)) <= 0)
			return c;
		return eval_cond(ex, n->u.bin.r);
	case E_OR:
		if ((c = eval_cond(ex, n->u.bin.l)) != 0)
			return c;
		return eval_cond(ex, n->u.bin.r);
	case E_NOT:
		if ((c = eval_cond(ex, n->u.bin.l)) < 0)
			return c;
		return !c;
	case E_EQ:
	case E_NE:
	case E_LT:
	case E_GT:
	case E_LE:
	case E_GE:
		return eval_compare(ex, n);
	case E_MATCH:
	case E_NOMATCH:
		return eval_match(ex, n);
	case E_INT:
		return n->u.ival != 0;
	case E_STR:
		if (n->u.fmt->constant)
			return n->u.fmt->text.len > 0;
		else {
			char buf[SCRIPT_VALUE_MAX];
			struct sipd_str s;
			return sipd_fmt_eval(ex->run->ctx, n->u.fmt, buf, sizeof(buf), &s) == 0 && s.len > 0;
		}
	case E_PV:
		if (script_pv_get(ex->run->ctx, &n->u.pv, &pv) != 0)
			return 0;
		return pv.is_int ? pv.i != 0 : pv.s.len > 0;
	case E_CALL:
		r = call_fn(ex, n->u.call);
		if (r == SIPD_TRUE)
			return 1;
		if (r == SIPD_FALSE)
			return 0;
		return -result_to_x(n->u.call, r);
	case E_ROUTE:
		x = exec_route(ex, n->u.route.target, &truth);
		return x == X_NEXT ? truth : -x;
	default:
		SIPD_ERR("script: line %d: node %d is not an expression", n->line, (int)n->op);
		return -X_ERROR;
	}
}

/* Copies a value that must outlive this statement into the message's arena. */
static int keep(struct sipd_msg *m, struct sipd_str *s, const char *buf)
{
	if (s->p != buf)
		return 0;
	char *p = sipd_msg_alloc(m, s->len + 1);
	if (!p)
		return ENOMEM;
	memcpy(p, s->p, s->len);
	p[s->len] = '\0';
	s->p = p;
	return 0;
}

/* Rebuilds the Request-URI with a new user or host part. */
static int rewrite_ruri(struct sipd_msg *m, enum script_assign_target t, struct sipd_str v)
{
	struct script_uri_parts u;
	size_t size;
	char *p;
	int n;

	if (script_uri_split(m->ops->current_ruri(m), &u))
		return EINVAL;
	if (t == ASSIGN_RURI_HOST && (v.len == 0 || !u.host.p))
		return EINVAL;
	if (t == ASSIGN_RURI_USER) {
		if (!u.host.p) /* tel: the number is the whole thing */
			u.userinfo_rest = SIPD_STR_NULL;
		u.user = v;
		if (v.len == 0)
			u.userinfo_rest = SIPD_STR_NULL;
	} else {
		u.host = v;
	}
	size = u.scheme.len + u.user.len + u.userinfo_rest.len + u.host.len + u.port.len + u.rest.len + 8;
	if (!(p = sipd_msg_alloc(m, size)))
		return ENOMEM;
	if (!u.host.p)
		n = snprintf(p, size, "%.*s:%.*s%.*s", SIPD_STR_FMT(u.scheme), SIPD_STR_FMT(u.user),
			     SIPD_STR_FMT(u.rest));
	else
		n = snprintf(p, size, "%.*s:%.*s%.*s%s%.*s%s%.*s%.*s", SIPD_STR_FMT(u.scheme),
			     SIPD_STR_FMT(u.user), SIPD_STR_FMT(u.userinfo_rest), u.user.len ? "@" : "",
			     SIPD_STR_FMT(u.host), u.port.len ? ":" : "", SIPD_STR_FMT(u.port),
			     SIPD_STR_FMT(u.rest));
	return m->ops->set_ruri(m, (struct sipd_str){p, (size_t)n});
}

static int exec_assign(struct exec *ex, const struct script_node *n)
{
	struct sipd_ctx *ctx = ex->run->ctx;
	char buf[SCRIPT_VALUE_MAX], num[24];
	struct val v;
	struct sipd_str s;
	int c, err;

	if ((c = eval_value(ex, n->u.assign.value, &v, buf)) < 0)
		return -c;
	if (n->u.assign.target == ASSIGN_VAR) {
		struct script_var *var = &ex->run->vars[n->u.assign.var];
		if (!v.is_int && v.s.len == 0 && n->u.assign.value->op == E_PV) {
			var->set = false; /* copying an absent value leaves the variable absent */
			return X_NEXT;
		}
		if ((err = keep(ctx->msg, &v.s, buf)))
			return X_ERROR;
		var->v = (struct sipd_pv_value){.s = v.s, .i = v.i, .is_int = v.is_int};
		var->set = true;
		return X_NEXT;
	}
	if (!ctx->msg->is_request) {
		SIPD_WARN("script: line %d: the Request-URI cannot be set on a reply", n->line);
		return X_ERROR;
	}
	s = val_str(&v, num, sizeof(num));
	if (s.p == num) {
		memcpy(buf, num, s.len + 1);
		s.p = buf;
	}
	if ((err = keep(ctx->msg, &s, buf)))
		return X_ERROR;
	if (n->u.assign.target == ASSIGN_RURI)
		err = ctx->msg->ops->set_ruri(ctx->msg, s);
	else
		err = rewrite_ruri(ctx->msg, n->u.assign.target, s);
	if (err) {
		SIPD_WARN("script: line %d: cannot set the Request-URI part to '%.*s': %s", n->line,
			  SIPD_STR_FMT(s), strerror(err));
		return X_ERROR;
	}
	return X_NEXT;
}

static int exec_stmt(struct exec *ex, const struct script_node *n)
{
	enum sipd_result r;
	bool truth;
	int c;

	switch (n->op) {
	case S_BLOCK:
		return exec_block(ex, n->u.first);
	case S_IF:
		if ((c = eval_cond(ex, n->u.cif.cond)) < 0)
			return -c;
		if (c)
			return exec_stmt(ex, n->u.cif.then);
		return n->u.cif.els ? exec_stmt(ex, n->u.cif.els) : X_NEXT;
	case S_CALL:
		r = call_fn(ex, n->u.call);
		return result_to_x(n->u.call, r);
	case S_ROUTE:
		return exec_route(ex, n->u.route.target, &truth);
	case S_RETURN:
		ex->has_ret = n->u.ret.has_value;
		ex->ret = n->u.ret.value;
		return X_RETURN;
	case S_EXIT:
		return X_EXIT;
	case S_DROP:
		ex->run->ctx->dropped = true;
		return X_EXIT;
	case S_ASSIGN:
		return exec_assign(ex, n);
	case S_NOP:
		return X_NEXT;
	default:
		SIPD_ERR("script: line %d: node %d is not a statement", n->line, (int)n->op);
		return X_ERROR;
	}
}

static int exec_block(struct exec *ex, const struct script_node *n)
{
	for (; n; n = n->next) {
		int x = exec_stmt(ex, n);
		if (x != X_NEXT)
			return x;
	}
	return X_NEXT;
}

enum sipd_result script_exec(const struct script *s, const struct script_route *r, struct sipd_ctx *ctx)
{
	struct script_run run, *prev = cur_run, *use = prev;
	enum sipd_route_type saved = ctx->route;
	struct exec ex;
	bool truth = true;
	int x;

	/* A function running a route for the same message shares its variables and depth. */
	if (!prev || prev->ctx != ctx || prev->script != s) {
		run.ctx = ctx;
		run.script = s;
		run.depth = 0;
		for (unsigned i = 0; i < s->nvars; i++)
			run.vars[i].set = false;
		use = &run;
		cur_run = &run;
	}
	if (r->kind)
		ctx->route = r->kind;
	ex = (struct exec){.run = use};
	x = exec_route(&ex, r, &truth);
	ctx->route = saved;
	cur_run = prev;
	switch (x) {
	case X_NEXT:
		return truth ? SIPD_TRUE : SIPD_FALSE;
	case X_EXIT:
		return SIPD_STOP;
	case X_SUSPEND:
		return SIPD_SUSPEND;
	default:
		return SIPD_ERROR;
	}
}
