/* Unit tests of SIP stream framing: Content-Length, split reads, keep-alives, limits. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

#define MAX 65536

static const char OPT[] = "OPTIONS sip:a@example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1\r\n"
			  "Call-ID: 1@x\r\n"
			  "CSeq: 1 OPTIONS\r\n"
			  "Content-Length: 0\r\n"
			  "\r\n";

static const char MSG_BODY[] = "MESSAGE sip:a@example.com SIP/2.0\r\n"
			       "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK2\r\n"
			       "l: 5\r\n"
			       "\r\n"
			       "hello";

static struct tcp_frame frame(const char *buf, size_t len)
{
	struct tcp_frame f;
	size_t scan = 0;
	tcp_frame_next(&f, buf, len, MAX, &scan);
	return f;
}

Test(framing, two_messages_in_one_buffer)
{
	char buf[1024];
	size_t a = strlen(OPT), b = strlen(MSG_BODY);
	memcpy(buf, OPT, a);
	memcpy(buf + a, MSG_BODY, b);

	struct tcp_frame f = frame(buf, a + b);
	cr_assert_eq(f.kind, TCP_FRAME_MSG);
	cr_assert_eq(f.len, a);
	f = frame(buf + a, b);
	cr_assert_eq(f.kind, TCP_FRAME_MSG);
	cr_assert_eq(f.len, b);
	cr_assert_eq(f.head_len, b - 5);
}

Test(framing, every_prefix_needs_more)
{
	size_t b = strlen(MSG_BODY);
	for (size_t i = 1; i < b; i++) {
		struct tcp_frame f = frame(MSG_BODY, i);
		cr_assert_eq(f.kind, TCP_FRAME_MORE, "prefix of %zu bytes", i);
	}
	cr_assert_eq(frame(MSG_BODY, b).kind, TCP_FRAME_MSG);
}

Test(framing, trickled_with_scan_hint)
{
	size_t b = strlen(MSG_BODY), scan = 0;
	struct tcp_frame f;
	for (size_t i = 1; i <= b; i++) {
		tcp_frame_next(&f, MSG_BODY, i, MAX, &scan);
		if (i < b)
			cr_assert_eq(f.kind, TCP_FRAME_MORE, "at %zu", i);
	}
	cr_assert_eq(f.kind, TCP_FRAME_MSG);
	cr_assert_eq(f.len, b);
	cr_assert_eq(scan, 0, "scan is reset after a whole frame");
}

Test(framing, missing_content_length)
{
	const char m[] = "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK3\r\n\r\nbody";
	struct tcp_frame f = frame(m, strlen(m));
	cr_assert_eq(f.kind, TCP_FRAME_BAD);
	cr_assert_eq(f.status, 400);
	cr_assert_str_eq(f.why, "Missing Content-Length");
	cr_assert_eq(f.head_len, strlen(m) - 4);
}

Test(framing, invalid_content_length)
{
	const char *bad[] = {"abc", "-1", "12x", "", "1 2", "99999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char m[256];
		snprintf(m, sizeof(m), "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: %s\r\n\r\n", bad[i]);
		struct tcp_frame f = frame(m, strlen(m));
		cr_assert_eq(f.kind, TCP_FRAME_BAD, "value '%s'", bad[i]);
		cr_assert_eq(f.status, 400);
		cr_assert_str_eq(f.why, "Invalid Content-Length");
	}
}

Test(framing, conflicting_content_length)
{
	const char m[] = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\nl: 3\r\n\r\nabc";
	struct tcp_frame f = frame(m, strlen(m));
	cr_assert_eq(f.kind, TCP_FRAME_BAD);
	cr_assert_str_eq(f.why, "Conflicting Content-Length");

	const char same[] = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 3\r\nl: 3\r\n\r\nabc";
	cr_assert_eq(frame(same, strlen(same)).kind, TCP_FRAME_MSG);
}

Test(framing, name_forms_and_folding)
{
	const char spaced[] = "OPTIONS sip:a@b SIP/2.0\r\ncontent-LENGTH \t: 2\r\n\r\nab";
	struct tcp_frame f = frame(spaced, strlen(spaced));
	cr_assert_eq(f.kind, TCP_FRAME_MSG);
	cr_assert_eq(f.len, strlen(spaced));

	const char folded[] = "OPTIONS sip:a@b SIP/2.0\r\nContent-Length:\r\n  2\r\nX-A: 1\r\n\r\nab";
	f = frame(folded, strlen(folded));
	cr_assert_eq(f.kind, TCP_FRAME_MSG);
	cr_assert_eq(f.len, strlen(folded));

	/* A header merely named like it is not it. */
	const char other[] = "OPTIONS sip:a@b SIP/2.0\r\nX-Content-Length: 9\r\nContent-Length: 0\r\n\r\n";
	f = frame(other, strlen(other));
	cr_assert_eq(f.kind, TCP_FRAME_MSG);
	cr_assert_eq(f.len, strlen(other));
}

