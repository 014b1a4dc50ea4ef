/*
 * The ws and wss framers of the stream layer: a connection's HTTP upgrade, then RFC 6455 frames in and out.
 * The tcp module accepts, limits, times and writes; this turns bytes into SIP messages and back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "stream_api.h"
#include "ws.h"

enum ws_phase {
	WS_PH_HTTP = 0, /* waiting for the upgrade request */
	WS_PH_OPEN,     /* frames */
	WS_PH_CLOSING,  /* a close frame (or an HTTP error) went out: nothing more in or out */
};

struct ws_state {
	uint8_t phase; /* atomic: frame() reads it on senders' threads */
	int refused;   /* EMFILE/EAGAIN: over the limits, answer 503 */
	struct ws_asm asm_;
	char origin[96];
};

static uint8_t phase_of(const struct ws_state *st)
{
	return __atomic_load_n(&st->phase, __ATOMIC_ACQUIRE);
}

static void set_phase(struct ws_state *st, enum ws_phase p)
{
	__atomic_store_n(&st->phase, (uint8_t)p, __ATOMIC_RELEASE);
}

static int ws_open(void **state, int refused)
{
	struct ws_state *st = calloc(1, sizeof(*st));

	if (!st)
		return ENOMEM;
	st->refused = refused;
	*state = st;
	return 0;
}

static void ws_close(void *state)
{
	struct ws_state *st = state;

	ws_asm_free(&st->asm_);
	free(st);
}

/* A control frame (payload at most 125 bytes) in one write. */
static void write_control(struct stream_conn *c, int opcode, const char *data, size_t len)
{
	char buf[2 + 125];
	size_t h = ws_frame_header(buf, opcode, len);

	memcpy(buf + h, data, len);
	ws_stream->write(c, buf, h + len);
}

/* Sends a close frame with code and reason (RFC 6455 5.5.1) and ends the connection once it is written. */
static void say_goodbye(struct stream_conn *c, struct ws_state *st, uint16_t code, const char *reason,
			enum stream_end why)
{
	char body[125];
	size_t n = reason ? strlen(reason) : 0;

	if (n > sizeof(body) - 2)
		n = sizeof(body) - 2;
	body[0] = (char)(code >> 8);
	body[1] = (char)(code & 0xff);
	if (n)
		memcpy(body + 2, reason, n); /* reason is NULL when a close is echoed */
	write_control(c, WS_OP_CLOSE, body, n + 2);
	set_phase(st, WS_PH_CLOSING);
	ws_asm_free(&st->asm_);
	ws_stream->end(c, why, reason ? reason : "closed");
}

static void fail(struct stream_conn *c, struct ws_state *st, uint16_t code, const char *reason)
{
	char name[96];

	SIPD_INFO("%s: %s, closing with %u", ws_stream->name(c, name, sizeof(name)), reason, code);
	sipd_stat_inc(code == WS_CLOSE_TOO_BIG ? ws_stats.closed_too_big : ws_stats.closed_protocol);
	say_goodbye(c, st, code, reason, code == WS_CLOSE_TOO_BIG ? STREAM_END_LIMIT : STREAM_END_ERROR);
}

static struct sipd_stat *refusal_counter(enum ws_refusal r)
{
	switch (r) {
	case WS_REFUSED_ORIGIN:
		return ws_stats.refused_origin;
	case WS_REFUSED_PROTOCOL:
		return ws_stats.refused_protocol;
	case WS_REFUSED_LIMIT:
		return ws_stats.refused_limit;
	default:
		return ws_stats.refused_http;
	}
}

/* The upgrade request: answer it (101 or an error with a JSON body); returns the bytes used. */
static size_t on_request(struct stream_conn *c, struct ws_state *st, char *buf, size_t len)
{
	char answer[WS_ANSWER_MAX], name[96];
	struct ws_request rq;
	struct ws_answer v;
	size_t head = ws_handshake_read(buf, len, ws_cfg.allowed_origins, st->refused, &rq, &v);
	int n;

	if (!head)
		return 0;
	n = ws_handshake_answer(&v, answer, sizeof(answer));
	ws_stream->write(c, answer, n > 0 && (size_t)n < sizeof(answer) ? (size_t)n : 0);
	if (v.status != 101) {
		sipd_stat_inc(refusal_counter(v.refusal));
		SIPD_INFO("%s: WebSocket handshake refused with %d: %s",
			  ws_stream->name(c, name, sizeof(name)), v.status, v.why);
		set_phase(st, WS_PH_CLOSING);
		ws_stream->end(c, v.refusal == WS_REFUSED_LIMIT ? STREAM_END_LIMIT : STREAM_END_ERROR,
			       "handshake refused");
		return len;
	}
	snprintf(st->origin, sizeof(st->origin), "%s", rq.origin ? rq.origin : "");
	set_phase(st, WS_PH_OPEN);
	ws_stream->ready(c);
	sipd_stat_inc(ws_stats.upgraded);
	SIPD_DBG("%s: WebSocket open (origin %s)", ws_stream->name(c, name, sizeof(name)),
		 st->origin[0] ? st->origin : "-");
	return head;
}

