/* WebSocket messages from civetweb's frames: reassembly and the RFC 6455 5.x checks. */
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

/*
 * Feeds one frame as civetweb hands it over: bits is the frame's first byte
 * (FIN, RSV1-3, opcode), data the unmasked payload. max bounds a whole
 * message (the sum of its fragments).
 */
enum ws_verdict ws_asm_feed(struct ws_asm *a, int bits, const char *data, size_t len, size_t max,
			    struct ws_event *ev);
void ws_asm_free(struct ws_asm *a);

/* True if s is well-formed UTF-8 (RFC 3629: no overlongs, surrogates or code points past U+10FFFF). */
bool ws_utf8_valid(const char *s, size_t len);

#endif