Test(framing, too_large)
{
	char m[256];
	snprintf(m, sizeof(m), "OPTIONS sip:a@b SIP/2.0\r\nContent-Length: %d\r\n\r\n", MAX);
	struct tcp_frame f = frame(m, strlen(m));
	cr_assert_eq(f.kind, TCP_FRAME_BAD);
	cr_assert_eq(f.status, 513);
	cr_assert_gt(f.head_len, 0);

	/* Headers that never end. */
	size_t n = MAX + 10;
	char *big = malloc(n);
	memset(big, 'a', n);
	size_t scan = 0;
	tcp_frame_next(&f, big, MAX - 1, MAX, &scan);
	cr_assert_eq(f.kind, TCP_FRAME_MORE);
	tcp_frame_next(&f, big, n, MAX, &scan);
	cr_assert_eq(f.kind, TCP_FRAME_BAD);
	cr_assert_eq(f.status, 513);
	cr_assert_eq(f.head_len, 0);
	free(big);
}

Test(framing, exactly_max_size_fits)
{
	char *m = malloc(MAX);
	int head = snprintf(m, MAX, "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: %05d\r\n\r\n", 0);
	int body = MAX - head;
	snprintf(m, MAX, "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: %05d\r\n\r\n", body);
	memset(m + head, 'x', (size_t)body);
	struct tcp_frame f = frame(m, MAX);
	cr_assert_eq(f.kind, TCP_FRAME_MSG);
	cr_assert_eq(f.len, (size_t)MAX);
	free(m);
}

Test(framing, keepalives)
{
	struct tcp_frame f = frame("\r\n\r\n", 4);
	cr_assert_eq(f.kind, TCP_FRAME_PING);
	cr_assert_eq(f.len, 4);

	cr_assert_eq(frame("\r", 1).kind, TCP_FRAME_MORE);
	cr_assert_eq(frame("\r\n", 2).kind, TCP_FRAME_MORE);
	cr_assert_eq(frame("\r\n\r", 3).kind, TCP_FRAME_MORE);

	f = frame("\r\nOPTIONS", 9);
	cr_assert_eq(f.kind, TCP_FRAME_SKIP);
	cr_assert_eq(f.len, 2);
	f = frame("\nOPTIONS", 8);
	cr_assert_eq(f.kind, TCP_FRAME_SKIP);
	cr_assert_eq(f.len, 1);
	cr_assert_eq(frame("", 0).kind, TCP_FRAME_MORE);
}

Test(framer, keep_reserve_consume_release)
{
	struct tcp_framer f = {0};

	cr_assert_eq(tcp_framer_keep(&f, "OPTI", 4), 0);
	cr_assert_eq(f.len, 4);
	cr_assert_geq(f.cap, 4096);
	cr_assert_not(tcp_framer_blank(&f));

	/* grows by doubling, never past the cap given */
	f.len = f.cap;
	cr_assert_eq(tcp_framer_reserve(&f, 6000), 0);
	cr_assert_eq(f.cap, 6000);
	f.len = f.cap;
	cr_assert_eq(tcp_framer_reserve(&f, 6000), ENOSPC);

	f.len = 6;
	memcpy(f.buf, "ABCDEF", 6);
	tcp_framer_consume(&f, 4);
	cr_assert_eq(f.len, 2);
	cr_assert_eq(memcmp(f.buf, "EF", 2), 0);
	tcp_framer_consume(&f, 2);
	cr_assert_null(f.buf, "an empty framer holds no memory");
	cr_assert_eq(f.cap, 0);

	cr_assert_eq(tcp_framer_keep(&f, "\r\n", 2), 0);
	cr_assert(tcp_framer_blank(&f));
	tcp_framer_free(&f);
	cr_assert_null(f.buf);
}
