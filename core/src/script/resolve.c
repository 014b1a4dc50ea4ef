/* Second half of compilation: route names, function arguments and fixups, and where functions may run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script_int.h"

struct edge {
	unsigned from, to;
};

struct resolver {
	struct script_comp *c;
	unsigned cur; /* index of the route being walked */
	struct edge *edges;
	unsigned nedges, cap;
};

static int SIPD_PRINTF(3, 4) err_at(struct resolver *rv, const struct script_token *t, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	script_errorf(&rv->c->src, t->line, t->col, rv->c->err, rv->c->errlen, "%s", msg);
	return EINVAL;
}

static const char *kind_name(unsigned kind)
{
	switch (kind) {
	case SIPD_ROUTE_REQUEST:
		return "request_route";
	case SIPD_ROUTE_REPLY:
		return "reply_route";
	case SIPD_ROUTE_FAILURE:
		return "failure_route";
	default:
		return "route";
	}
}

static struct sipd_str tok_name(const struct script_token *t)
{
	return t->type == TOK_STRING ? t->str : t->text;
}

static struct script_route *find_route(struct script *s, struct sipd_str name)
{
	for (unsigned i = 0; i < s->nroutes; i++)
		if (s->routes[i].name && sipd_str_eq(sipd_str_c(s->routes[i].name), name))
			return &s->routes[i];
	return NULL;
}

static int add_edge(struct resolver *rv, const struct script_route *to)
{
	if (rv->nedges == rv->cap) {
		unsigned cap = rv->cap ? rv->cap * 2 : 16;
		struct edge *e = realloc(rv->edges, cap * sizeof(*e));
		if (!e)
			return ENOMEM;
		rv->edges = e;
		rv->cap = cap;
	}
	rv->edges[rv->nedges++] = (struct edge){rv->cur, (unsigned)(to - rv->c->s->routes)};
	return 0;
}

static int resolve_route_call(struct resolver *rv, struct script_node *n)
{
	struct sipd_str name = tok_name(&n->u.route.name);
	struct script_route *r = find_route(rv->c->s, name);

	if (!r)
		return err_at(rv, &n->u.route.name, "unknown route '%.*s' in route()", SIPD_STR_FMT(name));
	if (r->kind != 0)
		return err_at(rv, &n->u.route.name,
			      "route(%.*s): '%.*s' is a %s; route() calls plain routes only",
			      SIPD_STR_FMT(name), SIPD_STR_FMT(name), kind_name(r->kind));
	n->u.route.target = r;
	return add_edge(rv, r);
}

static int convert_route_arg(struct resolver *rv, const struct script_call *call, unsigned decl,
			     const struct script_token *t, union sipd_arg *arg)
{
	struct sipd_str name = tok_name(t);
	struct script_route *r;

	if (t->type != TOK_IDENT && t->type != TOK_STRING)
		return err_at(rv, t, "argument of %s() must name a route", call->entry->fn->name);
	if (!(r = find_route(rv->c->s, name)))
		return err_at(rv, t, "unknown route '%.*s' in %s()", SIPD_STR_FMT(name),
			      call->entry->fn->name);
	if ((decl & SIPD_ARG_ROUTE_FAILURE) && r->kind != SIPD_ROUTE_FAILURE)
		return err_at(rv, t, "%s() needs a failure_route, '%.*s' is a %s", call->entry->fn->name,
			      SIPD_STR_FMT(name), kind_name(r->kind));
	if ((decl & SIPD_ARG_ROUTE_REPLY) && r->kind != SIPD_ROUTE_REPLY)
		return err_at(rv, t, "%s() needs a reply_route, '%.*s' is a %s", call->entry->fn->name,
			      SIPD_STR_FMT(name), kind_name(r->kind));
	arg->route = r->id;
	/* A plain route handed to a function runs in the caller's kind of route. */
	return r->kind == 0 ? add_edge(rv, r) : 0;
}

static int convert_arg(struct resolver *rv, struct script_call *call, unsigned k)
{
	const char *fname = call->entry->fn->name;
	unsigned decl = call->entry->fn->args[k];
	const struct script_token *t = &call->argt[k];
	union sipd_arg *arg = &call->args[k];
	struct script_regex *rx;
	char why[160];

	switch (decl & 0xffu) {
	case SIPD_ARG_INT:
		if (t->type != TOK_INT)
			return err_at(rv, t, "argument %u of %s() must be an integer", k + 1, fname);
		arg->i = t->i;
		return 0;
	case SIPD_ARG_STR:
		if (t->type != TOK_STRING)
			return err_at(rv, t, "argument %u of %s() must be a string", k + 1, fname);
		arg->s = t->str;
		return 0;
	case SIPD_ARG_FMT:
		if (t->type != TOK_STRING)
			return err_at(rv, t, "argument %u of %s() must be a string", k + 1, fname);
		return script_fmt_compile(rv->c, t, &arg->fmt);
	case SIPD_ARG_ROUTE:
		return convert_route_arg(rv, call, decl, t, arg);
	case SIPD_ARG_REGEX:
		if (t->type != TOK_STRING)
			return err_at(rv, t, "argument %u of %s() must be a regular expression string", k + 1,
				      fname);
		if (!(rx = script_arena_alloc(&rv->c->s->arena, sizeof(*rx))))
			return ENOMEM;
		if (script_regex_compile(&rx->re, t->str.p, REG_EXTENDED, why, sizeof(why)))
			return err_at(rv, t, "argument %u of %s(): bad regular expression: %s", k + 1, fname,
				      why);
		rx->next = rv->c->s->regexes;
		rv->c->s->regexes = rx;
		arg->re = &rx->re;
		return 0;
	default:
		return err_at(rv, t, "%s() declares an unknown argument type", fname);
	}
}

