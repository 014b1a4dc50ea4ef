/* Control RPC: registry, calls, core methods, and the control socket with a real client. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sipd/log.h>
#include <sipd/rpc.h>
#include <sipd/stats.h>

#include "internal.h"

/* ---- registry and calls -------------------------------------------- */

static int echo(json_t *params, json_t **result)
{
	*result = json_incref(params);
	return 0;
}

static int refuse(json_t *params, json_t **result)
{
	return sipd_rpc_fail(result, EEXIST, "user %s exists", "alice");
}

static int silent_failure(json_t *params, json_t **result)
{
	return ENOSPC;
}

static const struct sipd_rpc_method test_methods[] = {
    {.name = "test.echo", .fn = echo, .usage = "[ANY...]", .help = "Returns its params"},
    {.name = "test.refuse", .fn = refuse, .usage = "", .help = "Always fails"},
    {.name = "test.silent", .fn = silent_failure, .usage = "", .help = "Fails without a message"},
    {.name = NULL},
};

static void setup(void)
{
	cr_assert_eq(rpc_core_register(), 0);
	cr_assert_eq(sipd_rpc_register(test_methods), 0);
}

static void teardown(void)
{
	control_stop();
	rpc_reset();
}

Test(rpc, call_and_fail, .init = setup, .fini = teardown)
{
	json_t *res = NULL;

	json_t *params = json_pack("[s, i]", "a", 1);
	cr_assert_eq(sipd_rpc_call("test.echo", params, &res), 0);
	cr_expect(json_equal(res, params));
	json_decref(res);
	json_decref(params);

	cr_assert_eq(sipd_rpc_call("test.echo", NULL, &res), 0, "no params means an empty array");
	cr_expect(json_is_array(res) && json_array_size(res) == 0);
	json_decref(res);

	cr_expect_eq(sipd_rpc_call("test.refuse", NULL, &res), EEXIST);
	cr_expect_str_eq(json_string_value(res), "user alice exists");
	json_decref(res);

	cr_expect_eq(sipd_rpc_call("test.silent", NULL, &res), ENOSPC);
	cr_expect(json_is_string(res), "a failure always carries a message");
	json_decref(res);

	cr_expect_eq(sipd_rpc_call("no.such", NULL, &res), ENOENT);
	cr_expect_not_null(strstr(json_string_value(res), "no.such"));
	json_decref(res);

	json_t *bad = json_string("x");
	cr_expect_eq(sipd_rpc_call("test.echo", bad, &res), EINVAL);
	json_decref(bad);
	json_decref(res);
}

static const struct sipd_rpc_method bad_name[] = {{.name = "Users.Add", .fn = echo}, {.name = NULL}};
static const struct sipd_rpc_method bad_dots[] = {{.name = "users..add", .fn = echo}, {.name = NULL}};
static const struct sipd_rpc_method no_fn[] = {{.name = "users.add"}, {.name = NULL}};
static const struct sipd_rpc_method twice[] = {
    {.name = "a.b", .fn = echo}, {.name = "a.b", .fn = echo}, {.name = NULL}};

Test(rpc, registration_is_checked, .init = setup, .fini = teardown)
{
	json_t *res = NULL;

	cr_expect_eq(sipd_rpc_register(test_methods), EEXIST);
	cr_expect_eq(sipd_rpc_register(bad_name), EINVAL);
	cr_expect_eq(sipd_rpc_register(bad_dots), EINVAL);
	cr_expect_eq(sipd_rpc_register(no_fn), EINVAL);
	cr_expect_eq(sipd_rpc_register(twice), EEXIST);
	cr_expect_eq(sipd_rpc_register(NULL), EINVAL);
	cr_expect_eq(sipd_rpc_call("a.b", NULL, &res), ENOENT, "a refused table registers nothing");
	json_decref(res);
}

Test(rpc, help_lists_and_describes, .init = setup, .fini = teardown)
{
	json_t *res = NULL;

	cr_assert_eq(sipd_rpc_call("help", NULL, &res), 0);
	cr_assert(json_is_array(res));
	const char *prev = "";
	size_t i;
	json_t *m;
	bool saw_stats = false;
	json_array_foreach(res, i, m)
	{
		const char *name = json_string_value(json_object_get(m, "name"));
		cr_expect_gt(strcmp(name, prev), 0, "sorted: %s after %s", name, prev);
		cr_expect_not_null(json_object_get(m, "usage"));
		saw_stats |= strcmp(name, "stats") == 0;
		prev = name;
	}
	cr_expect(saw_stats);
	json_decref(res);

	json_t *p = json_pack("[s, s]", "test", "echo");
	cr_assert_eq(sipd_rpc_call("help", p, &res), 0, "words are joined with dots");
	cr_expect_str_eq(json_string_value(json_object_get(res, "help")), "Returns its params");
	json_decref(res);
	json_decref(p);

	p = json_pack("[s]", "test");
	cr_assert_eq(sipd_rpc_call("help", p, &res), 0, "a group lists its methods");
	cr_expect_eq(json_array_size(res), 3);
	json_decref(res);
	json_decref(p);

	p = json_pack("[s]", "nothing");
	cr_expect_eq(sipd_rpc_call("help", p, &res), ENOENT);
	json_decref(res);
	json_decref(p);
}

