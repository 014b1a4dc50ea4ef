/* Unit tests of the per-connection write queue: order, partial writes, limits, errors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "writeq.h"

/* A socket stand-in that takes at most `room` bytes, then says EAGAIN (or fails). */
struct sink {
	char out[8192];
	size_t len;
	size_t room;
	int fail; /* errno to return once room is used up, 0 = EAGAIN */
	int calls;
};

static ssize_t sink_writev(void *arg, const struct iovec *iov, int cnt)
{
	struct sink *s = arg;
	size_t took = 0;

	s->calls++;
	if (s->room == 0) {
		errno = s->fail ? s->fail : EAGAIN;
		return -1;
	}
	for (int i = 0; i < cnt && s->room > 0; i++) {
		size_t n = iov[i].iov_len < s->room ? iov[i].iov_len : s->room;
		memcpy(s->out + s->len, iov[i].iov_base, n);
		s->len += n;
		s->room -= n;
		took += n;
	}
	return (ssize_t)took;
}

Test(writeq, keeps_order_across_partial_writes)
{
	struct tcp_writeq q;
	struct sink s = {.room = 5};
	size_t w;

	tcp_writeq_init(&q);
	cr_assert_eq(tcp_writeq_push(&q, "hello ", 6, 1000), 0);
	cr_assert_eq(tcp_writeq_push(&q, "big ", 4, 1000), 0);
	cr_assert_eq(tcp_writeq_push(&q, "world", 5, 1000), 0);
	cr_assert_eq(q.bytes, 15);

	cr_assert_eq(tcp_writeq_flush(&q, sink_writev, &s, &w), 0);
	cr_assert_eq(w, 5);
	cr_assert_eq(q.bytes, 10);

	s.room = 3; /* splits the second chunk */
	cr_assert_eq(tcp_writeq_flush(&q, sink_writev, &s, &w), 0);
	cr_assert_eq(w, 3);

	s.room = 100;
	cr_assert_eq(tcp_writeq_flush(&q, sink_writev, &s, &w), 0);
	cr_assert_eq(w, 7);
	cr_assert_eq(q.bytes, 0);
	cr_assert_null(q.head);
	cr_assert_null(q.tail);
	cr_assert_eq(s.len, 15);
	cr_assert_eq(memcmp(s.out, "hello big world", 15), 0);
}

Test(writeq, limit_refuses_without_side_effects)
{
	struct tcp_writeq q;

	tcp_writeq_init(&q);
	cr_assert_eq(tcp_writeq_push(&q, "0123456789", 10, 16), 0);
	cr_assert_eq(tcp_writeq_push(&q, "0123456789", 10, 16), ENOBUFS);
	cr_assert_eq(q.bytes, 10);
	cr_assert_eq(tcp_writeq_push(&q, "012345", 6, 16), 0);
	cr_assert_eq(q.bytes, 16);
	cr_assert_eq(tcp_writeq_push(&q, "", 0, 16), 0, "an empty write is a no-op");
	cr_assert_eq(tcp_writeq_clear(&q), 16);
	cr_assert_eq(q.bytes, 0);
	cr_assert_null(q.head);
}

Test(writeq, hard_error_is_reported_and_keeps_data)
{
	struct tcp_writeq q;
	struct sink s = {.room = 2, .fail = EPIPE};
	size_t w;

	tcp_writeq_init(&q);
	tcp_writeq_push(&q, "abcdef", 6, 100);
	/* A short write means "full for now"; the failure shows on the next attempt. */
	cr_assert_eq(tcp_writeq_flush(&q, sink_writev, &s, &w), 0);
	cr_assert_eq(w, 2);
	cr_assert_eq(tcp_writeq_flush(&q, sink_writev, &s, &w), EPIPE);
	cr_assert_eq(w, 0);
	cr_assert_eq(q.bytes, 4);
	cr_assert_eq(tcp_writeq_clear(&q), 4, "what was never written is reported as dropped");
}

Test(writeq, full_sink_is_not_an_error)
{
	struct tcp_writeq q;
	struct sink s = {.room = 0};
	size_t w;

	tcp_writeq_init(&q);
	tcp_writeq_push(&q, "abc", 3, 100);
	cr_assert_eq(tcp_writeq_flush(&q, sink_writev, &s, &w), 0);
	cr_assert_eq(w, 0);
	cr_assert_eq(q.bytes, 3);
	tcp_writeq_clear(&q);
}

Test(writeq, many_chunks_drain_in_batches)
{
	struct tcp_writeq q;
	struct sink s = {.room = sizeof(s.out)};
	size_t w;
	char expect[200];

	tcp_writeq_init(&q);
	for (int i = 0; i < 200; i++) {
		char ch = (char)('a' + i % 26);
		expect[i] = ch;
		cr_assert_eq(tcp_writeq_push(&q, &ch, 1, 1000), 0);
	}
	cr_assert_eq(tcp_writeq_flush(&q, sink_writev, &s, &w), 0);
	cr_assert_eq(w, 200);
	cr_assert_gt(s.calls, 1, "more chunks than one gathered write takes");
	cr_assert_eq(memcmp(s.out, expect, 200), 0);
	cr_assert_eq(q.bytes, 0);
}
