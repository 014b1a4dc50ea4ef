/* Parameter lists: ";name[=value]" after header values and inside URIs. */
#include <errno.h>

#include "parser_int.h"

int parser_param_next(struct parser_cur *c, struct sipd_param *out)
{
	struct parser_cur save;
	int err;

	parser_skip_ws(c);
	if (c->p >= c->e || *c->p != ';')
		return ENOENT;
	c->p++;
	parser_skip_ws(c);
	out->name = parser_take(c, PARSER_C_TOKEN);
	if (out->name.len == 0)
		return EBADMSG;
	out->value = (struct sipd_str){c->p, 0};
	out->has_value = false;
	save = *c;
	if (!parser_eat(c, '=')) {
		*c = save;
		return 0;
	}
	if (c->p < c->e && *c->p == '"') {
		err = parser_quoted(c, &out->value);
		if (err)
			return err;
	} else {
		out->value = parser_take(c, PARSER_C_PVALUE);
		if (out->value.len == 0)
			return EBADMSG;
	}
	out->has_value = true;
	return 0;
}

/* A run of URI parameter characters, escapes allowed and checked. */
static int take_paramchars(struct parser_cur *c, struct sipd_str *out)
{
	const char *s = c->p;

	while (c->p < c->e) {
		if (parser_is(*c->p, PARSER_C_PARAM)) {
			c->p++;
		} else if (*c->p == '%' && c->e - c->p >= 3 && parser_is(c->p[1], PARSER_C_HEX) &&
			   parser_is(c->p[2], PARSER_C_HEX)) {
			c->p += 3;
		} else {
			break;
		}
	}
	out->p = s;
	out->len = (size_t)(c->p - s);
	return out->len ? 0 : EBADMSG;
}

int parser_uri_param_next(struct parser_cur *c, struct sipd_param *out)
{
	int err;

	if (c->p >= c->e)
		return ENOENT;
	err = take_paramchars(c, &out->name);
	if (err)
		return err;
	out->has_value = false;
	out->value = (struct sipd_str){c->p, 0};
	if (c->p < c->e && *c->p == '=') {
		c->p++;
		err = take_paramchars(c, &out->value);
		if (err)
			return err;
		out->has_value = true;
	}
	if (c->p < c->e) {
		if (*c->p != ';')
			return EBADMSG;
		c->p++;
		if (c->p >= c->e)
			return EBADMSG; /* a trailing ';' names no parameter */
	}
	return 0;
}
