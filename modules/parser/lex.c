/* Character classes of RFC 3261 section 25 and a small cursor over slices. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "parser_int.h"

#define C_TOKEN      PARSER_C_TOKEN
#define C_ALNUM      PARSER_C_ALNUM
#define C_DIGIT      PARSER_C_DIGIT
#define C_HEX        PARSER_C_HEX
#define C_UNRESERVED PARSER_C_UNRESERVED
#define C_USER       PARSER_C_USER
#define C_PASSWD     PARSER_C_PASSWD
#define C_PARAM      PARSER_C_PARAM
#define C_HNV        PARSER_C_HNV
#define C_WORD       PARSER_C_WORD
#define C_WS         PARSER_C_WS
#define C_PVALUE     PARSER_C_PVALUE
#define C_TEL        PARSER_C_TEL

/* One table lookup per byte instead of chains of comparisons. */
const uint16_t parser_ctab[256] = {
    ['\t'] = C_WS,
    ['\n'] = C_WS,
    ['\r'] = C_WS,
    [' '] = C_WS,
    ['!'] = C_TOKEN | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE,
    ['\''] = C_TOKEN | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE,
    ['_'] = C_TOKEN | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE,
    ['~'] = C_TOKEN | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE,
    ['"'] = C_WORD,
    ['<'] = C_WORD,
    ['>'] = C_WORD,
    ['\\'] = C_WORD,
    ['{'] = C_WORD,
    ['}'] = C_WORD,
    ['#'] = C_TEL,
    ['$'] = C_USER | C_PASSWD | C_PARAM | C_HNV,
    ['%'] = C_TOKEN | C_WORD | C_PVALUE,
    ['`'] = C_TOKEN | C_WORD | C_PVALUE,
    ['&'] = C_USER | C_PASSWD | C_PARAM,
    ['('] = C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_TEL,
    [')'] = C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_TEL,
    ['*'] = C_TOKEN | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE | C_TEL,
    ['-'] = C_TOKEN | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE | C_TEL,
    ['.'] = C_TOKEN | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE | C_TEL,
    ['+'] = C_TOKEN | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE | C_TEL,
    [','] = C_USER | C_PASSWD,
    ['='] = C_USER | C_PASSWD,
    ['/'] = C_USER | C_PARAM | C_HNV | C_WORD,
    ['0' ... '9'] = C_TOKEN | C_ALNUM | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD |
		    C_PVALUE | C_DIGIT | C_HEX | C_TEL,
    [':'] = C_PARAM | C_HNV | C_WORD | C_PVALUE,
    ['['] = C_PARAM | C_HNV | C_WORD | C_PVALUE,
    [']'] = C_PARAM | C_HNV | C_WORD | C_PVALUE,
    [';'] = C_USER,
    ['?'] = C_USER | C_HNV | C_WORD,
    ['A' ... 'F'] = C_TOKEN | C_ALNUM | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD |
		    C_PVALUE | C_HEX | C_TEL,
    ['a' ... 'f'] = C_TOKEN | C_ALNUM | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD |
		    C_PVALUE | C_HEX | C_TEL,
    ['G' ... 'Z'] =
	C_TOKEN | C_ALNUM | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE,
    ['g' ... 'z'] =
	C_TOKEN | C_ALNUM | C_UNRESERVED | C_USER | C_PASSWD | C_PARAM | C_HNV | C_WORD | C_PVALUE,
};

void parser_skip_ws(struct parser_cur *c)
{
	while (c->p < c->e && parser_is(*c->p, PARSER_C_WS))
		c->p++;
}

bool parser_eat(struct parser_cur *c, char ch)
{
	parser_skip_ws(c);
	if (c->p >= c->e || *c->p != ch)
		return false;
	c->p++;
	parser_skip_ws(c);
	return true;
}

struct sipd_str parser_take(struct parser_cur *c, unsigned cls)
{
	struct sipd_str s = {c->p, 0};

	while (c->p < c->e && parser_is(*c->p, cls))
		c->p++;
	s.len = (size_t)(c->p - s.p);
	return s;
}

