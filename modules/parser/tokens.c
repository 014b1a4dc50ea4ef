/* Comma-separated token lists: option tags of Supported/Require and methods of Allow. */
#include <errno.h>

#include "parser_int.h"

int parser_tokens_add(struct sipd_tokens *t, unsigned cap, struct sipd_str value)
{
	struct parser_cur c = parser_cur_of(value);
	struct sipd_str tok;

	parser_skip_ws(&c);
	if (c.p >= c.e)
		return 0; /* "Supported:" with no tags is legal */
	for (;;) {
		parser_skip_ws(&c);
		tok = parser_take(&c, PARSER_C_TOKEN);
		if (tok.len == 0 || t->count >= cap)
			return EBADMSG;
		t->items[t->count++] = tok;
		parser_skip_ws(&c);
		if (c.p >= c.e)
			return 0;
		if (*c.p != ',')
			return EBADMSG;
		c.p++;
	}
}
