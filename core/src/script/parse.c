/* Recursive-descent parser: routing.cfg text to route bodies made of statement and expression nodes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script_int.h"

static int errv(struct script_comp *c, int line, int col, const char *fmt, va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	script_errorf(&c->src, line, col, c->err, c->errlen, "%s", msg);
	return EINVAL;
}

static int SIPD_PRINTF(3, 4) err_at(struct script_comp *c, const struct script_token *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int e = errv(c, t->line, t->col, fmt, ap);
	va_end(ap);
	return e;
}

static int next(struct script_comp *c)
{
	c->prev = c->tok;
	return script_lex_next(&c->lx, &c->tok);
}

static bool is_kw(const struct script_token *t, const char *kw)
{
	return t->type == TOK_IDENT && sipd_str_eq(t->text, sipd_str_c(kw));
}

static bool is_keyword(const struct script_token *t)
{
	static const char *const kws[] = {"if",    "else",          "return",      "exit",          "drop",
					  "route", "request_route", "reply_route", "failure_route", NULL};
	for (unsigned i = 0; kws[i]; i++)
		if (is_kw(t, kws[i]))
			return true;
	return false;
}

static int unexpected(struct script_comp *c, const char *expected)
{
	const struct script_token *t = &c->tok;
	if (t->type == TOK_EOF)
		return err_at(c, t, "unexpected end of file, expected %s", expected);
	return err_at(c, t, "unexpected '%.*s', expected %s", SIPD_STR_FMT(t->text), expected);
}

static int expect(struct script_comp *c, enum script_tok type)
{
	if (c->tok.type == type)
		return next(c);
	if (type == TOK_SEMI) {
		/* Point just after the statement, where the ';' belongs. */
		if (c->tok.type == TOK_EOF)
			script_errorf(&c->src, c->prev.end_line, c->prev.end_col, c->err, c->errlen,
				      "missing ';' at end of file");
		else
			script_errorf(&c->src, c->prev.end_line, c->prev.end_col, c->err, c->errlen,
				      "missing ';' before '%.*s'", SIPD_STR_FMT(c->tok.text));
		return EINVAL;
	}
	return unexpected(c, script_tok_name(type));
}

static struct script_node *node(struct script_comp *c, enum script_op op, const struct script_token *at)
{
	struct script_node *n = script_arena_alloc(&c->s->arena, sizeof(*n));
	if (n) {
		n->op = op;
		n->line = at->line;
		n->col = at->col;
	}
	return n;
}

static int parse_expr(struct script_comp *c, struct script_node **out);
static int parse_stmt(struct script_comp *c, struct script_node **out);

/* name(args): arguments stay tokens until resolve.c knows the function's types. */
static int parse_call_args(struct script_comp *c, enum script_op op, const struct script_token *name,
			   struct script_node **out)
{
	struct script_node *n = node(c, op, name);
	int err;

	if (!n || !(n->u.call = script_arena_alloc(&c->s->arena, sizeof(*n->u.call))))
		return ENOMEM;
	n->u.call->name = *name;
	if ((err = expect(c, TOK_LPAREN)))
		return err;
	struct script_call *call = n->u.call;
	call->nargs = 0;
	while (c->tok.type != TOK_RPAREN) {
		if (call->nargs == SIPD_SCRIPT_MAX_ARGS)
			return err_at(c, &c->tok, "too many arguments (at most %d)", SIPD_SCRIPT_MAX_ARGS);
		if (c->tok.type != TOK_INT && c->tok.type != TOK_STRING && c->tok.type != TOK_IDENT)
			return unexpected(c, "an argument (integer, string or route name)");
		call->argt[call->nargs++] = c->tok;
		if ((err = next(c)))
			return err;
		if (c->tok.type == TOK_COMMA) {
			if ((err = next(c)))
				return err;
			if (c->tok.type == TOK_RPAREN)
				return unexpected(c, "an argument");
		} else if (c->tok.type != TOK_RPAREN) {
			return unexpected(c, "',' or ')'");
		}
	}
	if ((err = next(c)))
		return err;
	*out = n;
	return 0;
}

static int parse_call(struct script_comp *c, enum script_op op, struct script_node **out)
{
	struct script_token name = c->tok;
	int err = next(c);
	return err ? err : parse_call_args(c, op, &name, out);
}

/* route(NAME) as a statement or an expression. */
static int parse_route_call(struct script_comp *c, enum script_op op, struct script_node **out)
{
	struct script_node *n = node(c, op, &c->tok);
	int err;

	if (!n)
		return ENOMEM;
	if ((err = next(c)) || (err = expect(c, TOK_LPAREN)))
		return err;
	if (c->tok.type != TOK_IDENT && c->tok.type != TOK_STRING)
		return unexpected(c, "a route name");
	n->u.route.name = c->tok;
	if ((err = next(c)) || (err = expect(c, TOK_RPAREN)))
		return err;
	*out = n;
	return 0;
}

