/* Unit tests: the HTTP upgrade (request parsing, Sec-WebSocket-Accept, refusals), the Origin allow-list and
 * the "sip" offer (handshake.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"

Test(origin, default_is_the_web_admin_only)
{
	cr_assert(ws_origin_allowed(NULL, "http://127.0.0.1:8080"));
	cr_assert(ws_origin_allowed(NULL, "https://localhost:8080"));
	cr_assert(ws_origin_allowed(NULL, "HTTP://LOCALHOST:8080"));
	cr_assert_not(ws_origin_allowed(NULL, "http://127.0.0.1:8081"));
	cr_assert_not(ws_origin_allowed(NULL, "http://evil.example"));
	cr_assert_not(ws_origin_allowed(NULL, "http://127.0.0.1:8080.evil.example"));
	cr_assert_not(ws_origin_allowed(NULL, "null"));
	cr_assert_not(ws_origin_allowed(NULL, ""));
}

Test(origin, absent_origin_is_a_native_client)
{
	cr_assert(ws_origin_allowed(NULL, NULL));
}

Test(origin, configured_list_and_wildcard)
{
	const char *const list[] = {"https://phone.example.com", NULL};
	const char *const any[] = {"https://phone.example.com", "*", NULL};
	const char *const none[] = {NULL};

	cr_assert(ws_origin_allowed(list, "https://phone.example.com"));
	cr_assert_not(ws_origin_allowed(list, "http://phone.example.com"));
	cr_assert_not(ws_origin_allowed(list, "http://127.0.0.1:8080"));
	cr_assert(ws_origin_allowed(any, "http://anything"));
	cr_assert_not(ws_origin_allowed(none, "http://127.0.0.1:8080"));
}

Test(subprotocol, sip_among_the_offers)
{
	cr_assert(ws_offers_sip("sip"));
	cr_assert(ws_offers_sip("chat, sip"));
	cr_assert(ws_offers_sip(" sip ,chat"));
	cr_assert(ws_offers_sip("chat,\tsip"));
}

Test(subprotocol, no_sip)
{
	cr_assert_not(ws_offers_sip(NULL));
	cr_assert_not(ws_offers_sip(""));
	cr_assert_not(ws_offers_sip("chat"));
	cr_assert_not(ws_offers_sip("sips"));
	cr_assert_not(ws_offers_sip("SIP"));
	cr_assert_not(ws_offers_sip("xsip, sip2"));
	cr_assert_not(ws_offers_sip(","));
}

static char head[1024];

/* A request head in a writable buffer, as the stream layer hands it over. */
static struct ws_request parse(const char *text)
{
	struct ws_request rq;

	snprintf(head, sizeof(head), "%s", text);
	cr_assert_eq(ws_request_parse(head, strlen(head), &rq), 0);
	return rq;
}

#define GOOD_KEY "dGhlIHNhbXBsZSBub25jZQ=="

Test(upgrade, accept_key_of_rfc_6455_1_3)
{
	char out[WS_ACCEPT_LEN + 1];

	cr_assert_eq(ws_accept_key(GOOD_KEY, out), 0);
	cr_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	cr_assert_eq(ws_accept_key("short", out), -1);
	cr_assert_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==x", out), -1);
	cr_assert_eq(ws_accept_key("dGhlIHNhbXBsZSBub25jZSE=", out), -1, "17 bytes, not 16");
}

