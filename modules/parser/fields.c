/* Simple header values: numbers, CSeq, Call-ID, Content-Type. */
#include <errno.h>
#include <string.h>

#include "parser_int.h"

int parser_uint(uint32_t *out, struct sipd_str s, uint32_t max)
{
	uint64_t v = 0;
	bool over = false;
	size_t i;

	s = parser_trim(s);
	if (s.len == 0)
		return EBADMSG;
	for (i = 0; i < s.len; i++) {
		if (!parser_is(s.p[i], PARSER_C_DIGIT))
			return EBADMSG;
		if (!over) {
			v = v * 10 + (uint64_t)(s.p[i] - '0');
			over = v > max;
		}
	}
	if (over)
		return ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int parser_cseq_parse(struct sipd_cseq *out, struct sipd_str value)
{
	struct parser_cur c = parser_cur_of(parser_trim(value));
	struct sipd_str num, method;
	uint32_t n;

	num = parser_take(&c, PARSER_C_DIGIT);
	if (num.len == 0 || parser_uint(&n, num, UINT32_MAX))
		return EBADMSG;
	if (c.p >= c.e || !parser_is(*c.p, PARSER_C_WS))
		return EBADMSG;
	parser_skip_ws(&c);
	method = parser_take(&c, PARSER_C_TOKEN);
	if (method.len == 0 || c.p != c.e)
		return EBADMSG;
	out->number = n;
	out->method = method;
	out->method_id = sipd_method_of(method);
	return 0;
}

int parser_callid_valid(struct sipd_str value)
{
	struct parser_cur c = parser_cur_of(value);
	struct sipd_str w = parser_take(&c, PARSER_C_WORD);

	if (w.len == 0)
		return EBADMSG;
	if (c.p < c.e && *c.p == '@') {
		c.p++;
		w = parser_take(&c, PARSER_C_WORD);
		if (w.len == 0)
			return EBADMSG;
	}
	return c.p == c.e ? 0 : EBADMSG;
}

int parser_content_type(struct sipd_str *out, struct sipd_str value)
{
	struct parser_cur c = parser_cur_of(parser_trim(value));
	struct sipd_str type, sub;
	struct sipd_param p;
	int err;

	type = parser_take(&c, PARSER_C_TOKEN);
	if (type.len == 0 || !parser_eat(&c, '/'))
		return EBADMSG;
	sub = parser_take(&c, PARSER_C_TOKEN);
	if (sub.len == 0)
		return EBADMSG;
	while ((err = parser_param_next(&c, &p)) == 0)
		;
	if (err != ENOENT || c.p != c.e)
		return EBADMSG;
	out->p = type.p;
	out->len = (size_t)(sub.p + sub.len - type.p);
	return 0;
}
