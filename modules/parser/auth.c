/* Authorization/Proxy-Authorization credentials and WWW-/Proxy-Authenticate challenges. */
#include <errno.h>
#include <string.h>

#include "parser_int.h"

static void assign(struct sipd_auth *a, struct sipd_str name, struct sipd_str value)
{
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
	    {"username", offsetof(struct sipd_auth, username)},
	    {"realm", offsetof(struct sipd_auth, realm)},
	    {"nonce", offsetof(struct sipd_auth, nonce)},
	    {"uri", offsetof(struct sipd_auth, uri)},
	    {"response", offsetof(struct sipd_auth, response)},
	    {"algorithm", offsetof(struct sipd_auth, algorithm)},
	    {"cnonce", offsetof(struct sipd_auth, cnonce)},
	    {"opaque", offsetof(struct sipd_auth, opaque)},
	    {"qop", offsetof(struct sipd_auth, qop)},
	    {"nc", offsetof(struct sipd_auth, nc)},
	};
	size_t i;

	if (sipd_str_caseeq_c(name, "stale")) {
		a->stale = sipd_str_caseeq_c(value, "true");
		return;
	}
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (sipd_str_caseeq_c(name, fields[i].name)) {
			*(struct sipd_str *)((char *)a + fields[i].off) = value;
			return;
		}
	}
}

int parser_auth_parse(struct sipd_auth *out, struct sipd_str value)
{
	struct parser_cur c = parser_cur_of(parser_trim(value));
	struct sipd_auth a;
	struct sipd_str name, v;
	int err;

	memset(&a, 0, sizeof(a));
	a.scheme = parser_take(&c, PARSER_C_TOKEN);
	if (a.scheme.len == 0 || (c.p < c.e && !parser_is(*c.p, PARSER_C_WS)))
		return EBADMSG;
	parser_skip_ws(&c);
	a.params = (struct sipd_str){c.p, (size_t)(c.e - c.p)};
	/* Other schemes (Basic, Bearer) carry opaque data: keep it raw. */
	if (!sipd_str_caseeq_c(a.scheme, "Digest") || c.p == c.e) {
		*out = a;
		return 0;
	}
	for (;;) {
		parser_skip_ws(&c);
		name = parser_take(&c, PARSER_C_TOKEN);
		if (name.len == 0 || !parser_eat(&c, '='))
			return EBADMSG;
		if (c.p < c.e && *c.p == '"') {
			err = parser_quoted(&c, &v);
			if (err)
				return err;
		} else {
			v = parser_take(&c, PARSER_C_PVALUE);
			if (v.len == 0)
				return EBADMSG;
		}
		assign(&a, name, v);
		parser_skip_ws(&c);
		if (c.p >= c.e)
			break;
		if (*c.p != ',')
			return EBADMSG;
		c.p++;
	}
	*out = a;
	return 0;
}
