/* libFuzzer target: a WebSocket upgrade request through ws's handshake decision and the answer it builds. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The policies a request is decided under: the defaults, a configured list, and "*", each with another
 * answer from admission (0, or over the limits). */
static const char *const listed[] = {"https://phone.example.com", "http://[::1]:8080", NULL};
static const char *const any[] = {"*", NULL};
static const struct {
	const char *const *origins;
	int refused;
} policies[] = {{NULL, 0}, {listed, EMFILE}, {any, EAGAIN}};

#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "fuzz_ws_handshake: %s failed (line %d)\n", #cond, __LINE__);        \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

static bool base64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
	       c == '/';
}

/* A 101 is given only for what RFC 6455 4.2.1 and the policy allow, and carries the key's answer. */
static void check_accepted(const struct ws_request *rq, const char *const *origins, int refused,
			   const struct ws_answer *v, const char *out, int n)
{
	char line[64];

	CHECK(!refused && v->refusal == WS_REFUSED_NOT);
	CHECK(!strcmp(rq->method, "GET") && !strcmp(rq->version, "HTTP/1.1") && rq->key);
	CHECK(ws_offers_sip(rq->protocol) && ws_origin_allowed(origins, rq->origin));
	CHECK(strlen(v->accept) == WS_ACCEPT_LEN && v->accept[WS_ACCEPT_LEN - 1] == '=');
	for (int i = 0; i < WS_ACCEPT_LEN - 1; i++)
		CHECK(base64_char(v->accept[i]));
	CHECK(!strncmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34));
	snprintf(line, sizeof(line), "\r\nSec-WebSocket-Accept: %s\r\n", v->accept);
	CHECK(strstr(out, line));
	CHECK(!strcmp(out + n - 4, "\r\n\r\n") && strstr(out, "\r\n\r\n") == out + n - 4);
}

/* An error answer: its status line, a Content-Length that matches, and a JSON body that says why. */
static void check_refused(const struct ws_answer *v, const char *out, int n)
{
	const char *body = strstr(out, "\r\n\r\n"), *cl = strstr(out, "\r\nContent-Length: "), *why;
	char status[32];
	json_t *o;

	CHECK(v->status == 400 || v->status == 403 || v->status == 426 || v->status == 503);
	CHECK(v->refusal != WS_REFUSED_NOT && v->reason && v->why[0]);
	snprintf(status, sizeof(status), "HTTP/1.1 %d ", v->status);
	CHECK(!strncmp(out, status, strlen(status)));
	CHECK(body && cl && cl < body);
	body += 4;
	CHECK(strtoul(cl + 18, NULL, 10) == (size_t)(out + n - body));
	o = json_loadb(body, (size_t)(out + n - body), 0, NULL);
	CHECK(o);
	why = json_string_value(json_object_get(o, "error"));
	CHECK(why && !strcmp(why, v->why));
	json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *work, out[WS_ANSWER_MAX];

	/* One read of the stream layer brings at most 64 KiB. */
	if (size > 65536 || !(work = malloc(size + 1)))
		return 0;
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		const char *const *origins = policies[i].origins;
		int refused = policies[i].refused;
		struct ws_request rq;
		struct ws_answer v;
		size_t head;
		int n;

		memcpy(work, data, size); /* parsed in place */
		head = ws_handshake_read(work, size, origins, refused, &rq, &v);
		if (!head) {
			CHECK(size < WS_MAX_HEAD && !memmem(data, size, "\r\n\r\n", 4));
			break;
		}
		CHECK(head <= size && (head <= WS_MAX_HEAD || v.status == 400));
		n = ws_handshake_answer(&v, out, sizeof(out));
		/* The framer sends nothing when the answer does not fit its buffer. */
		CHECK(n > 0 && (size_t)n < sizeof(out));
		/* "*" lets any Origin in; the limits only answer 503 when admission refused. */
		CHECK(origins != any || v.status != 403);
		CHECK(refused || v.status != 503);
		if (v.status == 101)
			check_accepted(&rq, origins, refused, &v, out, n);
		else
			check_refused(&v, out, n);
	}
	free(work);
	return 0;
}