Test(rpc, core_methods, .init = setup, .fini = teardown)
{
	json_t *res = NULL, *p;

	cr_assert_eq(sipd_rpc_call("version", NULL, &res), 0);
	cr_expect_str_eq(json_string_value(json_object_get(res, "version")), SIPD_VERSION);
	json_decref(res);

	struct sipd_stat *s = sipd_stat_register("rpctest", "calls", "calls made");
	sipd_stat_add(s, 3);
	p = json_pack("[s]", "rpctest");
	cr_assert_eq(sipd_rpc_call("stats", p, &res), 0);
	cr_expect_eq(json_object_size(res), 1);
	cr_expect_eq(json_integer_value(json_object_get(res, "rpctest.calls")), 3);
	json_decref(res);
	json_decref(p);
	p = json_pack("[s]", "rpctes");
	cr_expect_eq(sipd_rpc_call("stats", p, &res), ENOENT, "a group matches whole words only");
	json_decref(res);
	json_decref(p);
	cr_assert_eq(sipd_rpc_call("stats.reset", NULL, &res), 0);
	cr_expect_eq(sipd_stat_read(s), 0);
	json_decref(res);

	int saved = sipd_log_threshold;
	p = json_pack("[s]", "debug");
	cr_assert_eq(sipd_rpc_call("log.level", p, &res), 0);
	cr_expect_eq(sipd_log_threshold, SIPD_LOG_DEBUG);
	json_decref(res);
	json_decref(p);
	cr_assert_eq(sipd_rpc_call("log.level", NULL, &res), 0);
	cr_expect_str_eq(json_string_value(json_object_get(res, "level")), "debug");
	json_decref(res);
	p = json_pack("{s:s}", "level", "loud");
	cr_expect_eq(sipd_rpc_call("log.level", p, &res), EINVAL);
	cr_expect_not_null(strstr(json_string_value(res), "loud"));
	json_decref(res);
	json_decref(p);
	p = json_pack("[i]", 7);
	cr_expect_eq(sipd_rpc_call("log.level", p, &res), EINVAL, "a number is not a level name");
	json_decref(res);
	json_decref(p);
	sipd_log_threshold = saved;

	p = json_pack("[s]", "extra");
	cr_expect_eq(sipd_rpc_call("version", p, &res), EINVAL);
	json_decref(res);
	json_decref(p);
}

/* ---- the control socket ----------------------------------------------- */

static char dir[64], sock_path[128];

static void socket_setup(void)
{
	setup();
	strcpy(dir, "/tmp/sipd-rpc-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock_path, sizeof(sock_path), "%s/run/sipd/ctl.sock", dir);
}

static void socket_teardown(void)
{
	char cmd[160];
	teardown();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_expect_eq(system(cmd), 0);
}

static int client(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect: %s", strerror(errno));
	return fd;
}

static void send_text(int fd, const char *text, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, text, len, MSG_NOSIGNAL);
		cr_assert_gt(n, 0, "send: %s", strerror(errno));
		text += n;
		len -= (size_t)n;
	}
}

/* Reads one response line (2 s at most) and parses it. */
static json_t *read_response(int fd)
{
	static char buf[65536];
	size_t len = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		cr_assert_eq(poll(&p, 1, 2000), 1, "no answer within 2 s");
		ssize_t n = recv(fd, buf + len, 1, 0);
		if (n <= 0)
			return NULL;
		if (buf[len] == '\n')
			break;
		cr_assert_lt(++len, sizeof(buf) - 1);
	}
	json_t *j = json_loadb(buf, len, 0, NULL);
	cr_assert_not_null(j, "response is JSON: %.*s", (int)len, buf);
	return j;
}

static const char *error_name(json_t *resp)
{
	return json_string_value(json_object_get(json_object_get(resp, "error"), "name"));
}

