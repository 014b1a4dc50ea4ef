/* Event loops: fd watchers, EPOLLEXCLUSIVE, posting, removal in callbacks, clean stop. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sipd/loop.h>

#include "internal.h"

static bool wait_for(atomic_int *v, int target, int ms)
{
	for (int i = 0; i < ms && atomic_load(v) < target; i++)
		usleep(1000);
	return atomic_load(v) >= target;
}

/* Pipe fds a test opened; closed only after the loop threads are joined, so no loop still reads one. */
static int open_fds[8];
static unsigned open_fd_count;

static void teardown(void)
{
	loops_destroy();
	loops_set_idle_hook(NULL);
	while (open_fd_count > 0)
		close(open_fds[--open_fd_count]);
}

static void nonblocking_pipe(int fds[2])
{
	cr_assert_eq(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
	cr_assert_leq(open_fd_count + 2, sizeof(open_fds) / sizeof(open_fds[0]));
	open_fds[open_fd_count++] = fds[0];
	open_fds[open_fd_count++] = fds[1];
}

/* ---- watchers ---------------------------------------------------------- */

static atomic_int reads;
static atomic_int wrong_thread;

static void on_readable(int fd, uint32_t events, void *arg)
{
	char buf[64];

	if (sipd_loop_self() != arg || sipd_thread_index() != 0)
		atomic_fetch_add(&wrong_thread, 1);
	cr_expect(events & EPOLLIN);
	while (read(fd, buf, sizeof(buf)) > 0)
		atomic_fetch_add(&reads, 1);
}

Test(loop, io_watcher_on_pipe, .fini = teardown)
{
	int p[2];
	struct sipd_io *io;

	nonblocking_pipe(p);
	cr_assert_eq(loops_create(1), 0);
	struct sipd_loop *l = sipd_loop_get(0);
	cr_assert_eq(sipd_io_add(&io, l, p[0], EPOLLIN, on_readable, l), 0);
	cr_assert_eq(loops_run(), 0);
	cr_assert_eq(write(p[1], "x", 1), 1);
	cr_assert(wait_for(&reads, 1, 1000));
	cr_expect_eq(atomic_load(&wrong_thread), 0, "callbacks run on the loop's own thread");

	/* Removed from another thread while the loop runs: no more callbacks. */
	sipd_io_remove(io);
	usleep(20000);
	cr_assert_eq(write(p[1], "y", 1), 1);
	usleep(50000);
	cr_expect_eq(atomic_load(&reads), 1);
}

Test(loop, bad_arguments_are_refused, .fini = teardown)
{
	struct sipd_io *io = NULL;

	cr_expect_eq(loops_create(0), EINVAL);
	cr_assert_eq(loops_create(1), 0);
	cr_expect_eq(loops_create(1), EBUSY);
	cr_expect_eq(sipd_io_add(&io, sipd_loop_get(0), -1, EPOLLIN, on_readable, NULL), EINVAL);
	cr_expect_eq(sipd_io_add(&io, sipd_loop_get(0), 12345, EPOLLIN, on_readable, NULL), EBADF);
	cr_expect_null(io);
	cr_expect_null(sipd_loop_get(1));
	cr_expect_eq(sipd_loop_count(), 1u);
	cr_expect_eq(sipd_loop_post(NULL, NULL, NULL), EINVAL);
}

/* ---- EPOLLEXCLUSIVE: one UDP socket, two loops ------------------------- */

#define DGRAMS 200
static atomic_int got[2];

static void on_dgram(int fd, uint32_t events, void *arg)
{
	char buf[64];
	int which = (int)(intptr_t)arg;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		atomic_fetch_add(&got[which], 1);
}

Test(loop, exclusive_fd_on_two_loops, .fini = teardown)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	struct sipd_io *io[2];
	int rx = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int tx = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert(rx >= 0 && tx >= 0);
	cr_assert_eq(bind(rx, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(rx, (struct sockaddr *)&sa, &len), 0);
	cr_assert_eq(loops_create(2), 0);
	for (int i = 0; i < 2; i++)
		cr_assert_eq(sipd_io_add(&io[i], sipd_loop_get((unsigned)i), rx, EPOLLIN | EPOLLEXCLUSIVE,
					 on_dgram, (void *)(intptr_t)i),
			     0);
	cr_assert_eq(loops_run(), 0);
	for (int i = 0; i < DGRAMS; i++) {
		cr_assert_eq(sendto(tx, "ping", 4, 0, (struct sockaddr *)&sa, sizeof(sa)), 4);
		if (i % 20 == 0)
			usleep(1000);
	}
	for (int i = 0; i < 2000 && atomic_load(&got[0]) + atomic_load(&got[1]) < DGRAMS; i++)
		usleep(1000);
	cr_expect_eq(atomic_load(&got[0]) + atomic_load(&got[1]), DGRAMS, "each datagram read exactly once");
	cr_log_info("loop 0 read %d, loop 1 read %d", atomic_load(&got[0]), atomic_load(&got[1]));
	sipd_io_remove(io[0]);
	sipd_io_remove(io[1]);
	/* teardown closes them after the loops are joined */
	open_fds[open_fd_count++] = rx;
	open_fds[open_fd_count++] = tx;
}

/* ---- posting ----------------------------------------------------------- */

#define POSTERS 8
#define POSTS   10000
static atomic_int posted_ran, posted_misplaced;
static int fifo_next;
static atomic_int fifo_broken;

static void posted(void *arg)
{
	if (sipd_loop_self() != arg)
		atomic_fetch_add(&posted_misplaced, 1);
	atomic_fetch_add(&posted_ran, 1);
}

static void *poster(void *arg)
{
	for (int i = 0; i < POSTS; i++) {
		struct sipd_loop *l = sipd_loop_get((unsigned)i % 2);
		while (sipd_loop_post(l, posted, l) != 0)
			usleep(100);
	}
	return NULL;
}

static void in_order(void *arg)
{
	if ((int)(intptr_t)arg != fifo_next++)
		atomic_store(&fifo_broken, 1);
	atomic_fetch_add(&posted_ran, 1);
}

Test(loop, post_from_many_threads, .fini = teardown)
{
	pthread_t th[POSTERS];

	cr_assert_eq(loops_create(2), 0);
	cr_assert_eq(loops_run(), 0);
	for (int i = 0; i < POSTERS; i++)
		pthread_create(&th[i], NULL, poster, NULL);
	for (int i = 0; i < POSTERS; i++)
		pthread_join(th[i], NULL);
	cr_assert(wait_for(&posted_ran, POSTERS * POSTS, 5000), "ran %d", atomic_load(&posted_ran));
	cr_expect_eq(atomic_load(&posted_misplaced), 0, "work runs on the loop it was posted to");

	/* Posts from one thread run in the order they were made. */
	atomic_store(&posted_ran, 0);
	for (int i = 0; i < 5000; i++)
		cr_assert_eq(sipd_loop_post(sipd_loop_get(1), in_order, (void *)(intptr_t)i), 0);
	cr_assert(wait_for(&posted_ran, 5000, 5000));
	cr_expect_eq(atomic_load(&fifo_broken), 0);
}

/* ---- removal inside callbacks ----------------------------------------- */

static struct sipd_io *victims[2];
static atomic_int victim_calls;

/* Whichever runs first removes both; the other, though its event is in the same batch, must not run. */
static void remove_both(int fd, uint32_t events, void *arg)
{
	atomic_fetch_add(&victim_calls, 1);
	sipd_io_remove(victims[0]);
	sipd_io_remove(victims[1]);
}

Test(loop, remove_inside_callback_same_batch, .fini = teardown)
{
	int a[2], b[2];

	nonblocking_pipe(a);
	nonblocking_pipe(b);
	cr_assert_eq(loops_create(1), 0);
	cr_assert_eq(sipd_io_add(&victims[0], sipd_loop_get(0), a[0], EPOLLIN, remove_both, NULL), 0);
	cr_assert_eq(sipd_io_add(&victims[1], sipd_loop_get(0), b[0], EPOLLIN, remove_both, NULL), 0);
	/* Both readable before the loop starts: its first epoll_wait returns them together. */
	cr_assert_eq(write(a[1], "x", 1), 1);
	cr_assert_eq(write(b[1], "x", 1), 1);
	cr_assert_eq(loops_run(), 0);
	cr_assert(wait_for(&victim_calls, 1, 1000));
	usleep(50000);
	cr_expect_eq(atomic_load(&victim_calls), 1);
}

/* ---- stop ------------------------------------------------------------- */

static atomic_int chain_ran;

static void chain(void *arg)
{
	int left = (int)(intptr_t)arg;
	atomic_fetch_add(&chain_ran, 1);
	if (left > 0)
		sipd_loop_post(sipd_loop_self(), chain, (void *)(intptr_t)(left - 1));
}

static void slow(void *arg)
{
	usleep(100);
	atomic_fetch_add(&posted_ran, 1);
}

Test(loop, stop_finishes_posted_work, .fini = teardown)
{
	for (int round = 0; round < 3; round++) {
		atomic_store(&posted_ran, 0);
		atomic_store(&chain_ran, 0);
		cr_assert_eq(loops_create(2), 0);
		cr_assert_eq(loops_run(), 0);
		for (int i = 0; i < 1000; i++)
			cr_assert_eq(sipd_loop_post(sipd_loop_get((unsigned)i % 2), slow, NULL), 0);
		cr_assert_eq(sipd_loop_post(sipd_loop_get(0), chain, (void *)(intptr_t)9), 0);
		loops_stop();
		cr_expect_eq(atomic_load(&posted_ran), 1000,
			     "round %d: all posted work ran before stop returned", round);
		cr_expect_eq(atomic_load(&chain_ran), 10, "work posted by posted work ran too");
		loops_destroy();
	}
}

/* ---- idle hook and thread indexes ------------------------------------ */

static atomic_int idle_calls;
static atomic_int idle_bad_index;

static void idle(unsigned idx)
{
	if (idx != sipd_thread_index() || idx >= 2)
		atomic_fetch_add(&idle_bad_index, 1);
	atomic_fetch_add(&idle_calls, 1);
}

static void nothing(void *arg)
{
}

Test(loop, idle_hook_runs_after_batches, .fini = teardown)
{
	cr_assert_eq(loops_create(2), 0);
	loops_set_idle_hook(idle);
	cr_assert_eq(loops_run(), 0);
	cr_assert_eq(sipd_loop_post(sipd_loop_get(0), nothing, NULL), 0);
	cr_assert_eq(sipd_loop_post(sipd_loop_get(1), nothing, NULL), 0);
	cr_assert(wait_for(&idle_calls, 2, 1000));
	cr_expect_eq(atomic_load(&idle_bad_index), 0);
}

static void *other_index(void *arg)
{
	*(unsigned *)arg = sipd_thread_index();
	return NULL;
}

Test(loop, non_worker_threads_get_distinct_high_indexes)
{
	unsigned a = 0, b = 0;
	pthread_t t;

	unsigned me = sipd_thread_index();
	cr_expect_eq(me, sipd_thread_index(), "stable per thread");
	cr_expect_eq(me, SIPD_MAX_THREADS - 1u, "first non-worker takes the top index");
	pthread_create(&t, NULL, other_index, &a);
	pthread_join(t, NULL);
	cr_expect_eq(a, SIPD_MAX_THREADS - 2u);
	/* The first thread ended and gave its index back. */
	pthread_create(&t, NULL, other_index, &b);
	pthread_join(t, NULL);
	cr_expect_eq(b, a);
	cr_expect_null(sipd_loop_self());
}