static int parse_primary(struct script_comp *c, struct script_node **out)
{
	struct script_token t = c->tok;
	struct script_node *n;
	int err;

	switch (t.type) {
	case TOK_LPAREN:
		if ((err = next(c)) || (err = parse_expr(c, out)))
			return err;
		return expect(c, TOK_RPAREN);
	case TOK_INT:
		if (!(n = node(c, E_INT, &t)))
			return ENOMEM;
		n->u.ival = t.i;
		*out = n;
		return next(c);
	case TOK_STRING:
		if (!(n = node(c, E_STR, &t)))
			return ENOMEM;
		if ((err = script_fmt_compile(c, &t, &n->u.fmt)))
			return err;
		*out = n;
		return next(c);
	case TOK_PV:
		if (!(n = node(c, E_PV, &t)))
			return ENOMEM;
		if ((err = script_pv_resolve(c, &t, &n->u.pv)))
			return err;
		*out = n;
		return next(c);
	case TOK_IDENT:
		if (is_kw(&t, "route"))
			return parse_route_call(c, E_ROUTE, out);
		if (is_keyword(&t))
			return unexpected(c, "an expression");
		return parse_call(c, E_CALL, out);
	default:
		return unexpected(c, "an expression");
	}
}

/* Parentheses and '!' nest at most this deep (every nested expression comes through parse_unary). */
#define MAX_EXPR_NESTING 64

static int parse_unary(struct script_comp *c, struct script_node **out)
{
	int err;

	if (c->expr_depth >= MAX_EXPR_NESTING)
		return err_at(c, &c->tok, "expression nested deeper than %d", MAX_EXPR_NESTING);
	c->expr_depth++;
	if (c->tok.type == TOK_NOT) {
		struct script_node *n = node(c, E_NOT, &c->tok);
		if (!n)
			err = ENOMEM;
		else if (!(err = next(c)) && !(err = parse_unary(c, &n->u.bin.l)))
			*out = n;
	} else {
		err = parse_primary(c, out);
	}
	c->expr_depth--;
	return err;
}

static int parse_regex(struct script_comp *c, struct script_node *n)
{
	struct script_regex *rx;
	char why[160];

	if (c->tok.type != TOK_STRING)
		return err_at(c, &c->tok,
			      "the right side of '%.*s' must be a string literal (a regular expression)",
			      SIPD_STR_FMT(c->prev.text));
	if (!(rx = script_arena_alloc(&c->s->arena, sizeof(*rx))))
		return ENOMEM;
	if (script_regex_compile(&rx->re, c->tok.str.p, REG_EXTENDED | REG_NOSUB, why, sizeof(why)))
		return err_at(c, &c->tok, "bad regular expression: %s", why);
	rx->next = c->s->regexes;
	c->s->regexes = rx;
	n->u.match.re = &rx->re;
	return next(c);
}

static int parse_cmp(struct script_comp *c, struct script_node **out)
{
	static const struct {
		enum script_tok tok;
		enum script_op op;
	} ops[] = {
	    {TOK_EQ, E_EQ}, {TOK_NE, E_NE}, {TOK_LT, E_LT},       {TOK_GT, E_GT},
	    {TOK_LE, E_LE}, {TOK_GE, E_GE}, {TOK_MATCH, E_MATCH}, {TOK_NOMATCH, E_NOMATCH},
	};
	struct script_node *l;
	int err;

	if ((err = parse_unary(c, &l)))
		return err;
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		if (c->tok.type != ops[k].tok)
			continue;
		struct script_node *n = node(c, ops[k].op, &c->tok);
		if (!n)
			return ENOMEM;
		if ((err = next(c)))
			return err;
		if (ops[k].op == E_MATCH || ops[k].op == E_NOMATCH) {
			n->u.match.l = l;
			err = parse_regex(c, n);
		} else {
			n->u.bin.l = l;
			err = parse_unary(c, &n->u.bin.r);
		}
		if (err)
			return err;
		*out = n;
		return 0;
	}
	*out = l;
	return 0;
}

static int parse_binary(struct script_comp *c, struct script_node **out, enum script_tok tok,
			enum script_op op, int (*sub)(struct script_comp *, struct script_node **))
{
	struct script_node *l;
	int err;

	if ((err = sub(c, &l)))
		return err;
	while (c->tok.type == tok) {
		struct script_node *n = node(c, op, &c->tok);
		if (!n)
			return ENOMEM;
		n->u.bin.l = l;
		if ((err = next(c)) || (err = sub(c, &n->u.bin.r)))
			return err;
		l = n;
	}
	*out = l;
	return 0;
}

