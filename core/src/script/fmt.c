/* Format strings ("text $pv more"): compiled once into segments, expanded per message. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "script_int.h"

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

int script_var_slot(struct script_comp *c, const struct script_token *t, struct sipd_str name)
{
	struct script *s = c->s;

	if (name.len == 0 || isdigit((unsigned char)name.p[0])) {
		script_errorf(&c->src, t->line, t->col, c->err, c->errlen,
			      "$var needs a name made of letters, digits and '_': $var(name)");
		return -EINVAL;
	}
	for (size_t i = 0; i < name.len; i++) {
		if (!ident_char(name.p[i])) {
			script_errorf(&c->src, t->line, t->col, c->err, c->errlen,
				      "$var needs a name made of letters, digits and '_': $var(name)");
			return -EINVAL;
		}
	}
	for (unsigned i = 0; i < s->nvars; i++)
		if (sipd_str_eq(sipd_str_c(s->vars[i]), name))
			return (int)i;
	if (s->nvars == SCRIPT_MAX_VARS) {
		script_errorf(&c->src, t->line, t->col, c->err, c->errlen, "too many $var names (at most %d)",
			      SCRIPT_MAX_VARS);
		return -EINVAL;
	}
	if (!(s->vars[s->nvars] = script_arena_strndup(&s->arena, name.p, name.len)))
		return -ENOMEM;
	return (int)s->nvars++;
}

int script_pv_resolve(struct script_comp *c, const struct script_token *t, struct script_pv *out)
{
	bool takes_param;
	sipd_pv_get_fn get;
	int slot;

	memset(out, 0, sizeof(*out));
	out->var = -1;
	if (sipd_str_eq(t->pv_name, SIPD_STR("var"))) {
		if (!t->pv_has_param) {
			script_errorf(&c->src, t->line, t->col, c->err, c->errlen,
				      "$var needs a name: $var(name)");
			return EINVAL;
		}
		if ((slot = script_var_slot(c, t, t->pv_param)) < 0)
			return -slot;
		out->var = slot;
		out->name = "var";
		return 0;
	}
	if (script_pv_lookup(t->pv_name, &takes_param, &get)) {
		script_errorf(&c->src, t->line, t->col, c->err, c->errlen, "unknown pseudo-variable $%.*s",
			      SIPD_STR_FMT(t->pv_name));
		return EINVAL;
	}
	if (takes_param && !t->pv_has_param) {
		script_errorf(&c->src, t->line, t->col, c->err, c->errlen,
			      "$%.*s needs a parameter: $%.*s(...)", SIPD_STR_FMT(t->pv_name),
			      SIPD_STR_FMT(t->pv_name));
		return EINVAL;
	}
	if (!takes_param && t->pv_has_param) {
		script_errorf(&c->src, t->line, t->col, c->err, c->errlen, "$%.*s takes no parameter",
			      SIPD_STR_FMT(t->pv_name));
		return EINVAL;
	}
	out->get = get;
	if (!(out->name = script_arena_strndup(&c->s->arena, t->pv_name.p, t->pv_name.len)))
		return ENOMEM;
	if (t->pv_has_param) {
		char *p = script_arena_strndup(&c->s->arena, t->pv_param.p, t->pv_param.len);
		if (!p)
			return ENOMEM;
		out->param = (struct sipd_str){p, t->pv_param.len};
	}
	return 0;
}

/*
 * Splits the decoded text at each $name or $name(param); "$$" is a literal
 * '$' and a '$' not followed by a name is kept as is. Error columns are
 * exact unless an escape precedes the pseudo-variable in the string.
 */
int script_fmt_compile(struct script_comp *c, const struct script_token *t, const struct sipd_fmt **out)
{
	const char *s = t->str.p;
	size_t len = t->str.len, cap = 1;
	struct sipd_fmt *f;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '$')
			cap += 2;
	f = script_arena_alloc(&c->s->arena, sizeof(*f) + cap * sizeof(f->seg[0]));
	if (!f)
		return ENOMEM;
	f->text = t->str;
	f->constant = true;

	size_t i = 0;
	char *lit = script_arena_alloc(&c->s->arena, len + 1);
	size_t lit_len = 0;
	if (!lit)
		return ENOMEM;
	while (i < len) {
		bool pv = s[i] == '$' && i + 1 < len && (isalpha((unsigned char)s[i + 1]) || s[i + 1] == '_');
		if (s[i] == '$' && i + 1 < len && s[i + 1] == '$') {
			lit[lit_len++] = '$';
			i += 2;
			continue;
		}
		if (!pv) {
			lit[lit_len++] = s[i++];
			continue;
		}
		struct script_token pt = {.type = TOK_PV, .line = t->line, .col = t->col + 1 + (int)i};
		size_t j = i + 1;
		while (j < len && ident_char(s[j]))
			j++;
		pt.pv_name = (struct sipd_str){s + i + 1, j - i - 1};
		if (j < len && s[j] == '(') {
			size_t k = j + 1;
			while (k < len && s[k] != ')')
				k++;
			if (k >= len) {
				script_errorf(&c->src, pt.line, pt.col, c->err, c->errlen,
					      "missing ')' after pseudo-variable parameter in string");
				return EINVAL;
			}
			pt.pv_has_param = true;
			pt.pv_param = (struct sipd_str){s + j + 1, k - j - 1};
			j = k + 1;
		}
		if (lit_len) {
			f->seg[f->count].lit = (struct sipd_str){lit, lit_len};
			f->seg[f->count++].is_pv = false;
			lit += lit_len + 1;
			lit_len = 0;
		}
		struct script_fmt_seg *seg = &f->seg[f->count++];
		seg->is_pv = true;
		int err = script_pv_resolve(c, &pt, &seg->pv);
		if (err)
			return err;
		f->constant = false;
		i = j;
	}
	if (lit_len) {
		f->seg[f->count].lit = (struct sipd_str){lit, lit_len};
		f->seg[f->count++].is_pv = false;
	}
	if (f->constant) {
		/* "$$" unescaped: the value differs from the token text. */
		f->text = f->count ? f->seg[0].lit : (struct sipd_str){"", 0};
	}
	*out = f;
	return 0;
}

/* Appends v to buf at *n; false when it does not fit. */
static bool append(char *buf, size_t size, size_t *n, const char *p, size_t len)
{
	if (*n + len >= size)
		return false;
	if (len)
		memcpy(buf + *n, p, len);
	*n += len;
	return true;
}

SIPD_API int sipd_fmt_eval(struct sipd_ctx *ctx, const struct sipd_fmt *fmt, char *buf, size_t size,
			   struct sipd_str *out)
{
	size_t n = 0;

	if (!fmt || !buf || size == 0)
		return EINVAL;
	for (unsigned i = 0; i < fmt->count; i++) {
		const struct script_fmt_seg *seg = &fmt->seg[i];
		bool ok;
		if (!seg->is_pv) {
			ok = append(buf, size, &n, seg->lit.p, seg->lit.len);
		} else {
			struct sipd_pv_value v;
			if (script_pv_get(ctx, &seg->pv, &v) != 0)
				continue; /* an absent value expands to nothing */
			if (v.s.p) {
				ok = append(buf, size, &n, v.s.p, v.s.len);
			} else {
				char num[24];
				int w = snprintf(num, sizeof(num), "%ld", v.i);
				ok = append(buf, size, &n, num, (size_t)w);
			}
		}
		if (!ok)
			return ENOSPC;
	}
	buf[n] = '\0';
	*out = (struct sipd_str){buf, n};
	return 0;
}
