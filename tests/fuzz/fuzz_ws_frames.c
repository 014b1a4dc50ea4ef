/*
 * libFuzzer target: a WebSocket connection's bytes through ws's framer (upgrade, frames, messages, close)
 * as the stream layer feeds them, in chunks the input picks; the outcome must not depend on the chunking.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sanitizer/asan_interface.h>

#include <sipd/log.h>

#include "stream_api.h"
#include "ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ws.c's globals (not linked: it is the module descriptor). */
struct ws_cfg ws_cfg = {.max_message_size = 65536, .keepalive_interval = 30, .handshake_timeout = 10};
struct ws_counters ws_stats;

#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "fuzz_ws_frames: %s failed (line %d)\n", #cond, __LINE__);           \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

/* What the framer did with one connection, in order: the record two chunkings must agree on. */
struct record {
	unsigned char *p;
	size_t len, cap;
};

/* The connection as the fake stream layer sees it. */
struct conn {
	struct record rec;
	bool ready, ended, answered, closing;
	size_t max_message;
};

static void put(struct record *r, char tag, const void *data, size_t len)
{
	size_t need = r->len + 1 + sizeof(len) + len;

	if (need > r->cap) {
		size_t cap = r->cap ? r->cap : 1024;

		while (cap < need)
			cap *= 2;
		CHECK((r->p = realloc(r->p, cap)));
		r->cap = cap;
	}
	r->p[r->len++] = (unsigned char)tag;
	memcpy(r->p + r->len, &len, sizeof(len));
	r->len += sizeof(len);
	if (len)
		memcpy(r->p + r->len, data, len);
	r->len += len;
}

