/* The WebSocket handshake policy: which Origins may connect (RFC 6455 10.2) and the "sip" subprotocol (RFC
 * 7118 4). */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "ws.h"

/* The web admin's own origin, where the softphone page comes from. */
static const char *const default_origins[] = {
    "http://127.0.0.1:8080",
    "https://127.0.0.1:8080",
    "http://localhost:8080",
    "https://localhost:8080",
    NULL,
};

bool ws_origin_allowed(const char *const *list, const char *origin)
{
	/* Native SIP clients send no Origin; the check guards against other sites' pages in a browser. */
	if (!origin)
		return true;
	if (!list)
		list = default_origins;
	for (; *list; list++) {
		if (!strcmp(*list, "*"))
			return true;
		/* RFC 6454 6.1: scheme and host are lower case in the serialization; compare without case. */
		if (!strcasecmp(*list, origin))
			return true;
	}
	return false;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool ws_offers_sip(const char *header)
{
	const char *p = header;

	if (!p)
		return false;
	while (*p) {
		const char *s, *e;

		while (is_ows(*p) || *p == ',')
			p++;
		s = p;
		while (*p && *p != ',')
			p++;
		e = p;
		while (e > s && is_ows(e[-1]))
			e--;
		/* RFC 6455 4.1: subprotocol names are compared exactly. */
		if (e - s == 3 && !memcmp(s, "sip", 3))
			return true;
	}
	return false;
}
