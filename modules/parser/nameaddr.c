/* name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route. */
#include <errno.h>
#include <string.h>

#include "parser_int.h"

/* qvalue = "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ], kept as thousandths. */
static int parse_q(struct sipd_str v, int *q)
{
	int r, scale = 100;
	size_t i;

	if (v.len == 0 || (v.p[0] != '0' && v.p[0] != '1') || v.len > 5)
		return EBADMSG;
	r = (v.p[0] - '0') * 1000;
	if (v.len == 1) {
		*q = r;
		return 0;
	}
	if (v.p[1] != '.')
		return EBADMSG;
	for (i = 2; i < v.len; i++, scale /= 10) {
		if (!parser_is(v.p[i], PARSER_C_DIGIT))
			return EBADMSG;
		r += (v.p[i] - '0') * scale;
	}
	if (r > 1000)
		return EBADMSG;
	*q = r;
	return 0;
}

static int parse_params(struct parser_cur *c, struct sipd_nameaddr *na, unsigned flags)
{
	struct sipd_param p;
	uint32_t v;
	int err;

	while ((err = parser_param_next(c, &p)) == 0) {
		if (!na->params.p)
			na->params.p = p.name.p;
		na->params.len = (size_t)(c->p - na->params.p);
		if (sipd_str_caseeq_c(p.name, "tag")) {
			if (!p.has_value)
				return EBADMSG;
			na->tag = p.value;
		} else if ((flags & PARSER_NA_CONTACT) && sipd_str_caseeq_c(p.name, "expires")) {
			err = parser_uint(&v, p.value, UINT32_MAX);
			if (err == ERANGE)
				v = UINT32_MAX; /* RFC 3261 20.19: huge values mean "the maximum" */
			else if (err)
				return EBADMSG;
			na->expires = (long)v;
		} else if ((flags & PARSER_NA_CONTACT) && sipd_str_caseeq_c(p.name, "q")) {
			if (parse_q(p.value, &na->q))
				return EBADMSG;
		}
	}
	return err == ENOENT ? 0 : err;
}

static int parse_uri(struct sipd_uri *u, struct sipd_str s)
{
	int err = parser_uri_parse(u, s);

	if (err == EPROTONOSUPPORT && s.len <= (size_t)parser_limits.max_uri_length) {
		/* absoluteURI of another scheme is legal here: only raw is set */
		memset(u, 0, sizeof(*u));
		u->raw = s;
		return 0;
	}
	return err;
}

static int parse_one(struct parser_cur *c, struct sipd_nameaddr *na, unsigned flags)
{
	struct parser_cur save;
	const char *close;
	int err;

	parser_skip_ws(c);
	if (c->p < c->e && *c->p == '"') {
		err = parser_quoted(c, &na->display);
		if (err)
			return err;
		parser_skip_ws(c);
		if (c->p >= c->e || *c->p != '<')
			return EBADMSG;
	} else {
		save = *c;
		while (c->p < c->e && parser_is(*c->p, PARSER_C_TOKEN | PARSER_C_WS))
			c->p++;
		if (c->p < c->e && *c->p == '<')
			na->display = parser_trim((struct sipd_str){save.p, (size_t)(c->p - save.p)});
		else
			*c = save;
	}
	if (c->p < c->e && *c->p == '<') {
		close = memchr(c->p, '>', (size_t)(c->e - c->p));
		if (!close)
			return EBADMSG;
		err = parse_uri(&na->uri, (struct sipd_str){c->p + 1, (size_t)(close - c->p - 1)});
		if (err)
			return EBADMSG;
		c->p = close + 1;
	} else {
		/* addr-spec: parameters after it belong to the header (RFC 3261 20.10) */
		const char *s = c->p;

		while (c->p < c->e && *c->p != ';' && *c->p != ',' && !parser_is(*c->p, PARSER_C_WS))
			c->p++;
		/* a URI with headers must be in <> (RFC 3261 20.10, RFC 4475 3.1.2.13) */
		if (memchr(s, '?', (size_t)(c->p - s)))
			return EBADMSG;
		err = parse_uri(&na->uri, (struct sipd_str){s, (size_t)(c->p - s)});
		if (err)
			return EBADMSG;
	}
	return parse_params(c, na, flags);
}

int parser_nameaddr_list(struct parser_arena *a, struct sipd_nameaddr **head, struct sipd_nameaddr **tail,
			 struct sipd_str value, unsigned flags)
{
	struct parser_cur c = parser_cur_of(value);
	struct sipd_nameaddr *first = NULL, *last = NULL, *na;
	int err;

	for (;;) {
		na = parser_arena_alloc(a, sizeof(*na));
		if (!na)
			return ENOMEM;
		memset(na, 0, sizeof(*na));
		na->expires = -1;
		na->q = -1;
		parser_skip_ws(&c);
		if ((flags & PARSER_NA_STAR) && !first && c.p < c.e && *c.p == '*') {
			/* Contact: * stands alone, with at most an expires parameter */
			c.p++;
			na->star = true;
			err = parse_params(&c, na, flags);
		} else {
			err = parse_one(&c, na, flags);
		}
		if (err)
			return err;
		if (last)
			last->next = na;
		else
			first = na;
		last = na;
		parser_skip_ws(&c);
		if (c.p >= c.e)
			break;
		if (*c.p != ',' || !(flags & PARSER_NA_LIST) || first->star)
			return EBADMSG;
		c.p++;
	}
	*head = first;
	*tail = last;
	return 0;
}
