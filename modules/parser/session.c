/* Session-Expires and Min-SE (RFC 4028): delta-seconds with parameters. */
#include <errno.h>

#include "parser_int.h"

int parser_session_expires(struct sipd_session_expires *out, struct sipd_str value)
{
	struct parser_cur c = parser_cur_of(parser_trim(value));
	struct sipd_session_expires se = {0};
	struct sipd_str num = parser_take(&c, PARSER_C_DIGIT);
	struct sipd_param p;
	int err;

	if (num.len == 0 || parser_uint(&se.delta, num, UINT32_MAX))
		return EBADMSG;
	while ((err = parser_param_next(&c, &p)) == 0) {
		if (!sipd_str_caseeq_c(p.name, "refresher"))
			continue;
		if (!sipd_str_caseeq_c(p.value, "uac") && !sipd_str_caseeq_c(p.value, "uas"))
			return EBADMSG;
		se.refresher = p.value;
	}
	if (err != ENOENT || c.p != c.e)
		return EBADMSG;
	*out = se;
	return 0;
}
