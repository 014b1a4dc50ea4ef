/* udp_batch: queued datagrams leave in order with sendmmsg; a failing one costs the others nothing. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp.h"

static int rx, tx;
static union sipd_sockaddr rx_addr;

/* A receiving socket on a free loopback port and a sending one. */
static void sockets(void)
{
	socklen_t len = sizeof(rx_addr.sin);
	struct timeval tv = {.tv_sec = 1};

	rx = socket(AF_INET, SOCK_DGRAM, 0);
	tx = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(rx >= 0 && tx >= 0);
	memset(&rx_addr, 0, sizeof(rx_addr));
	rx_addr.sin.sin_family = AF_INET;
	rx_addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(rx, &rx_addr.sa, sizeof(rx_addr.sin)), 0);
	cr_assert_eq(getsockname(rx, &rx_addr.sa, &len), 0);
	cr_assert_eq(setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
}

static void close_sockets(void)
{
	close(rx);
	close(tx);
}

TestSuite(udp_batch, .init = sockets, .fini = close_sockets);

static void add(struct udp_batch *b, int fd, const union sipd_sockaddr *to, socklen_t tolen, const char *text,
		struct udp_batch_result *res)
{
	cr_assert_eq(udp_batch_add(b, fd, to, tolen, text, strlen(text), res), 0);
}

static void expect(const char *text)
{
	char buf[128];
	ssize_t n = recv(rx, buf, sizeof(buf) - 1, 0);

	cr_assert_gt(n, 0, "expected \"%s\", nothing arrived", text);
	buf[n] = '\0';
	cr_assert_str_eq(buf, text);
}

Test(udp_batch, sends_in_queue_order_at_the_flush)
{
	struct udp_batch *b;
	struct udp_batch_result res;
	char buf[16];

	cr_assert_eq(udp_batch_new(&b), 0);
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), "one", &res);
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), "two", &res);
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), "three", &res);
	cr_assert_eq(udp_batch_count(b), 3);
	/* Nothing leaves before the flush. */
	cr_assert_eq(recv(rx, buf, sizeof(buf), MSG_DONTWAIT), -1);
	udp_batch_flush(b, &res);
	cr_assert_eq(res.sent, 3);
	cr_assert_eq(res.failed, 0);
	cr_assert_eq(udp_batch_count(b), 0);
	expect("one");
	expect("two");
	expect("three");
	udp_batch_free(b);
}

Test(udp_batch, a_full_batch_is_sent_before_the_next_message)
{
	struct udp_batch *b;
	struct udp_batch_result res;
	char text[16];

	cr_assert_eq(udp_batch_new(&b), 0);
	for (unsigned i = 0; i < UDP_BATCH_MSGS; i++) {
		snprintf(text, sizeof(text), "m%u", i);
		add(b, tx, &rx_addr, sizeof(rx_addr.sin), text, &res);
		cr_assert_eq(res.sent, 0);
	}
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), "last", &res);
	cr_assert_eq(res.sent, UDP_BATCH_MSGS);
	cr_assert_eq(udp_batch_count(b), 1);
	for (unsigned i = 0; i < UDP_BATCH_MSGS; i++) {
		snprintf(text, sizeof(text), "m%u", i);
		expect(text);
	}
	udp_batch_flush(b, &res);
	cr_assert_eq(res.sent, 1);
	expect("last");
	udp_batch_free(b);
}

Test(udp_batch, bytes_also_bound_a_batch)
{
	static char big[UDP_BATCH_BYTES / 2 + 2]; /* a string just over half a batch */
	struct udp_batch *b;
	struct udp_batch_result res;

	memset(big, 'x', sizeof(big) - 1);
	cr_assert_eq(udp_batch_new(&b), 0);
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), big, &res);
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), big, &res);
	/* The second did not fit beside the first: the first went. */
	cr_assert_eq(res.sent, 1);
	cr_assert_eq(udp_batch_count(b), 1);
	udp_batch_flush(b, &res);
	cr_assert_eq(res.sent, 1);
	udp_batch_free(b);
}

Test(udp_batch, too_large_for_a_batch_is_refused)
{
	static char huge[UDP_BATCH_BYTES + 1];
	struct udp_batch *b;
	struct udp_batch_result res;

	cr_assert_eq(udp_batch_new(&b), 0);
	cr_assert_eq(udp_batch_add(b, tx, &rx_addr, sizeof(rx_addr.sin), huge, sizeof(huge), &res), EMSGSIZE);
	cr_assert_eq(udp_batch_count(b), 0);
	udp_batch_free(b);
}

Test(udp_batch, a_failing_datagram_is_counted_and_the_rest_sent)
{
	struct udp_batch *b;
	struct udp_batch_result res;
	union sipd_sockaddr v6 = {.sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(9)}};
	int closed = socket(AF_INET, SOCK_DGRAM, 0);

	close(closed);
	cr_assert_eq(udp_batch_new(&b), 0);
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), "before", &res);
	/* An IPv6 destination on an IPv4 socket: refused by the kernel. */
	add(b, tx, &v6, sizeof(v6.sin6), "refused", &res);
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), "after", &res);
	/* Another socket (a run of its own), closed: also refused. */
	add(b, closed, &rx_addr, sizeof(rx_addr.sin), "bad fd", &res);
	add(b, tx, &rx_addr, sizeof(rx_addr.sin), "last", &res);
	udp_batch_flush(b, &res);
	cr_assert_eq(res.sent, 3);
	cr_assert_eq(res.failed, 2);
	cr_assert_eq(res.err, EBADF);
	expect("before");
	expect("after");
	expect("last");
	udp_batch_free(b);
}
