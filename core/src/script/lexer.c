/* Tokenizer of routing.cfg: identifiers, literals, pseudo-variables, operators, comments. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "script_int.h"

void script_lex_init(struct script_lexer *lx, const struct script_src *src, struct script_arena *arena,
		     char *err, size_t errlen)
{
	lx->src = src;
	lx->arena = arena;
	lx->pos = 0;
	lx->line = 1;
	lx->line_start = 0;
	lx->err = err;
	lx->errlen = errlen;
}

const char *script_tok_name(enum script_tok t)
{
	static const char *const names[] = {
	    [TOK_EOF] = "end of file",
	    [TOK_IDENT] = "identifier",
	    [TOK_STRING] = "string",
	    [TOK_INT] = "integer",
	    [TOK_PV] = "pseudo-variable",
	    [TOK_LBRACE] = "'{'",
	    [TOK_RBRACE] = "'}'",
	    [TOK_LPAREN] = "'('",
	    [TOK_RPAREN] = "')'",
	    [TOK_SEMI] = "';'",
	    [TOK_COMMA] = "','",
	    [TOK_ASSIGN] = "'='",
	    [TOK_EQ] = "'=='",
	    [TOK_NE] = "'!='",
	    [TOK_LT] = "'<'",
	    [TOK_GT] = "'>'",
	    [TOK_LE] = "'<='",
	    [TOK_GE] = "'>='",
	    [TOK_MATCH] = "'=~'",
	    [TOK_NOMATCH] = "'!~'",
	    [TOK_NOT] = "'!'",
	    [TOK_AND] = "'&&'",
	    [TOK_OR] = "'||'",
	};
	return names[t];
}

static int col_of(const struct script_lexer *lx, size_t pos)
{
	return (int)(pos - lx->line_start) + 1;
}

static int fail(struct script_lexer *lx, size_t pos, const char *msg)
{
	script_errorf(lx->src, lx->line, col_of(lx, pos), lx->err, lx->errlen, "%s", msg);
	return EINVAL;
}

static void newline(struct script_lexer *lx, size_t pos_after)
{
	lx->line++;
	lx->line_start = pos_after;
}

/* Skips blanks and the three comment forms; EINVAL on an unterminated block comment. */
static int skip_space(struct script_lexer *lx)
{
	const char *s = lx->src->text;
	size_t len = lx->src->len;

	while (lx->pos < len) {
		char ch = s[lx->pos];
		if (ch == '\n') {
			newline(lx, ++lx->pos);
		} else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
			lx->pos++;
		} else if (ch == '#' || (ch == '/' && lx->pos + 1 < len && s[lx->pos + 1] == '/')) {
			while (lx->pos < len && s[lx->pos] != '\n')
				lx->pos++;
		} else if (ch == '/' && lx->pos + 1 < len && s[lx->pos + 1] == '*') {
			size_t start = lx->pos;
			int line = lx->line;
			size_t ls = lx->line_start;
			lx->pos += 2;
			while (lx->pos + 1 < len && !(s[lx->pos] == '*' && s[lx->pos + 1] == '/')) {
				if (s[lx->pos] == '\n')
					newline(lx, lx->pos + 1);
				lx->pos++;
			}
			if (lx->pos + 1 >= len) {
				lx->line = line;
				lx->line_start = ls;
				return fail(lx, start, "unterminated comment");
			}
			lx->pos += 2;
		} else {
			break;
		}
	}
	return 0;
}

static bool ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '_';
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

static int lex_string(struct script_lexer *lx, struct script_token *t)
{
	const char *s = lx->src->text;
	size_t len = lx->src->len, start = lx->pos, i = lx->pos + 1;
	char *out;
	size_t n = 0;

	/* The decoded text is never longer than the raw one. */
	size_t end = i;
	while (end < len && s[end] != '"' && s[end] != '\n') {
		if (s[end] == '\\' && end + 1 < len && s[end + 1] != '\n')
			end++;
		end++;
	}
	if (end >= len || s[end] != '"')
		return fail(lx, start, "unterminated string");
	out = script_arena_alloc(lx->arena, end - i + 1);
	if (!out)
		return ENOMEM;
	for (; i < end; i++) {
		char ch = s[i];
		if (ch == '\\') {
			char e = s[++i];
			switch (e) {
			case '"':
			case '\\':
				ch = e;
				break;
			case 'n':
				ch = '\n';
				break;
			case 'r':
				ch = '\r';
				break;
			case 't':
				ch = '\t';
				break;
			default: {
				char msg[64];
				snprintf(msg, sizeof(msg), "bad escape '\\%c' in string", e);
				return fail(lx, i - 1, msg);
			}
			}
		}
		out[n++] = ch;
	}
	out[n] = '\0';
	t->type = TOK_STRING;
	t->str.p = out;
	t->str.len = n;
	lx->pos = end + 1;
	return 0;
}

