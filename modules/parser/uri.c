/* SIP, SIPS and tel URIs (RFC 3261 section 19.1, RFC 3966), validated strictly. */
#include <errno.h>
#include <string.h>

#include "parser_int.h"

static int scheme_of(struct sipd_str scheme, enum sipd_uri_scheme *out)
{
	size_t i;

	if (scheme.len == 0 || !parser_is(scheme.p[0], PARSER_C_ALNUM) ||
	    parser_is(scheme.p[0], PARSER_C_DIGIT))
		return EBADMSG;
	for (i = 1; i < scheme.len; i++)
		if (!parser_is(scheme.p[i], PARSER_C_ALNUM) && !strchr("+-.", scheme.p[i]))
			return EBADMSG;
	if (sipd_str_caseeq_c(scheme, "sip"))
		*out = SIPD_URI_SIP;
	else if (sipd_str_caseeq_c(scheme, "sips"))
		*out = SIPD_URI_SIPS;
	else if (sipd_str_caseeq_c(scheme, "tel"))
		*out = SIPD_URI_TEL;
	else
		return EPROTONOSUPPORT;
	return 0;
}

/* Picks the parameters modules keep asking for out of the raw list. */
static int uri_params(struct sipd_uri *u)
{
	struct parser_cur c = parser_cur_of(u->params);
	struct sipd_param p;
	int err;

	while ((err = parser_uri_param_next(&c, &p)) == 0) {
		if (sipd_str_caseeq_c(p.name, "transport"))
			u->transport = p.value;
		else if (sipd_str_caseeq_c(p.name, "maddr"))
			u->maddr = p.value;
		else if (sipd_str_caseeq_c(p.name, "user"))
			u->user_param = p.value;
		else if (sipd_str_caseeq_c(p.name, "method"))
			u->method = p.value;
		else if (sipd_str_caseeq_c(p.name, "lr"))
			u->lr = true;
	}
	return err == ENOENT ? 0 : err;
}

static int parse_port(struct parser_cur *c, uint16_t *port)
{
	unsigned long v = 0;
	struct sipd_str d = parser_take(c, PARSER_C_DIGIT);
	size_t i;

	if (d.len == 0 || d.len > 5)
		return EBADMSG;
	for (i = 0; i < d.len; i++)
		v = v * 10 + (unsigned long)(d.p[i] - '0');
	if (v > 65535)
		return EBADMSG;
	*port = (uint16_t)v;
	return 0;
}

static int parse_sip(struct sipd_uri *u, struct parser_cur *c)
{
	const char *at = memchr(c->p, '@', (size_t)(c->e - c->p));
	struct sipd_str host;
	int err;

	if (at) {
		const char *colon = memchr(c->p, ':', (size_t)(at - c->p));

		u->user = (struct sipd_str){c->p, (size_t)((colon ? colon : at) - c->p)};
		if (colon)
			u->password = (struct sipd_str){colon + 1, (size_t)(at - colon - 1)};
		if (u->user.len == 0 || !parser_valid(u->user, PARSER_C_USER, true) ||
		    !parser_valid(u->password, PARSER_C_PASSWD, true))
			return EBADMSG;
		c->p = at + 1;
	}
	host.p = c->p;
	if (c->p < c->e && *c->p == '[') {
		const char *close = memchr(c->p, ']', (size_t)(c->e - c->p));

		if (!close)
			return EBADMSG;
		c->p = close + 1;
	} else {
		while (c->p < c->e && *c->p != ':' && *c->p != ';' && *c->p != '?')
			c->p++;
	}
	host.len = (size_t)(c->p - host.p);
	if (!parser_valid_host(host, false, &u->host_ipv6))
		return EBADMSG;
	u->host = host;
	if (u->host_ipv6) {
		u->host.p++;
		u->host.len -= 2;
	}
	if (c->p < c->e && *c->p == ':') {
		c->p++;
		err = parse_port(c, &u->port);
		if (err)
			return err;
	}
	if (c->p < c->e && *c->p == ';') {
		const char *q = memchr(c->p, '?', (size_t)(c->e - c->p));

		u->params = (struct sipd_str){c->p + 1, (size_t)((q ? q : c->e) - c->p - 1)};
		c->p = q ? q : c->e;
		if (u->params.len == 0)
			return EBADMSG;
		err = uri_params(u);
		if (err)
			return err;
	}
	if (c->p < c->e && *c->p == '?') {
		u->headers = (struct sipd_str){c->p + 1, (size_t)(c->e - c->p - 1)};
		if (u->headers.len == 0 || !parser_valid(u->headers, PARSER_C_HNV | PARSER_C_PASSWD, true))
			return EBADMSG;
		c->p = c->e;
	}
	return c->p == c->e ? 0 : EBADMSG;
}

/* telephone-subscriber: the number goes to user, its parameters to params. */
static int parse_tel(struct sipd_uri *u, struct parser_cur *c)
{
	const char *semi = memchr(c->p, ';', (size_t)(c->e - c->p));
	struct sipd_str num = {c->p, (size_t)((semi ? semi : c->e) - c->p)};
	size_t i, digits = 0;

	if (num.len == 0 || !parser_valid(num, PARSER_C_TEL, false))
		return EBADMSG;
	for (i = 0; i < num.len; i++) {
		if (num.p[i] == '+' && i != 0)
			return EBADMSG;
		if (parser_is(num.p[i], PARSER_C_HEX) || num.p[i] == '*' || num.p[i] == '#')
			digits++;
	}
	if (digits == 0)
		return EBADMSG;
	u->user = num;
	if (semi) {
		u->params = (struct sipd_str){semi + 1, (size_t)(c->e - semi - 1)};
		return u->params.len ? uri_params(u) : EBADMSG;
	}
	return 0;
}

int parser_uri_parse(struct sipd_uri *out, struct sipd_str s)
{
	struct sipd_uri u;
	struct parser_cur c;
	const char *colon;
	int err;

	memset(&u, 0, sizeof(u));
	if (s.len == 0 || s.len > (size_t)parser_limits.max_uri_length)
		return EBADMSG;
	colon = memchr(s.p, ':', s.len);
	if (!colon)
		return EBADMSG;
	err = scheme_of((struct sipd_str){s.p, (size_t)(colon - s.p)}, &u.scheme);
	if (err)
		return err;
	u.raw = s;
	c.p = colon + 1;
	c.e = s.p + s.len;
	err = u.scheme == SIPD_URI_TEL ? parse_tel(&u, &c) : parse_sip(&u, &c);
	if (err)
		return err;
	*out = u;
	return 0;
}