/* RFC 6455 7.4: codes an endpoint may send. */
static bool sendable_code(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

/* Bytes the framer writes: one HTTP answer, then whole unmasked control frames. */
static int fake_write(struct stream_conn *sc, const char *buf, size_t len)
{
	struct conn *c = (struct conn *)sc;
	const unsigned char *b = (const unsigned char *)buf;

	CHECK(!c->ended && !c->closing);
	put(&c->rec, 'W', buf, len);
	if (!c->ready) {
		CHECK(!c->answered && len > 9 && !memcmp(buf, "HTTP/1.1 ", 9));
		c->answered = true;
		return 0;
	}
	CHECK(len >= 2 && (b[0] & 0xf0) == 0x80 && b[1] < 126 && len == 2u + b[1]);
	CHECK((b[0] & 0x0f) == WS_OP_PING || (b[0] & 0x0f) == WS_OP_PONG || (b[0] & 0x0f) == WS_OP_CLOSE);
	if ((b[0] & 0x0f) == WS_OP_CLOSE) {
		CHECK(len >= 4 && sendable_code((unsigned)b[2] << 8 | b[3]));
		CHECK(ws_utf8_valid(buf + 4, len - 4));
		c->closing = true;
	}
	return 0;
}

static void fake_deliver(struct stream_conn *sc, const char *msg, size_t len)
{
	struct conn *c = (struct conn *)sc;

	CHECK(c->ready && !c->ended && !c->closing && len > 0 && len <= c->max_message);
	put(&c->rec, 'D', msg, len);
}

static void fake_ready(struct stream_conn *sc)
{
	struct conn *c = (struct conn *)sc;

	CHECK(!c->ready && !c->ended && c->answered);
	c->ready = true;
	put(&c->rec, 'R', NULL, 0);
}

/* A refused handshake ends after its answer; an open connection after its close frame. */
static void fake_end(struct stream_conn *sc, enum stream_end why, const char *text)
{
	struct conn *c = (struct conn *)sc;

	CHECK(!c->ended && text && (c->ready ? c->closing : c->answered));
	c->ended = true;
	put(&c->rec, 'E', &why, sizeof(why));
}

static const char *fake_name(struct stream_conn *sc, char *buf, size_t size)
{
	(void)sc;
	snprintf(buf, size, "fuzz connection");
	return buf;
}

static const struct stream_api fake_stream = {
    .write = fake_write,
    .deliver = fake_deliver,
    .ready = fake_ready,
    .end = fake_end,
    .name = fake_name,
};
const struct stream_api *ws_stream = &fake_stream;

/* A JsSIP upgrade as Chromium sends it, for inputs that start in the frames. */
static const char upgrade[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8088\r\nConnection: Upgrade\r\n"
			      "Pragma: no-cache\r\nCache-Control: no-cache\r\nUpgrade: websocket\r\n"
			      "Origin: http://127.0.0.1:8080\r\nSec-WebSocket-Version: 13\r\n"
			      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			      "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
			      "Sec-WebSocket-Protocol: sip\r\n\r\n";

/*
 * The stream layer's loop (modules/tcp conn_io.c): input() gets what is pending plus the new chunk, until it
 * wants more or ends the connection; the rest waits for the next chunk. s is this run's copy of the stream
 * (input() changes it in place), poisoned: a chunk is unpoisoned when it arrives, so reading past what
 * input() was given is an error. An incomplete frame or head never needs more than max_input bytes.
 */
static void run(struct conn *c, int refused, char *s, size_t len, const uint8_t *sizes, size_t nsizes)
{
	char hdr[STREAM_FRAME_HDR];
	size_t start = 0, at = 0, k = 0;
	void *state;
	json_t *o;

	CHECK(ws_framer.open(&state, refused) == 0);
	while (at < len && !c->ended) {
		size_t chunk = nsizes ? (size_t)sizes[k++ % nsizes] + 1 : len;

		if (chunk > len - at)
			chunk = len - at;
		ASAN_UNPOISON_MEMORY_REGION(s + at, chunk);
		at += chunk;
		while (start < at && !c->ended) {
			size_t n = ws_framer.input((struct stream_conn *)c, state, s + start, at - start);

			CHECK(n <= at - start);
			if (!n) {
				CHECK(at - start < ws_framer.max_input);
				break;
			}
			start += n;
		}
	}
	/* Sending on it, a keep-alive, the listing and the idle close. */
	if (!c->ended) {
		size_t h = ws_framer.frame(state, "OPTIONS sip:x SIP/2.0\r\n\r\n", 25, hdr);

		CHECK(c->ready ? h == 2 && (unsigned char)hdr[0] == (0x80 | WS_OP_TEXT) : h == 0);
		put(&c->rec, 'F', hdr, h);
		ws_framer.keepalive((struct stream_conn *)c, state);
	}
	CHECK((o = json_object()));
	ws_framer.list(state, o);
	CHECK(json_string_value(json_object_get(o, "ws_state")));
	json_decref(o);
	if (!c->ended && c->ready)
		ws_framer.idle((struct stream_conn *)c, state);
	ws_framer.close(state);
}

/*
 * Input: a settings byte (bits 0-1: max_message_size, 2-3: admission refused, 4: the upgrade is sent
 * before the rest), a count n (low 4 bits) of chunk sizes, n bytes of sizes (each + 1), then the bytes
 * from the client.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int max_sizes[] = {1024, 4096, 65536, 1024};
	static const int refusals[] = {0, 0, EMFILE, EAGAIN};
	struct conn whole = {0}, chunked = {0};
	const uint8_t *sizes;
	char *s;
	size_t n, len;
	int refused;

	if (size < 2 || size > 200000)
		return 0;
	sipd_log_threshold = SIPD_LOG_WARN; /* the framer logs each refusal and close at info */
	ws_cfg.max_message_size = max_sizes[data[0] & 3];
	ws_framers_setup();
	refused = refusals[(data[0] >> 2) & 3];
	n = data[1] & 15;
	if (size < 2 + n)
		return 0;
	sizes = data + 2;
	len = size - 2 - n;
	if (data[0] & 16)
		len += sizeof(upgrade) - 1;
	CHECK((s = malloc(len ? 2 * len : 1)));
	if (data[0] & 16) {
		memcpy(s, upgrade, sizeof(upgrade) - 1);
		memcpy(s + sizeof(upgrade) - 1, data + 2 + n, size - 2 - n);
	} else {
		memcpy(s, data + 2 + n, len);
	}
	memcpy(s + len, s, len); /* the chunked run's copy, at the end of the allocation */
	whole.max_message = chunked.max_message = (size_t)ws_cfg.max_message_size;
	ASAN_POISON_MEMORY_REGION(s, 2 * len);
	run(&whole, refused, s, len, NULL, 0);
	run(&chunked, refused, s + len, len, sizes, n);
	ASAN_UNPOISON_MEMORY_REGION(s, 2 * len);
	if (whole.rec.len != chunked.rec.len || memcmp(whole.rec.p, chunked.rec.p, whole.rec.len)) {
		fprintf(stderr,
			"fuzz_ws_frames: the outcome depends on the chunking (%zu vs %zu record bytes)\n",
			whole.rec.len, chunked.rec.len);
		abort();
	}
	free(whole.rec.p);
	free(chunked.rec.p);
	free(s);
	return 0;
}
