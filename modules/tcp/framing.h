/* Stream framing of SIP messages (RFC 3261 18.3) and RFC 5626 keep-alives. */
#ifndef TCP_FRAMING_H
#define TCP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tcp_frame_kind {
	TCP_FRAME_MORE = 0, /* the bytes so far are a prefix: read more */
	TCP_FRAME_MSG,      /* one whole message of len bytes */
	TCP_FRAME_PING,     /* CRLFCRLF keep-alive (len 4): answer with one CRLF */
	TCP_FRAME_SKIP,     /* a stray line end between messages (len 1 or 2): ignore */
	TCP_FRAME_BAD,      /* cannot be framed: answer status/why, then close */
};

struct tcp_frame {
	enum tcp_frame_kind kind;
	size_t len;      /* bytes the frame occupies (MSG, PING, SKIP) */
	size_t head_len; /* start line + headers + blank line, when complete; else 0 */
	int status;      /* BAD: 400 or 513 */
	const char *why; /* BAD: static text for the reason phrase */
};

/*
 * Looks at the bytes at the start of a stream position. max_size bounds a
 * whole message. *scan carries how far the header-end search got between
 * calls on the same growing buffer (start at 0; it is reset when a frame is
 * complete), so a message trickled byte by byte is not rescanned each time.
 */
void tcp_frame_next(struct tcp_frame *out, const char *buf, size_t len, size_t max_size, size_t *scan);

/* The bytes of a partial message kept between reads; no buffer while none is pending. */
struct tcp_framer {
	char *buf;
	size_t len, cap, scan;
	uint64_t started_ms; /* when the pending message began (read timeout), 0 if none */
};

/* Makes room for at least one more byte, growing up to max_cap. ENOSPC at max_cap, ENOMEM. */
int tcp_framer_reserve(struct tcp_framer *f, size_t max_cap);
/* Appends n bytes (the tail of a read that ended mid-message). */
int tcp_framer_keep(struct tcp_framer *f, const char *data, size_t n);
/* Drops the first n bytes; frees the buffer when nothing is left. */
void tcp_framer_consume(struct tcp_framer *f, size_t n);
/* True when the pending bytes are only line ends (a keep-alive in progress, not a message). */
bool tcp_framer_blank(const struct tcp_framer *f);
void tcp_framer_free(struct tcp_framer *f);

#endif