Test(upgrade, a_browser_request_gets_101_with_sip)
{
	struct ws_request rq = parse("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nUpgrade: WebSocket\r\n"
				     "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: " GOOD_KEY "\r\n"
				     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat, sip\r\n"
				     "Origin: http://127.0.0.1:8080\r\n\r\n");
	struct ws_answer v;
	char out[512];

	cr_assert_str_eq(rq.target, "/ws");
	cr_assert_str_eq(rq.origin, "http://127.0.0.1:8080");
	cr_assert_eq(ws_handshake_check(&rq, NULL, 0, &v), 0);
	cr_assert_eq(v.status, 101);
	cr_assert_gt(ws_handshake_answer(&v, out, sizeof(out)), 0);
	cr_assert(strstr(out, "HTTP/1.1 101 Switching Protocols\r\n") == out);
	cr_assert(strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	cr_assert(strstr(out, "Sec-WebSocket-Protocol: sip\r\n"));
}

static int status_of(const char *text, int refused, enum ws_refusal *r, char *answer, size_t size)
{
	struct ws_request rq = parse(text);
	struct ws_answer v;
	int st = ws_handshake_check(&rq, NULL, refused, &v);

	*r = v.refusal;
	ws_handshake_answer(&v, answer, size);
	return st;
}

Test(upgrade, refusals_in_order_with_a_json_body)
{
	char out[1024];
	enum ws_refusal r;

	cr_assert_eq(status_of("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, &r, out, sizeof(out)), 426);
	cr_assert_eq(r, WS_REFUSED_HTTP);
	cr_assert(strstr(out, "Upgrade: websocket\r\n") && strstr(out, "{\"error\":\""),
		  "426 names the upgrade, and says why in JSON: %s", out);
	cr_assert_eq(status_of("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n",
			       0, &r, out, sizeof(out)),
		     426, "another version: 426 with the one we speak");
	cr_assert(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
	cr_assert_eq(status_of("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: close\r\n"
			       "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
			       0, &r, out, sizeof(out)),
		     400, "no Connection: Upgrade");
	cr_assert_eq(r, WS_REFUSED_HTTP);
	cr_assert_eq(status_of("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"
			       "Sec-WebSocket-Protocol: sip\r\nOrigin: http://evil.example\r\n\r\n",
			       EAGAIN, &r, out, sizeof(out)),
		     403, "the Origin is checked before the limits");
	cr_assert_eq(r, WS_REFUSED_ORIGIN);
	cr_assert(strstr(out, "origin http://evil.example is not allowed"), "%s", out);
	cr_assert_eq(status_of("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"
			       "Sec-WebSocket-Protocol: chat\r\n\r\n",
			       0, &r, out, sizeof(out)),
		     400);
	cr_assert_eq(r, WS_REFUSED_PROTOCOL);
	cr_assert_eq(status_of("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"
			       "Sec-WebSocket-Protocol: sip\r\n\r\n",
			       EAGAIN, &r, out, sizeof(out)),
		     503, "a native client (no Origin) over the per-IP limit");
	cr_assert_eq(r, WS_REFUSED_LIMIT);
	cr_assert(strstr(out, "Retry-After: 5\r\n") && strstr(out, "too many connections from this address"));
	/* Content-Length matches the JSON body. */
	const char *body = strstr(out, "\r\n\r\n") + 4, *cl = strstr(out, "Content-Length: ");
	cr_assert_eq((size_t)atoi(cl + 16), strlen(body));
}

Test(upgrade, an_origin_that_is_not_ascii_still_gets_its_reason)
{
	char out[1024];
	enum ws_refusal r;

	/* Found by fuzz_ws_handshake: a non-UTF-8 Origin made json_pack fail, and the 403's body was {}. */
	cr_assert_eq(status_of("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			       "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"
			       "Sec-WebSocket-Protocol: sip\r\nOrigin: https://loca\x8f\x32\x1b[2J\r\n\r\n",
			       0, &r, out, sizeof(out)),
		     403);
	cr_assert_eq(r, WS_REFUSED_ORIGIN);
	cr_assert(strstr(out, "{\"error\":\"origin https://loca?2?[2J is not allowed\"}"), "%s", out);
}

Test(upgrade, a_head_over_the_limit_is_refused_in_one_read_as_in_many)
{
	static char big[WS_MAX_HEAD + 200];
	const char *start = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			    "Sec-WebSocket-Key: " GOOD_KEY "\r\nSec-WebSocket-Version: 13\r\n"
			    "Sec-WebSocket-Protocol: sip\r\nX-Pad: ";
	struct ws_request rq;
	struct ws_answer v;
	size_t n = strlen(start);

	memcpy(big, start, n);
	memset(big + n, 'a', sizeof(big) - n - 4);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	cr_assert_eq(ws_handshake_read(big, 100, NULL, 0, &rq, &v), 0, "incomplete: wait");
	/* Found by fuzz_ws_frames: the whole head in one read was accepted, in pieces it got 400. */
	cr_assert_eq(ws_handshake_read(big, sizeof(big), NULL, 0, &rq, &v), sizeof(big));
	cr_assert_eq(v.status, 400);
	cr_assert_str_eq(v.why, "request head too large");
	cr_assert_eq(ws_handshake_read(big, WS_MAX_HEAD, NULL, 0, &rq, &v), WS_MAX_HEAD);
	cr_assert_eq(v.status, 400);
	cr_assert_str_eq(v.why, "request head too large");
}

Test(upgrade, not_http_is_refused_by_the_parser)
{
	struct ws_request rq;

	snprintf(head, sizeof(head), "%s", "\x16\x03\x01 garbage\r\n\r\n");
	cr_assert_eq(ws_request_parse(head, strlen(head), &rq), -1);
	snprintf(head, sizeof(head), "%s", "GET /\r\nHost\r\n\r\n");
	cr_assert_eq(ws_request_parse(head, strlen(head), &rq), -1);
}