int parser_quoted(struct parser_cur *c, struct sipd_str *inner)
{
	const char *p = c->p + 1;

	if (c->p >= c->e || *c->p != '"')
		return EBADMSG;
	while (p < c->e) {
		if (*p == '"') {
			inner->p = c->p + 1;
			inner->len = (size_t)(p - inner->p);
			c->p = p + 1;
			return 0;
		}
		if (*p == '\\') {
			/* quoted-pair: any char but CR and LF may follow */
			if (p + 1 >= c->e || p[1] == '\r' || p[1] == '\n')
				return EBADMSG;
			p += 2;
			continue;
		}
		p++;
	}
	return EBADMSG;
}

bool parser_nul_unquoted(struct sipd_str v)
{
	bool quoted = false;

	for (size_t i = 0; i < v.len; i++) {
		if (quoted && v.p[i] == '\\') {
			i++; /* quoted-pair: any octet but CR and LF, NUL included (RFC 3261 25.1) */
			continue;
		}
		if (v.p[i] == '"')
			quoted = !quoted;
		else if (v.p[i] == '\0')
			return true;
	}
	return false;
}

bool parser_valid(struct sipd_str s, unsigned cls, bool escape)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		if (parser_is(s.p[i], cls))
			continue;
		if (!escape || s.p[i] != '%' || s.len - i < 3)
			return false;
		if (!parser_is(s.p[i + 1], PARSER_C_HEX) || !parser_is(s.p[i + 2], PARSER_C_HEX))
			return false;
		i += 2;
	}
	return true;
}

static bool valid_ipv4(struct sipd_str s)
{
	unsigned parts = 0, digits = 0, v = 0;
	size_t i;

	for (i = 0; i <= s.len; i++) {
		if (i == s.len || s.p[i] == '.') {
			if (digits == 0 || v > 255)
				return false;
			parts++;
			digits = v = 0;
			continue;
		}
		if (!parser_is(s.p[i], PARSER_C_DIGIT) || ++digits > 3)
			return false;
		v = v * 10 + (unsigned)(s.p[i] - '0');
	}
	return parts == 4;
}

static bool valid_ipv6(struct sipd_str s)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (s.len == 0 || s.len >= sizeof(tmp))
		return false;
	memcpy(tmp, s.p, s.len);
	tmp[s.len] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

static bool valid_hostname(struct sipd_str s)
{
	size_t i, label = 0, top = 0;

	if (s.len && s.p[s.len - 1] == '.')
		s.len--; /* a fully qualified name may end with a dot */
	if (s.len == 0 || s.len > 255)
		return false;
	for (i = 0; i < s.len; i++) {
		char ch = s.p[i];

		if (ch == '.') {
			if (i == label || s.p[i - 1] == '-')
				return false;
			label = i + 1;
			continue;
		}
		if (ch == '-') {
			if (i == label)
				return false;
			continue;
		}
		if (!parser_is(ch, PARSER_C_ALNUM))
			return false;
		if (i == label)
			top = i;
	}
	if (s.p[s.len - 1] == '-')
		return false;
	/* toplabel starts with a letter; that is what tells names from bad IPv4 */
	return !parser_is(s.p[top], PARSER_C_DIGIT);
}

bool parser_valid_host(struct sipd_str host, bool bare_ipv6, bool *ipv6)
{
	struct sipd_str in;
	size_t i;
	bool numeric = true;

	*ipv6 = false;
	if (host.len == 0)
		return false;
	if (host.p[0] == '[') {
		if (host.len < 3 || host.p[host.len - 1] != ']')
			return false;
		in.p = host.p + 1;
		in.len = host.len - 2;
		*ipv6 = true;
		return valid_ipv6(in);
	}
	if (memchr(host.p, ':', host.len)) {
		/* received= and maddr= may carry a bare IPv6 address */
		*ipv6 = true;
		return bare_ipv6 && valid_ipv6(host);
	}
	for (i = 0; i < host.len; i++)
		if (!parser_is(host.p[i], PARSER_C_DIGIT) && host.p[i] != '.')
			numeric = false;
	return numeric ? valid_ipv4(host) : valid_hostname(host);
}

struct sipd_str parser_trim(struct sipd_str s)
{
	while (s.len && parser_is(s.p[0], PARSER_C_WS)) {
		s.p++;
		s.len--;
	}
	while (s.len && parser_is(s.p[s.len - 1], PARSER_C_WS))
		s.len--;
	return s;
}
