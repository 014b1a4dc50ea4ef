/* Content-Length framing of SIP over streams and CRLF keep-alive detection. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/msg.h>
#include <sipd/str.h>

#include "framing.h"

/* A length this long cannot fit any sane max_message_size; stops overflow early. */
#define CL_DIGITS_MAX 9

static const char CRLF2[] = "\r\n\r\n";

static void bad(struct tcp_frame *out, int status, const char *why, size_t head_len)
{
	out->kind = TCP_FRAME_BAD;
	out->status = status;
	out->why = why;
	out->head_len = head_len;
}

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Value of one Content-Length header: LWS 1*DIGIT LWS. -1 if malformed. */
static long cl_value(const char *p, const char *end)
{
	long v = 0;
	int digits = 0;

	while (p < end && is_ws(*p))
		p++;
	while (p < end && *p >= '0' && *p <= '9') {
		if (++digits > CL_DIGITS_MAX)
			return -1;
		v = v * 10 + (*p - '0');
		p++;
	}
	while (p < end && is_ws(*p))
		p++;
	return digits > 0 && p == end ? v : -1;
}

/*
 * Finds Content-Length in the header block buf[0..head_len) (which ends
 * with CRLFCRLF). Returns its value, -1 when absent, -2 when malformed,
 * -3 when several disagree.
 */
static long find_content_length(const char *buf, size_t head_len)
{
	const char *end = buf + head_len - 2; /* the final empty line */
	const char *p = memchr(buf, '\n', head_len);
	long found = -1;

	if (!p)
		return -1;
	p++; /* skip the start line */
	while (p < end) {
		const char *start = p, *eol, *colon;
		struct sipd_str name;

		/* a header line with its folded continuations */
		for (;;) {
			eol = memchr(p, '\n', (size_t)(end - p));
			if (!eol) {
				eol = end;
				break;
			}
			p = eol + 1;
			if (p >= end || (*p != ' ' && *p != '\t'))
				break;
		}
		p = eol < end ? eol + 1 : end;
		colon = memchr(start, ':', (size_t)(eol - start));
		if (!colon)
			continue;
		name.p = start;
		name.len = (size_t)(colon - start);
		while (name.len > 0 && (name.p[name.len - 1] == ' ' || name.p[name.len - 1] == '\t'))
			name.len--;
		if (sipd_hdr_type_of(name) != SIPD_HDR_CONTENT_LENGTH)
			continue;
		long v = cl_value(colon + 1, eol);
		if (v < 0)
			return -2;
		if (found >= 0 && found != v)
			return -3;
		found = v;
	}
	return found;
}

void tcp_frame_next(struct tcp_frame *out, const char *buf, size_t len, size_t max_size, size_t *scan)
{
	memset(out, 0, sizeof(*out));
	if (len == 0)
		return;

	/* RFC 5626 3.5.1 pings and line ends between messages (RFC 3261 7.5). */
	if (buf[0] == '\r' || buf[0] == '\n') {
		if (len >= 4 && memcmp(buf, CRLF2, 4) == 0) {
			out->kind = TCP_FRAME_PING;
			out->len = 4;
		} else if (len < 4 && memcmp(buf, CRLF2, len) == 0) {
			out->kind = TCP_FRAME_MORE; /* may become a ping */
		} else {
			out->kind = TCP_FRAME_SKIP;
			out->len = (len >= 2 && buf[0] == '\r' && buf[1] == '\n') ? 2 : 1;
		}
		*scan = 0;
		return;
	}

	size_t from = *scan > 3 ? *scan - 3 : 0;
	const char *end = from < len ? memmem(buf + from, len - from, CRLF2, 4) : NULL;
	if (!end) {
		*scan = len;
		if (len >= max_size)
			bad(out, 513, "Message Too Large", 0);
		return;
	}
	size_t head_len = (size_t)(end - buf) + 4;
	long cl = find_content_length(buf, head_len);
	if (cl == -1) {
		bad(out, 400, "Missing Content-Length", head_len);
		return;
	}
	if (cl == -2) {
		bad(out, 400, "Invalid Content-Length", head_len);
		return;
	}
	if (cl == -3) {
		bad(out, 400, "Conflicting Content-Length", head_len);
		return;
	}
	if (head_len + (size_t)cl > max_size) {
		bad(out, 513, "Message Too Large", head_len);
		return;
	}
	*scan = head_len - 4; /* found again at once while the body arrives */
	if (len < head_len + (size_t)cl)
		return;
	out->kind = TCP_FRAME_MSG;
	out->len = head_len + (size_t)cl;
	out->head_len = head_len;
	*scan = 0;
}

int tcp_framer_reserve(struct tcp_framer *f, size_t max_cap)
{
	if (f->cap > f->len)
		return 0;
	if (f->cap >= max_cap)
		return ENOSPC;
	size_t cap = f->cap ? f->cap * 2 : 4096;
	if (cap > max_cap)
		cap = max_cap;
	char *nb = realloc(f->buf, cap);
	if (!nb)
		return ENOMEM;
	f->buf = nb;
	f->cap = cap;
	return 0;
}

int tcp_framer_keep(struct tcp_framer *f, const char *data, size_t n)
{
	size_t cap = 4096;

	while (cap < f->len + n)
		cap *= 2;
	if (cap > f->cap) {
		char *nb = realloc(f->buf, cap);
		if (!nb)
			return ENOMEM;
		f->buf = nb;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return 0;
}

void tcp_framer_consume(struct tcp_framer *f, size_t n)
{
	if (n >= f->len) {
		tcp_framer_free(f);
		return;
	}
	memmove(f->buf, f->buf + n, f->len - n);
	f->len -= n;
}

bool tcp_framer_blank(const struct tcp_framer *f)
{
	for (size_t i = 0; i < f->len; i++)
		if (f->buf[i] != '\r' && f->buf[i] != '\n')
			return false;
	return true;
}

void tcp_framer_free(struct tcp_framer *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = f->scan = 0;
	f->started_ms = 0;
}