Test(control, round_trip, .init = socket_setup, .fini = socket_teardown)
{
	char err[256] = "";
	struct stat st;

	cr_assert_eq(control_start(sock_path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(stat(sock_path, &st), 0, "missing parent directories are created");
	cr_expect_eq(st.st_mode & 0777, 0600);
	cr_expect_eq(control_start(sock_path, err, sizeof(err)), EBUSY);

	int fd = client();
	/* Two requests in one write, then one split over two writes. */
	const char *two =
	    "{\"id\":1,\"method\":\"version\"}\n{\"id\":\"b\",\"method\":\"test.echo\",\"params\":[1,2]}\n";
	send_text(fd, two, strlen(two));
	json_t *r = read_response(fd);
	cr_expect_eq(json_integer_value(json_object_get(r, "id")), 1);
	cr_expect_str_eq(json_string_value(json_object_get(json_object_get(r, "result"), "version")),
			 SIPD_VERSION);
	json_decref(r);
	r = read_response(fd);
	cr_expect_str_eq(json_string_value(json_object_get(r, "id")), "b");
	cr_expect_eq(json_array_size(json_object_get(r, "result")), 2);
	json_decref(r);
	send_text(fd, "{\"id\":3,\"meth", 13);
	usleep(20000);
	send_text(fd, "od\":\"test.refuse\"}\n", 19);
	r = read_response(fd);
	json_t *e = json_object_get(r, "error");
	cr_expect_eq(json_integer_value(json_object_get(e, "code")), EEXIST);
	cr_expect_str_eq(error_name(r), "EEXIST");
	cr_expect_str_eq(json_string_value(json_object_get(e, "message")), "user alice exists");
	json_decref(r);

	/* A second client while the first stays connected. */
	int fd2 = client();
	send_text(fd2, "{\"id\":9,\"method\":\"nope\"}\n", 25);
	r = read_response(fd2);
	cr_expect_str_eq(error_name(r), "ENOENT");
	json_decref(r);
	close(fd2);
	close(fd);

	control_stop();
	cr_expect_neq(access(sock_path, F_OK), 0, "control_stop removes the socket");
}

Test(control, bad_requests_get_answers, .init = socket_setup, .fini = socket_teardown)
{
	char err[256] = "";
	static const struct {
		const char *line;
		const char *name;
	} cases[] = {
	    {"{\"id\":1,\"method\":", "EBADMSG"},
	    {"not json at all", "EBADMSG"},
	    {"[1,2,3]", "EINVAL"},
	    {"{\"id\":2}", "EINVAL"},
	    {"{\"id\":3,\"method\":42}", "EINVAL"},
	    {"{\"id\":4,\"method\":\"version\",\"params\":\"x\"}", "EINVAL"},
	    {"{\"id\":5,\"method\":\"version\",\"params\":[1]}", "EINVAL"},
	};

	cr_assert_eq(control_start(sock_path, err, sizeof(err)), 0, "%s", err);
	int fd = client();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		send_text(fd, cases[i].line, strlen(cases[i].line));
		send_text(fd, "\n\n", 2); /* an empty line in between is ignored */
		json_t *r = read_response(fd);
		cr_assert_not_null(r);
		cr_expect_str_eq(error_name(r), cases[i].name, "%s", cases[i].line);
		cr_expect_not_null(json_object_get(r, "id"));
		json_decref(r);
	}
	/* The connection survived all of that. */
	send_text(fd, "{\"id\":6,\"method\":\"version\"}\n", 28);
	json_t *r = read_response(fd);
	cr_expect_not_null(json_object_get(r, "result"));
	json_decref(r);

	/* A last request without newline is answered when the client stops sending. */
	send_text(fd, "{\"id\":7,\"method\":\"version\"}", 27);
	shutdown(fd, SHUT_WR);
	r = read_response(fd);
	cr_expect_eq(json_integer_value(json_object_get(r, "id")), 7);
	json_decref(r);
	close(fd);

	/* Over 1 MiB without a newline: refused and disconnected. */
	fd = client();
	size_t big = (1u << 20) + 4096;
	char *junk = malloc(big);
	memset(junk, 'a', big);
	send_text(fd, junk, big);
	free(junk);
	r = read_response(fd);
	cr_expect_str_eq(error_name(r), "EMSGSIZE");
	json_decref(r);
	cr_expect_null(read_response(fd), "then the connection is closed");
	close(fd);
}

Test(control, stale_and_live_sockets, .init = socket_setup, .fini = socket_teardown)
{
	char err[256] = "";

	cr_assert_eq(control_start(sock_path, err, sizeof(err)), 0, "%s", err);
	control_stop();

	/* A socket file left by a crashed daemon is replaced. */
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, sock_path);
	int stale = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(stale, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(stale);
	cr_assert_eq(control_start(sock_path, err, sizeof(err)), 0, "%s", err);

	/* A second daemon must not steal a live socket. */
	control_stop();
	int live = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(bind(live, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(live, 1), 0);
	cr_expect_eq(control_start(sock_path, err, sizeof(err)), EADDRINUSE);
	cr_expect_not_null(strstr(err, "another sipd"), "%s", err);
	close(live);
	unlink(sock_path);

	char longpath[200];
	memset(longpath, 'x', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	cr_expect_eq(control_start(longpath, err, sizeof(err)), ENAMETOOLONG);
	cr_expect_eq(control_start("", err, sizeof(err)), EINVAL);
}