static int parse_and(struct script_comp *c, struct script_node **out)
{
	return parse_binary(c, out, TOK_AND, E_AND, parse_cmp);
}

static int parse_expr(struct script_comp *c, struct script_node **out)
{
	return parse_binary(c, out, TOK_OR, E_OR, parse_and);
}

/* Blocks nest at most this deep: the parser, the resolver and the interpreter recurse into them. */
#define MAX_NESTING 64

static int parse_block(struct script_comp *c, struct script_node **out)
{
	struct script_node *n = node(c, S_BLOCK, &c->tok), **tail;
	int err;

	if (!n)
		return ENOMEM;
	if (c->depth >= MAX_NESTING)
		return err_at(c, &c->tok, "blocks nested deeper than %d", MAX_NESTING);
	if ((err = expect(c, TOK_LBRACE)))
		return err;
	c->depth++;
	tail = &n->u.first;
	while (c->tok.type != TOK_RBRACE) {
		if (c->tok.type == TOK_EOF) {
			err = err_at(c, &c->tok, "unexpected end of file, missing '}'");
			goto out;
		}
		if ((err = parse_stmt(c, tail)))
			goto out;
		tail = &(*tail)->next;
	}
	*out = n;
	err = next(c);
out:
	c->depth--;
	return err;
}

static int parse_if(struct script_comp *c, struct script_node **out)
{
	struct script_node *n = node(c, S_IF, &c->tok);
	int err;

	if (!n)
		return ENOMEM;
	if ((err = next(c)) || (err = expect(c, TOK_LPAREN)) || (err = parse_expr(c, &n->u.cif.cond)) ||
	    (err = expect(c, TOK_RPAREN)) || (err = parse_stmt(c, &n->u.cif.then)))
		return err;
	if (is_kw(&c->tok, "else")) {
		if ((err = next(c)) || (err = parse_stmt(c, &n->u.cif.els)))
			return err;
	}
	*out = n;
	return 0;
}

static int parse_assign(struct script_comp *c, struct script_node **out)
{
	struct script_token t = c->tok;
	struct script_node *n = node(c, S_ASSIGN, &t);
	int err;

	if (!n)
		return ENOMEM;
	n->u.assign.var = -1;
	if (sipd_str_eq(t.pv_name, SIPD_STR("var"))) {
		n->u.assign.target = ASSIGN_VAR;
		if ((err = script_var_slot(c, &t, t.pv_param)) < 0)
			return -err;
		n->u.assign.var = err;
	} else if (!t.pv_has_param && sipd_str_eq(t.pv_name, SIPD_STR("ru"))) {
		n->u.assign.target = ASSIGN_RURI;
	} else if (!t.pv_has_param && sipd_str_eq(t.pv_name, SIPD_STR("rU"))) {
		n->u.assign.target = ASSIGN_RURI_USER;
	} else if (!t.pv_has_param && sipd_str_eq(t.pv_name, SIPD_STR("rd"))) {
		n->u.assign.target = ASSIGN_RURI_HOST;
	} else {
		return err_at(c, &t, "cannot assign to $%.*s (only $ru, $rU, $rd and $var(name) can be set)",
			      SIPD_STR_FMT(t.pv_name));
	}
	if ((err = next(c)))
		return err;
	if (c->tok.type != TOK_ASSIGN)
		return unexpected(c, "'=' after a pseudo-variable at the start of a statement");
	if ((err = next(c)) || (err = parse_expr(c, &n->u.assign.value)) || (err = expect(c, TOK_SEMI)))
		return err;
	*out = n;
	return 0;
}

static int parse_stmt(struct script_comp *c, struct script_node **out)
{
	struct script_token t = c->tok;
	struct script_node *n;
	int err;

	switch (t.type) {
	case TOK_LBRACE:
		return parse_block(c, out);
	case TOK_SEMI:
		if (!(*out = node(c, S_NOP, &t)))
			return ENOMEM;
		return next(c);
	case TOK_PV:
		return parse_assign(c, out);
	case TOK_IDENT:
		break;
	default:
		return unexpected(c, "a statement");
	}

	if (is_kw(&t, "if"))
		return parse_if(c, out);
	if (is_kw(&t, "route")) {
		if ((err = parse_route_call(c, S_ROUTE, out)))
			return err;
		return expect(c, TOK_SEMI);
	}
	if (is_kw(&t, "exit") || is_kw(&t, "drop")) {
		if ((err = next(c)))
			return err;
		/* drop() is also the core function of that name. */
		if (is_kw(&t, "drop") && c->tok.type == TOK_LPAREN) {
			if ((err = parse_call_args(c, S_CALL, &t, out)))
				return err;
			return expect(c, TOK_SEMI);
		}
		if (!(n = node(c, is_kw(&t, "exit") ? S_EXIT : S_DROP, &t)))
			return ENOMEM;
		*out = n;
		return expect(c, TOK_SEMI);
	}
	if (is_kw(&t, "return")) {
		if (!(n = node(c, S_RETURN, &t)))
			return ENOMEM;
		if ((err = next(c)))
			return err;
		if (c->tok.type == TOK_INT) {
			n->u.ret.value = c->tok.i;
			n->u.ret.has_value = true;
			if ((err = next(c)))
				return err;
		}
		*out = n;
		return expect(c, TOK_SEMI);
	}
	if (is_kw(&t, "else"))
		return err_at(c, &t, "'else' without a matching 'if'");
	if (is_keyword(&t))
		return unexpected(c, "a statement");
	if ((err = parse_call(c, S_CALL, out)))
		return err;
	return expect(c, TOK_SEMI);
}