static int resolve_call(struct resolver *rv, struct script_call *call)
{
	struct sipd_str name = call->name.text;
	const struct sipd_script_fn *fn;
	unsigned min = 0, max = 0;
	int err;

	if (!(call->entry = script_fn_lookup(name)))
		return err_at(rv, &call->name, "unknown function '%.*s'", SIPD_STR_FMT(name));
	fn = call->entry->fn;
	for (; max < SIPD_SCRIPT_MAX_ARGS && fn->args[max]; max++)
		if (!(fn->args[max] & SIPD_ARG_OPTIONAL))
			min = max + 1;
	if (call->nargs < min || call->nargs > max) {
		if (min == max)
			return err_at(rv, &call->name, "%s() takes %u argument%s, got %u", fn->name, max,
				      max == 1 ? "" : "s", call->nargs);
		return err_at(rv, &call->name, "%s() takes %u to %u arguments, got %u", fn->name, min, max,
			      call->nargs);
	}
	for (unsigned k = 0; k < call->nargs; k++)
		if ((err = convert_arg(rv, call, k)))
			return err;
	return 0;
}

/* Where can this call run, and may it? Then its fixup, once. */
static int check_call(struct resolver *rv, struct script_call *call)
{
	const struct sipd_script_fn *fn = call->entry->fn;
	const struct script_route *r = &rv->c->s->routes[rv->cur];
	unsigned allowed = fn->routes ? fn->routes : SIPD_ROUTE_ANY;
	unsigned bad = r->reach & ~allowed;

	if (bad) {
		unsigned kind = bad & -bad;
		if (r->kind == 0)
			return err_at(rv, &call->name,
				      "%s() is not allowed in a %s (route %s is called from one)", fn->name,
				      kind_name(kind), r->name);
		return err_at(rv, &call->name, "%s() is not allowed in a %s", fn->name, kind_name(kind));
	}
	if (fn->fixup) {
		char why[256] = "";
		int rc = fn->fixup(call->args, why, sizeof(why));
		if (rc)
			return err_at(rv, &call->name, "%s(): %s", fn->name, why[0] ? why : strerror(rc));
		if (fn->free_fixup) {
			call->next_fixed = rv->c->s->fixed;
			rv->c->s->fixed = call;
		}
	}
	return 0;
}

static int walk(struct resolver *rv, struct script_node *n, int pass)
{
	int err = 0;

	for (; n && !err; n = n->next) {
		switch (n->op) {
		case S_BLOCK:
			err = walk(rv, n->u.first, pass);
			break;
		case S_IF:
			if (!(err = walk(rv, n->u.cif.cond, pass)) && !(err = walk(rv, n->u.cif.then, pass)))
				err = walk(rv, n->u.cif.els, pass);
			break;
		case S_CALL:
		case E_CALL:
			err = pass == 1 ? resolve_call(rv, n->u.call) : check_call(rv, n->u.call);
			break;
		case S_ROUTE:
		case E_ROUTE:
			if (pass == 1)
				err = resolve_route_call(rv, n);
			break;
		case S_ASSIGN:
			err = walk(rv, n->u.assign.value, pass);
			break;
		case E_AND:
		case E_OR:
		case E_EQ:
		case E_NE:
		case E_LT:
		case E_GT:
		case E_LE:
		case E_GE:
			if (!(err = walk(rv, n->u.bin.l, pass)))
				err = walk(rv, n->u.bin.r, pass);
			break;
		case E_NOT:
			err = walk(rv, n->u.bin.l, pass);
			break;
		case E_MATCH:
		case E_NOMATCH:
			err = walk(rv, n->u.match.l, pass);
			break;
		default:
			break;
		}
	}
	return err;
}

/* Route kinds flow from the entry routes through route() edges until nothing changes. */
static void compute_reach(struct resolver *rv)
{
	struct script *s = rv->c->s;
	bool changed = true;

	for (unsigned i = 0; i < s->nroutes; i++)
		s->routes[i].reach = s->routes[i].kind;
	while (changed) {
		changed = false;
		for (unsigned e = 0; e < rv->nedges; e++) {
			struct script_route *from = &s->routes[rv->edges[e].from],
					    *to = &s->routes[rv->edges[e].to];
			if ((from->reach | to->reach) != to->reach) {
				to->reach |= from->reach;
				changed = true;
			}
		}
	}
}

static int build_id_table(struct script *s)
{
	int max = SCRIPT_ROUTE_ID_REPLY;

	for (unsigned i = 0; i < s->nroutes; i++)
		if (s->routes[i].id > max)
			max = s->routes[i].id;
	s->nids = (unsigned)max + 1;
	s->by_id = script_arena_alloc(&s->arena, s->nids * sizeof(*s->by_id));
	if (!s->by_id)
		return ENOMEM;
	for (unsigned i = 0; i < s->nroutes; i++)
		s->by_id[s->routes[i].id] = &s->routes[i];
	return 0;
}

int script_resolve(struct script_comp *c)
{
	struct resolver rv = {.c = c};
	int err = 0;

	for (rv.cur = 0; rv.cur < c->s->nroutes && !err; rv.cur++)
		err = walk(&rv, c->s->routes[rv.cur].body, 1);
	if (err)
		goto out;
	compute_reach(&rv);
	for (rv.cur = 0; rv.cur < c->s->nroutes && !err; rv.cur++)
		err = walk(&rv, c->s->routes[rv.cur].body, 2);
	if (err)
		goto out;
	err = build_id_table(c->s);
out:
	free(rv.edges);
	return err;
}