/* Only CR and LF: a keep-alive some clients send, not a SIP message. */
static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

/* One whole frame, or 0 to wait for the rest of it. */
static size_t on_frame(struct stream_conn *c, struct ws_state *st, char *buf, size_t len)
{
	size_t max = (size_t)ws_cfg.max_message_size;
	struct ws_frame f;
	struct ws_event ev;

	switch (ws_frame_parse(buf, len, max, &f)) {
	case WS_FRAME_MORE:
		return 0;
	case WS_FRAME_BAD:
		fail(c, st, f.code, f.reason);
		return len;
	case WS_FRAME_OK:
		break;
	}
	if (len - f.hdr_len < f.len)
		return 0;
	ws_unmask(buf + f.hdr_len, f.len, f.mask);
	switch (ws_asm_feed(&st->asm_, f.bits, buf + f.hdr_len, f.len, max, &ev)) {
	case WS_MORE:
	case WS_PONG:
		break;
	case WS_MESSAGE:
		if (!blank(ev.data, ev.len))
			ws_stream->deliver(c, ev.data, ev.len);
		break;
	case WS_PING:
		write_control(c, WS_OP_PONG, ev.data, ev.len);
		break;
	case WS_CLOSE:
		/* 5.5.1: answer with a close frame, echoing the code. */
		say_goodbye(c, st, ev.code ? ev.code : WS_CLOSE_NORMAL, NULL, STREAM_END_PEER);
		return len;
	case WS_FAIL:
		fail(c, st, ev.code, ev.reason);
		return len;
	}
	return f.hdr_len + f.len;
}

static size_t ws_input(struct stream_conn *c, void *state, char *buf, size_t len)
{
	struct ws_state *st = state;

	switch (phase_of(st)) {
	case WS_PH_HTTP:
		return on_request(c, st, buf, len);
	case WS_PH_OPEN:
		return on_frame(c, st, buf, len);
	default:
		return len;
	}
}

static size_t ws_frame(void *state, const char *msg, size_t len, char *hdr)
{
	if (phase_of(state) != WS_PH_OPEN)
		return 0;
	/* RFC 7118 4: text frames for UTF-8 messages, binary frames for anything else. */
	return ws_frame_header(hdr, ws_utf8_valid(msg, len) ? WS_OP_TEXT : WS_OP_BINARY, len);
}

/* A live browser answers (RFC 6455 5.5.3), and its pong counts as traffic against idle_timeout. */
static void ws_keepalive(struct stream_conn *c, void *state)
{
	if (phase_of(state) != WS_PH_OPEN)
		return;
	sipd_stat_inc(ws_stats.pings);
	write_control(c, WS_OP_PING, "", 0);
}

static void ws_idle(struct stream_conn *c, void *state)
{
	say_goodbye(c, state, WS_CLOSE_GOING_AWAY, "idle timeout", STREAM_END_IDLE);
}

static void ws_list(void *state, json_t *obj)
{
	const struct ws_state *st = state;
	static const char *const names[] = {"http", "open", "closing"};

	uint8_t ph = phase_of(st);

	/* origin is written once, before the phase leaves "http" (release/acquire). */
	json_object_set_new(obj, "origin", json_string(ph == WS_PH_HTTP ? "" : st->origin));
	json_object_set_new(obj, "ws_state", json_string(names[ph % 3]));
}

struct stream_framer ws_framer = {
    .proto = SIPD_PROTO_WS,
    .name = "ws",
    .layer_proto = SIPD_PROTO_NONE,
    .open = ws_open,
    .input = ws_input,
    .frame = ws_frame,
    .keepalive = ws_keepalive,
    .idle = ws_idle,
    .list = ws_list,
    .close = ws_close,
};

struct stream_framer wss_framer = {
    .proto = SIPD_PROTO_WSS,
    .name = "wss",
    .layer_proto = SIPD_PROTO_TLS,
    .open = ws_open,
    .input = ws_input,
    .frame = ws_frame,
    .keepalive = ws_keepalive,
    .idle = ws_idle,
    .list = ws_list,
    .close = ws_close,
};

void ws_framers_setup(void)
{
	struct stream_framer *f[] = {&ws_framer, &wss_framer};
	size_t frame_max = (size_t)ws_cfg.max_message_size + 14;

	for (int i = 0; i < 2; i++) {
		f[i]->handshake_timeout_ms = (unsigned)ws_cfg.handshake_timeout * 1000;
		f[i]->keepalive_ms = (unsigned)ws_cfg.keepalive_interval * 1000;
		f[i]->idle_timeout_ms = (unsigned)ws_cfg.idle_timeout * 1000;
		f[i]->max_connections = ws_cfg.max_connections;
		f[i]->max_connections_per_ip = ws_cfg.max_connections_per_ip;
		f[i]->max_input = frame_max > WS_MAX_HEAD ? frame_max : WS_MAX_HEAD;
	}
}