static int add_route(struct script_comp *c, const struct script_token *at, unsigned kind,
		     const struct script_token *name, struct script_route **out)
{
	struct script *s = c->s;

	for (unsigned i = 0; i < s->nroutes; i++) {
		struct script_route *r = &s->routes[i];
		if (!name && !r->name && r->kind == kind)
			return err_at(c, at, "duplicate %s (the first is at line %d)",
				      kind == SIPD_ROUTE_REQUEST ? "request_route" : "reply_route", r->line);
		if (name && r->name && sipd_str_eq(sipd_str_c(r->name), name->text))
			return err_at(c, name, "duplicate route name '%.*s' (the first is at line %d)",
				      SIPD_STR_FMT(name->text), r->line);
	}
	if (s->nroutes == c->route_cap) {
		unsigned cap = c->route_cap ? c->route_cap * 2 : 8;
		struct script_route *nr = realloc(s->routes, cap * sizeof(*nr));
		if (!nr)
			return ENOMEM;
		s->routes = nr;
		c->route_cap = cap;
	}
	struct script_route *r = &s->routes[s->nroutes++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->line = at->line;
	r->col = at->col;
	if (name) {
		if (!(r->name = script_arena_strndup(&s->arena, name->text.p, name->text.len)))
			return ENOMEM;
		r->id = script_route_intern(name->text);
		if (r->id < 0)
			return ENOMEM;
	} else {
		r->id = kind == SIPD_ROUTE_REQUEST ? SCRIPT_ROUTE_ID_REQUEST : SCRIPT_ROUTE_ID_REPLY;
	}
	*out = r;
	return 0;
}

static int parse_toplevel(struct script_comp *c)
{
	struct script_token t = c->tok, name = {0};
	struct script_route *r = NULL;
	unsigned kind;
	bool named;
	int err;

	if (is_kw(&t, "request_route")) {
		kind = SIPD_ROUTE_REQUEST;
		named = false;
	} else if (is_kw(&t, "reply_route")) {
		kind = SIPD_ROUTE_REPLY;
		named = false;
	} else if (is_kw(&t, "failure_route")) {
		kind = SIPD_ROUTE_FAILURE;
		named = true;
	} else if (is_kw(&t, "route")) {
		kind = 0;
		named = true;
	} else {
		return unexpected(c, "request_route, reply_route, failure_route or route");
	}
	if ((err = next(c)))
		return err;
	/* reply_route may carry a name (for t_on_reply); the others must or must not. */
	if (kind == SIPD_ROUTE_REPLY && c->tok.type == TOK_IDENT)
		named = true;
	if (named) {
		if (c->tok.type != TOK_IDENT || is_keyword(&c->tok))
			return unexpected(c, "a route name");
		name = c->tok;
		if ((err = next(c)))
			return err;
	}
	if ((err = add_route(c, &t, kind, named ? &name : NULL, &r)))
		return err;
	/* r may move when routes grows; keep the index. */
	size_t idx = (size_t)(r - c->s->routes);
	struct script_node *body;
	if (c->tok.type != TOK_LBRACE)
		return unexpected(c, "'{'");
	if ((err = parse_block(c, &body)))
		return err;
	c->s->routes[idx].body = body;
	return 0;
}

int script_parse(struct script_comp *c)
{
	int err;

	script_lex_init(&c->lx, &c->src, &c->s->arena, c->err, c->errlen);
	if ((err = next(c)))
		return err;
	while (c->tok.type != TOK_EOF)
		if ((err = parse_toplevel(c)))
			return err;
	for (unsigned i = 0; i < c->s->nroutes; i++)
		if (c->s->routes[i].kind == SIPD_ROUTE_REQUEST && !c->s->routes[i].name)
			return 0;
	script_errorf(&c->src, 1, 1, c->err, c->errlen, "no request_route: a script must define one");
	return EINVAL;
}
