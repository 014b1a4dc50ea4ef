/* The WebSocket opening handshake (RFC 6455 4.2, RFC 7118 4): request parsing, Origin and "sip" policy, the
 * answer. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ws.h"

/* RFC 6455 1.3: appended to the client's key before hashing. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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

/* True if the comma-separated list has token; exact when cased, else without case. */
static bool list_has(const char *header, const char *token, bool cased)
{
	const char *p = header;
	size_t tl = strlen(token);

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
		if ((size_t)(e - s) == tl && (cased ? !memcmp(s, token, tl) : !strncasecmp(s, token, tl)))
			return true;
	}
	return false;
}

bool ws_offers_sip(const char *header)
{
	/* RFC 6455 4.1: subprotocol names are compared exactly. */
	return list_has(header, "sip", true);
}

/* Trims OWS around [s, e) in place and terminates it; returns the start. */
static char *trim(char *s, char *e)
{
	while (s < e && is_ows(*s))
		s++;
	while (e > s && is_ows(e[-1]))
		e--;
	*e = '\0';
	return s;
}

int ws_request_parse(char *head, size_t len, struct ws_request *rq)
{
	char *p = head, *end = head + len, *eol, *sp;

	memset(rq, 0, sizeof(*rq));
	if (!(eol = memchr(p, '\n', len)))
		return -1;
	*eol = '\0';
	if (eol > p && eol[-1] == '\r')
		eol[-1] = '\0';
	/* Request line: METHOD SP TARGET SP HTTP/x.y */
	rq->method = p;
	if (!(sp = strchr(p, ' ')))
		return -1;
	*sp = '\0';
	rq->target = sp + 1;
	if (!(sp = strchr(rq->target, ' ')))
		return -1;
	*sp = '\0';
	rq->version = sp + 1;
	for (p = eol + 1; p < end; p = eol + 1) {
		char *colon, *name, *value;

		if (!(eol = memchr(p, '\n', (size_t)(end - p))))
			break;
		*eol = '\0';
		if (eol > p && eol[-1] == '\r')
			eol[-1] = '\0';
		if (!*p)
			break; /* the blank line */
		if (!(colon = strchr(p, ':')))
			return -1;
		name = trim(p, colon);
		value = trim(colon + 1, colon + 1 + strlen(colon + 1));
		if (!strcasecmp(name, "Upgrade"))
			rq->upgrade = value;
		else if (!strcasecmp(name, "Connection"))
			rq->connection = value;
		else if (!strcasecmp(name, "Sec-WebSocket-Key"))
			rq->key = value;
		else if (!strcasecmp(name, "Sec-WebSocket-Version"))
			rq->ws_version = value;
		else if (!strcasecmp(name, "Sec-WebSocket-Protocol") && !rq->protocol)
			rq->protocol = value;
		else if (!strcasecmp(name, "Origin"))
			rq->origin = value;
		else if (!strcasecmp(name, "Host"))
			rq->host = value;
	}
	return 0;
}

int ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	unsigned char md[SHA_DIGEST_LENGTH], raw[32];
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s%s", key, WS_GUID);

	/* 4.1: the key is 16 random bytes, base64-encoded (24 characters). */
	if (strlen(key) != 24 || EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18 ||
	    key[22] != '=' || key[23] != '=')
		return -1;
	SHA1((const unsigned char *)buf, (size_t)n, md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
	return 0;
}

static int refuse(struct ws_answer *v, enum ws_refusal r, int status, const char *reason, const char *extra,
		  const char *why)
{
	v->refusal = r;
	v->status = status;
	v->reason = reason;
	v->extra = extra;
	snprintf(v->why, sizeof(v->why), "%s", why);
	return status;
}

int ws_handshake_check(const struct ws_request *rq, const char *const *origins, int refused,
		       struct ws_answer *v)
{
	memset(v, 0, sizeof(*v));
	if (strcmp(rq->method, "GET") || !rq->upgrade || strcasecmp(rq->upgrade, "websocket"))
		return refuse(v, WS_REFUSED_HTTP, 426, "Upgrade Required",
			      "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
			      "this port serves SIP over WebSocket (RFC 7118) only");
	if (!rq->ws_version || strcmp(rq->ws_version, "13"))
		return refuse(v, WS_REFUSED_HTTP, 426, "Upgrade Required", "Sec-WebSocket-Version: 13\r\n",
			      "only WebSocket version 13 is served");
	if (strcmp(rq->version, "HTTP/1.1") || !list_has(rq->connection, "upgrade", false) || !rq->key ||
	    ws_accept_key(rq->key, v->accept))
		return refuse(v, WS_REFUSED_HTTP, 400, "Bad Request", NULL,
			      "not a WebSocket upgrade: HTTP/1.1 GET with Connection: Upgrade and a "
			      "Sec-WebSocket-Key of 16 bytes in base64 are needed");
	if (!ws_origin_allowed(origins, rq->origin)) {
		refuse(v, WS_REFUSED_ORIGIN, 403, "Forbidden", NULL, "");
		snprintf(v->why, sizeof(v->why), "origin %.100s is not allowed", rq->origin);
		/* RFC 6454 6.2 serializes an origin in ASCII: other bytes would break the JSON body (it must
		 * be UTF-8) and the log line, so they show as '?'. */
		for (char *p = v->why; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		return 403;
	}
	if (!ws_offers_sip(rq->protocol))
		return refuse(v, WS_REFUSED_PROTOCOL, 400, "Bad Request", NULL,
			      "the WebSocket subprotocol \"sip\" is required (Sec-WebSocket-Protocol: sip)");
	if (refused)
		return refuse(v, WS_REFUSED_LIMIT, 503, "Service Unavailable", "Retry-After: 5\r\n",
			      refused == EAGAIN ? "too many connections from this address"
						: "too many connections");
	v->status = 101;
	return 0;
}

int ws_handshake_answer(const struct ws_answer *v, char *buf, size_t size)
{
	json_t *o;
	char *body;
	int n;

	if (v->status == 101)
		return snprintf(
		    buf, size,
		    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: sip\r\n\r\n",
		    v->accept);
	o = json_pack("{s:s}", "error", v->why);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	n = snprintf(buf, size,
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\nConnection: "
		     "close\r\n%s\r\n%s",
		     v->status, v->reason, body ? strlen(body) : 2, v->extra ? v->extra : "",
		     body ? body : "{}");
	free(body);
	json_decref(o);
	return n;
}

size_t ws_handshake_read(char *buf, size_t len, const char *const *origins, int refused,
			 struct ws_request *rq, struct ws_answer *v)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	size_t head;

	if (!end && len < WS_MAX_HEAD)
		return 0;
	head = end ? (size_t)(end - buf) + 4 : len;
	/* Over WS_MAX_HEAD whether it came in one read or in many. */
	if (!end || head > WS_MAX_HEAD || ws_request_parse(buf, head, rq)) {
		memset(rq, 0, sizeof(*rq));
		memset(v, 0, sizeof(*v));
		refuse(v, WS_REFUSED_HTTP, 400, "Bad Request", NULL,
		       end && head <= WS_MAX_HEAD ? "not an HTTP request" : "request head too large");
		return head;
	}
	ws_handshake_check(rq, origins, refused, v);
	return head;
}