static int lex_int(struct script_lexer *lx, struct script_token *t)
{
	const char *s = lx->src->text;
	size_t len = lx->src->len, start = lx->pos, i = lx->pos;
	bool neg = false;
	unsigned long v = 0;

	if (s[i] == '-') {
		neg = true;
		i++;
	}
	for (; i < len && isdigit((unsigned char)s[i]); i++) {
		if (v > (unsigned long)LONG_MAX / 10)
			return fail(lx, start, "integer out of range");
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > (unsigned long)LONG_MAX)
			return fail(lx, start, "integer out of range");
	}
	if (i < len && ident_char(s[i]))
		return fail(lx, start, "malformed number");
	t->type = TOK_INT;
	t->i = neg ? -(long)v : (long)v;
	lx->pos = i;
	return 0;
}

static int lex_pv(struct script_lexer *lx, struct script_token *t)
{
	const char *s = lx->src->text;
	size_t len = lx->src->len, start = lx->pos, i = lx->pos + 1;

	if (i >= len || !ident_start(s[i]))
		return fail(lx, start, "expected a pseudo-variable name after '$'");
	while (i < len && ident_char(s[i]))
		i++;
	t->type = TOK_PV;
	t->pv_name = (struct sipd_str){s + start + 1, i - start - 1};
	if (i < len && s[i] == '(') {
		size_t p = i + 1;
		while (p < len && s[p] != ')' && s[p] != '\n' && s[p] != '(')
			p++;
		if (p >= len || s[p] != ')')
			return fail(lx, i, "missing ')' after pseudo-variable parameter");
		t->pv_has_param = true;
		t->pv_param = (struct sipd_str){s + i + 1, p - i - 1};
		i = p + 1;
	}
	lx->pos = i;
	return 0;
}

/* Two-character operators first, then one-character ones. */
static bool lex_op(struct script_lexer *lx, struct script_token *t)
{
	static const struct {
		const char *text;
		enum script_tok tok;
	} ops[] = {
	    {"==", TOK_EQ},      {"!=", TOK_NE},    {"<=", TOK_LE},  {">=", TOK_GE},    {"=~", TOK_MATCH},
	    {"!~", TOK_NOMATCH}, {"&&", TOK_AND},   {"||", TOK_OR},  {"{", TOK_LBRACE}, {"}", TOK_RBRACE},
	    {"(", TOK_LPAREN},   {")", TOK_RPAREN}, {";", TOK_SEMI}, {",", TOK_COMMA},  {"=", TOK_ASSIGN},
	    {"<", TOK_LT},       {">", TOK_GT},     {"!", TOK_NOT},
	};
	const char *s = lx->src->text + lx->pos;
	size_t left = lx->src->len - lx->pos;

	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		size_t n = strlen(ops[k].text);
		if (n <= left && memcmp(s, ops[k].text, n) == 0) {
			t->type = ops[k].tok;
			lx->pos += n;
			return true;
		}
	}
	return false;
}

int script_lex_next(struct script_lexer *lx, struct script_token *t)
{
	const char *s = lx->src->text;
	size_t len = lx->src->len;
	int err;

	memset(t, 0, sizeof(*t));
	err = skip_space(lx);
	if (err)
		return err;
	t->line = lx->line;
	t->col = col_of(lx, lx->pos);
	size_t start = lx->pos;
	if (lx->pos >= len) {
		t->type = TOK_EOF;
	} else if (ident_start(s[start])) {
		while (lx->pos < len && ident_char(s[lx->pos]))
			lx->pos++;
		t->type = TOK_IDENT;
	} else if (s[start] == '"') {
		err = lex_string(lx, t);
	} else if (isdigit((unsigned char)s[start]) ||
		   (s[start] == '-' && start + 1 < len && isdigit((unsigned char)s[start + 1]))) {
		err = lex_int(lx, t);
	} else if (s[start] == '$') {
		err = lex_pv(lx, t);
	} else if (!lex_op(lx, t)) {
		char msg[64];
		if (isprint((unsigned char)s[start]))
			snprintf(msg, sizeof(msg), "unexpected character '%c'", s[start]);
		else
			snprintf(msg, sizeof(msg), "unexpected byte 0x%02x", (unsigned char)s[start]);
		return fail(lx, start, msg);
	}
	if (err)
		return err;
	t->text = (struct sipd_str){s + start, lx->pos - start};
	t->end_line = lx->line;
	t->end_col = col_of(lx, lx->pos);
	return 0;
}
