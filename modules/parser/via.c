/* Via header: via-parms with sent-protocol, sent-by and their parameters. */
#include <errno.h>
#include <string.h>

#include "parser_int.h"

static int parse_host(struct parser_cur *c, struct sipd_str *host, bool *ipv6)
{
	const char *s = c->p;

	if (c->p < c->e && *c->p == '[') {
		const char *close = memchr(c->p, ']', (size_t)(c->e - c->p));

		if (!close)
			return EBADMSG;
		c->p = close + 1;
	} else {
		while (c->p < c->e && (parser_is(*c->p, PARSER_C_ALNUM) || *c->p == '-' || *c->p == '.'))
			c->p++;
	}
	*host = (struct sipd_str){s, (size_t)(c->p - s)};
	if (!parser_valid_host(*host, false, ipv6))
		return EBADMSG;
	if (*ipv6) {
		host->p++;
		host->len -= 2;
	}
	return 0;
}

static int via_params(struct parser_cur *c, struct sipd_via *v)
{
	struct sipd_param p;
	uint32_t n;
	bool ipv6;
	int err;

	while ((err = parser_param_next(c, &p)) == 0) {
		if (!v->params.p)
			v->params.p = p.name.p;
		v->params.len = (size_t)(c->p - v->params.p);
		if (sipd_str_caseeq_c(p.name, "branch")) {
			if (!p.has_value || !parser_valid(p.value, PARSER_C_TOKEN, false))
				return EBADMSG;
			v->branch = p.value;
		} else if (sipd_str_caseeq_c(p.name, "received")) {
			if (!parser_valid_host(p.value, true, &ipv6))
				return EBADMSG;
			v->received = p.value;
		} else if (sipd_str_caseeq_c(p.name, "maddr")) {
			if (!parser_valid_host(p.value, true, &ipv6))
				return EBADMSG;
			v->maddr = p.value;
		} else if (sipd_str_caseeq_c(p.name, "rport")) {
			v->rport = true;
			if (p.has_value) {
				if (parser_uint(&n, p.value, 65535))
					return EBADMSG;
				v->rport_value = (long)n;
			}
		} else if (sipd_str_caseeq_c(p.name, "ttl")) {
			if (parser_uint(&n, p.value, 255))
				return EBADMSG;
			v->ttl = (int)n;
		}
	}
	return err == ENOENT ? 0 : err;
}

static int parse_parm(struct parser_cur *c, struct sipd_via *v)
{
	struct sipd_str name, version;
	uint16_t port = 0;
	const char *s;
	int err;

	memset(v, 0, sizeof(*v));
	v->rport_value = -1;
	v->ttl = -1;
	parser_skip_ws(c);
	s = c->p;
	name = parser_take(c, PARSER_C_TOKEN);
	if (name.len == 0 || !parser_eat(c, '/'))
		return EBADMSG;
	version = parser_take(c, PARSER_C_TOKEN);
	if (version.len == 0 || !parser_eat(c, '/'))
		return EBADMSG;
	v->protocol = parser_take(c, PARSER_C_TOKEN);
	if (v->protocol.len == 0 || c->p >= c->e || !parser_is(*c->p, PARSER_C_WS))
		return EBADMSG;
	parser_skip_ws(c);
	err = parse_host(c, &v->host, &v->host_ipv6);
	if (err)
		return err;
	if (parser_eat(c, ':')) {
		struct sipd_str d = parser_take(c, PARSER_C_DIGIT);
		uint32_t n;

		if (d.len == 0 || parser_uint(&n, d, 65535))
			return EBADMSG;
		port = (uint16_t)n;
	}
	v->port = port;
	err = via_params(c, v);
	if (err)
		return err;
	v->value = (struct sipd_str){s, (size_t)(c->p - s)};
	return 0;
}

int parser_via_list(struct parser_arena *a, struct sipd_via **head, struct sipd_via **tail,
		    struct sipd_str value)
{
	struct parser_cur c = parser_cur_of(value);
	struct sipd_via *first = NULL, *last = NULL, *v;
	int err;

	for (;;) {
		v = parser_arena_alloc(a, sizeof(*v));
		if (!v)
			return ENOMEM;
		err = parse_parm(&c, v);
		if (err)
			return err;
		if (last)
			last->next = v;
		else
			first = v;
		last = v;
		parser_skip_ws(&c);
		if (c.p >= c.e)
			break;
		if (*c.p != ',')
			return EBADMSG;
		c.p++;
	}
	*head = first;
	*tail = last;
	return 0;
}

int parser_via_first(struct sipd_via *out, struct sipd_str value)
{
	struct parser_cur c = parser_cur_of(value);
	struct sipd_via v;
	int err = parse_parm(&c, &v);

	if (err)
		return err;
	parser_skip_ws(&c);
	if (c.p < c.e && *c.p != ',')
		return EBADMSG;
	*out = v;
	return 0;
}
