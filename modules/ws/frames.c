/* WebSocket frame headers (RFC 6455 5.2), message reassembly, and the rules of 5.2-5.6 and 7.4. */
#include <stdlib.h>
#include <string.h>

#include "frames.h"

#define FIN      0x80
#define MASK_BIT 0x80
#define RSV_BITS 0x70
#define OPCODE   0x0f

static enum ws_verdict fail(struct ws_asm *a, struct ws_event *ev, uint16_t code, const char *reason)
{
	a->len = 0;
	a->opcode = 0;
	ev->code = code;
	ev->reason = reason;
	return WS_FAIL;
}

/* Length of the UTF-8 sequence at s (0 when malformed). */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (left < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

bool ws_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* 7.4.1/7.4.2: codes a peer may send in a close frame. */
static bool close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
	       (code >= 3000 && code <= 4999);
}

static enum ws_verdict control(struct ws_asm *a, int bits, const char *data, size_t len, struct ws_event *ev)
{
	int op = bits & OPCODE;

	/* 5.5: control frames are never fragmented and carry at most 125 bytes. */
	if (!(bits & FIN))
		return fail(a, ev, WS_CLOSE_PROTOCOL, "fragmented control frame");
	if (len > 125)
		return fail(a, ev, WS_CLOSE_PROTOCOL, "control frame over 125 bytes");
	ev->data = data;
	ev->len = len;
	if (op == WS_OP_PING)
		return WS_PING;
	if (op == WS_OP_PONG)
		return WS_PONG;
	/* 5.5.1: a body is a 2-byte code and an optional UTF-8 reason. */
	ev->code = 0;
	if (len == 1)
		return fail(a, ev, WS_CLOSE_PROTOCOL, "close frame with a 1-byte body");
	if (len >= 2) {
		unsigned code = ((unsigned)(unsigned char)data[0] << 8) | (unsigned char)data[1];

		if (!close_code_valid(code))
			return fail(a, ev, WS_CLOSE_PROTOCOL, "invalid close code");
		if (!ws_utf8_valid(data + 2, len - 2))
			return fail(a, ev, WS_CLOSE_BAD_DATA, "close reason is not UTF-8");
		ev->code = (uint16_t)code;
	}
	return WS_CLOSE;
}

static int keep(struct ws_asm *a, const char *data, size_t len)
{
	if (!len)
		return 0; /* an empty fragment: buf may be NULL still */
	if (a->len + len > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		char *p;

		while (cap < a->len + len)
			cap *= 2;
		if (!(p = realloc(a->buf, cap)))
			return -1;
		a->buf = p;
		a->cap = cap;
	}
	memcpy(a->buf + a->len, data, len);
	a->len += len;
	return 0;
}

static enum ws_verdict complete(struct ws_asm *a, int op, const char *data, size_t len, struct ws_event *ev)
{
	/* 8.1: a text message that is not UTF-8 fails the connection with 1007. */
	if (op == WS_OP_TEXT && !ws_utf8_valid(data, len))
		return fail(a, ev, WS_CLOSE_BAD_DATA, "text message is not UTF-8");
	ev->data = data;
	ev->len = len;
	ev->binary = op == WS_OP_BINARY;
	return WS_MESSAGE;
}

enum ws_verdict ws_asm_feed(struct ws_asm *a, int bits, const char *data, size_t len, size_t max,
			    struct ws_event *ev)
{
	int op = bits & OPCODE;

	memset(ev, 0, sizeof(*ev));
	/* 5.2: no extension was negotiated, so every RSV bit must be 0. */
	if (bits & RSV_BITS)
		return fail(a, ev, WS_CLOSE_PROTOCOL, "reserved bits set");
	if (op >= WS_OP_CLOSE && op <= WS_OP_PONG)
		return control(a, bits, data, len, ev);
	if (op != WS_OP_CONT && op != WS_OP_TEXT && op != WS_OP_BINARY)
		return fail(a, ev, WS_CLOSE_PROTOCOL, "unknown opcode");
	/* 5.4: a continuation needs a message in progress; a new message needs none. */
	if (op == WS_OP_CONT && !a->opcode)
		return fail(a, ev, WS_CLOSE_PROTOCOL, "continuation without a message");
	if (op != WS_OP_CONT && a->opcode)
		return fail(a, ev, WS_CLOSE_PROTOCOL, "new message inside a fragmented one");
	if (a->len + len > max)
		return fail(a, ev, WS_CLOSE_TOO_BIG, "message too big");
	if (op != WS_OP_CONT && (bits & FIN))
		return complete(a, op, data, len, ev); /* the usual case: no copy */
	if (op != WS_OP_CONT)
		a->opcode = op;
	if (keep(a, data, len))
		return fail(a, ev, WS_CLOSE_TOO_BIG, "out of memory");
	if (!(bits & FIN))
		return WS_MORE;
	op = a->opcode;
	a->opcode = 0;
	len = a->len;
	a->len = 0; /* the bytes stay in buf until the next feed */
	return complete(a, op, a->buf, len, ev);
}

void ws_asm_free(struct ws_asm *a)
{
	free(a->buf);
	memset(a, 0, sizeof(*a));
}

enum ws_frame_result ws_frame_parse(const char *buf, size_t len, size_t max, struct ws_frame *f)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t need = 2;
	uint64_t n;

	memset(f, 0, sizeof(*f));
	if (len < 2)
		return WS_FRAME_MORE;
	f->bits = b[0];
	/* 5.1: a server closes the connection on a frame that is not masked. */
	if (!(b[1] & MASK_BIT)) {
		f->code = WS_CLOSE_PROTOCOL;
		f->reason = "unmasked client frame";
		return WS_FRAME_BAD;
	}
	n = b[1] & 0x7f;
	need += n == 126 ? 2 : n == 127 ? 8 : 0;
	if (len < need + 4)
		return WS_FRAME_MORE;
	if (n == 126) {
		n = ((uint64_t)b[2] << 8) | b[3];
	} else if (n == 127) {
		n = 0;
		for (int i = 0; i < 8; i++)
			n = (n << 8) | b[2 + i];
	}
	/* 5.2: the most significant bit of a 64-bit length is 0. */
	if ((b[1] & 0x7f) == 127 && (n >> 63)) {
		f->code = WS_CLOSE_PROTOCOL;
		f->reason = "payload length with its top bit set";
		return WS_FRAME_BAD;
	}
	if (n > max) {
		f->code = WS_CLOSE_TOO_BIG;
		f->reason = "message too big";
		return WS_FRAME_BAD;
	}
	memcpy(f->mask, b + need, 4);
	f->hdr_len = need + 4;
	f->len = (size_t)n;
	return WS_FRAME_OK;
}

void ws_unmask(char *p, size_t len, const uint8_t mask[4])
{
	uint32_t m;
	size_t i = 0;

	/* Four bytes at a time; the key repeats every four. */
	memcpy(&m, mask, 4);
	for (; i + 4 <= len; i += 4) {
		uint32_t w;
		memcpy(&w, p + i, 4);
		w ^= m;
		memcpy(p + i, &w, 4);
	}
	for (; i < len; i++)
		p[i] ^= (char)mask[i & 3];
}

size_t ws_frame_header(char *out, int opcode, size_t len)
{
	unsigned char *o = (unsigned char *)out;

	o[0] = (unsigned char)(FIN | (opcode & OPCODE));
	if (len < 126) {
		o[1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		o[1] = 126;
		o[2] = (unsigned char)(len >> 8);
		o[3] = (unsigned char)len;
		return 4;
	}
	o[1] = 127;
	for (int i = 0; i < 8; i++)
		o[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}
