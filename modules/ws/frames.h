/* WebSocket frames on the wire (RFC 6455 5.2), message reassembly and the RFC 6455 5.x checks. */
#ifndef WS_FRAMES_H
#define WS_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 6455 7.4.1 close codes used here. */
#define WS_CLOSE_NORMAL     1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL   1002
#define WS_CLOSE_BAD_DATA   1007
#define WS_CLOSE_POLICY     1008
#define WS_CLOSE_TOO_BIG    1009
#define WS_CLOSE_TRY_LATER  1013

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

/* A message being put together from fragments (one per connection, its reader's thread only). */
struct ws_asm {
	char *buf;
	size_t len, cap;
	int opcode; /* of the message in progress; 0 when none */
};

enum ws_verdict {
	WS_MORE,    /* a fragment was kept: nothing to do yet */
	WS_MESSAGE, /* ev->data/len is a whole text or binary message (valid until the next feed) */
	WS_PING,    /* answer with a pong carrying ev->data */
	WS_PONG,
	WS_CLOSE, /* the peer closes with ev->code (0 when it gave none): echo it and close */
	WS_FAIL,  /* close with ev->code (1002, 1007, 1009) and ev->reason */
};

struct ws_event {
	const char *data;
	size_t len;
	bool binary;
	uint16_t code;
	const char *reason;
};

/* The header of a frame from a client. */
struct ws_frame {
	int bits;       /* the first byte: FIN, RSV1-3, opcode */
	size_t hdr_len; /* 2 to 14 bytes */
	size_t len;     /* payload bytes */
	uint8_t mask[4];
	uint16_t code;      /* WS_FRAME_BAD: the close code (1002, 1009) */
	const char *reason; /* WS_FRAME_BAD: static text */
};

enum ws_frame_result {
	WS_FRAME_MORE = 0, /* the header is not complete yet */
	WS_FRAME_OK,
	WS_FRAME_BAD, /* unmasked (5.1), a length over max or with its top bit set (5.2) */
};

/* Reads the frame header at buf; max bounds the payload. */
enum ws_frame_result ws_frame_parse(const char *buf, size_t len, size_t max, struct ws_frame *f);
/* Unmasks (or masks) p in place with a frame's key (5.3). */
void ws_unmask(char *p, size_t len, const uint8_t mask[4]);
/* The header of a server frame (FIN set, no mask) for len payload bytes: 2, 4 or 10 bytes into out. */
size_t ws_frame_header(char *out, int opcode, size_t len);

/*
 * Feeds one frame's payload, unmasked: bits is the frame's first byte
 * (FIN, RSV1-3, opcode), data the unmasked payload. max bounds a whole
 * message (the sum of its fragments).
 */
enum ws_verdict ws_asm_feed(struct ws_asm *a, int bits, const char *data, size_t len, size_t max,
			    struct ws_event *ev);
void ws_asm_free(struct ws_asm *a);

/* True if s is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF). */
bool ws_utf8_valid(const char *s, size_t len);

#endif
