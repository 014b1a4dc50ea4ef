/* The Call-ID of a message not yet parsed: transports use it to keep the messages of one call in order. */
#include <string.h>
#include <strings.h>

#include <sipd/transport.h>

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* The value of a header line [line, eol) named Call-ID or i (RFC 3261 7.3.3), or SIPD_STR_NULL. */
static struct sipd_str call_id_in(const char *line, const char *eol)
{
	const char *colon = memchr(line, ':', (size_t)(eol - line)), *v, *ve;
	size_t n;

	if (!colon)
		return SIPD_STR_NULL;
	for (n = (size_t)(colon - line); n && is_ws(line[n - 1]); n--)
		;
	if (!(n == 7 && !strncasecmp(line, "Call-ID", 7)) && !(n == 1 && (*line == 'i' || *line == 'I')))
		return SIPD_STR_NULL;
	for (v = colon + 1; v < eol && is_ws(*v); v++)
		;
	for (ve = eol; ve > v && (ve[-1] == '\r' || is_ws(ve[-1])); ve--)
		;
	return (struct sipd_str){v, (size_t)(ve - v)};
}

struct sipd_str sipd_raw_call_id(const char *buf, size_t len)
{
	const char *end = buf + len, *line = memchr(buf, '\n', len);

	/* Past the start line, up to the empty line that ends the headers. */
	while (line && ++line < end && *line != '\r' && *line != '\n') {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		struct sipd_str v;

		if (!eol)
			eol = end;
		/* Only lines that can name it are split: C... or i... */
		if ((*line == 'C' || *line == 'c' || *line == 'i' || *line == 'I') &&
		    (v = call_id_in(line, eol)).p)
			return v;
		line = eol;
	}
	return SIPD_STR_NULL;
}
