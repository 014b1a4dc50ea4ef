/* The module loader, through the real sipd binary and the test modules in build/tests/modules. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sipd/api.h>

#define SIPD_BIN       SIPD_TEST_BUILD "/core/sipd"
#define TEST_MODULES   SIPD_TEST_BUILD "/tests/modules"
#define RUN_TIMEOUT_MS 10000

struct run {
	int code; /* exit code, or -1 if killed */
	char out[8192];
};

static char dir[64];
static char conf[128], script[128], trace_path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/sipd-loader-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/modules.conf", dir);
	snprintf(script, sizeof(script), "%s/routing.cfg", dir);
	snprintf(trace_path, sizeof(trace_path), "%s/trace", dir);
}

static void teardown(void)
{
	char path[160];
	const char *files[] = {"modules.conf", "routing.cfg", "trace", "ctl"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

TestSuite(loader, .init = setup, .fini = teardown, .timeout = 60);

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

/* A config with no listen addresses, so the test binds nothing; modules_text is the modules list body. */
static void write_conf(const char *modules_text)
{
	char text[2048];

	snprintf(
	    text, sizeof(text),
	    "core = { listen = []; workers = 1; routing = \"routing.cfg\"; control_socket = \"%s/ctl\"; };\n"
	    "modules = (\n%s\n);\n",
	    dir, modules_text);
	write_file(conf, text);
	write_file(script, "request_route {\n\texit;\n}\n");
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static pid_t spawn(const char *const *args, int *out_fd)
{
	int fds[2];
	pid_t pid;

	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		close(fds[0]);
		close(fds[1]);
		setenv("SIPD_TEST_TRACE", trace_path, 1);
		execv(SIPD_BIN, (char *const *)args);
		_exit(127);
	}
	close(fds[1]);
	*out_fd = fds[0];
	return pid;
}

/* Collects output until the child closes it, then its exit code; kills it after RUN_TIMEOUT_MS. */
static void collect(struct run *r, pid_t pid, int fd)
{
	struct timespec t0;
	size_t used = 0;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		long left = RUN_TIMEOUT_MS - elapsed_ms(&t0);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, r->out + used, sizeof(r->out) - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	r->out[used] = '\0';
	close(fd);
	if (elapsed_ms(&t0) >= RUN_TIMEOUT_MS)
		kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void check_run(struct run *r)
{
	const char *args[] = {SIPD_BIN, "-c", "-f", conf, "-M", TEST_MODULES, NULL};
	int fd;
	pid_t pid = spawn(args, &fd);

	collect(r, pid, fd);
}

static void expect_refusal(const char *modules_text, int code, const char *want)
{
	struct run r;

	write_conf(modules_text);
	check_run(&r);
	cr_assert_eq(r.code, code, "exit %d, want %d; output:\n%s", r.code, code, r.out);
	cr_assert_not_null(strstr(r.out, want), "output lacks '%s':\n%s", want, r.out);
}

static char *read_trace(void)
{
	static char buf[4096];
	FILE *f = fopen(trace_path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

Test(loader, good_module_passes_the_check_with_its_params)
{
	struct run r;

	write_conf(
	    "{ name = \"t_ok\"; count = 7; greeting = \"hey\"; verbose = true; tags = [\"a\", \"b\"]; }");
	check_run(&r);
	cr_assert_eq(r.code, 0, "output:\n%s", r.out);
	cr_assert_not_null(strstr(r.out, "are valid"), "%s", r.out);
	cr_assert_str_eq(read_trace(), "init t_ok count=7 greeting=hey verbose=1 tags=a,b\n");
}

Test(loader, module_script_functions_reach_the_script)
{
	struct run r;

	write_conf("{ name = \"t_ok\"; }");
	write_file(script, "request_route {\n\tif (t_ok_true()) {\n\t\texit;\n\t}\n}\n");
	check_run(&r);
	cr_assert_eq(r.code, 0, "output:\n%s", r.out);
}

Test(loader, init_follows_dependencies_then_config_order)
{
	struct run r;

	write_conf("{ name = \"t_dep\"; },\n{ name = \"t_ok\"; }");
	check_run(&r);
	cr_assert_eq(r.code, 0, "output:\n%s", r.out);
	cr_assert_str_eq(read_trace(), "init t_ok count=1 greeting=hello verbose=0 tags=\ninit t_dep\n");
}

Test(loader, refuses_wrong_abi_major)
{
	char want[128];

	snprintf(want, sizeof(want), "modules.conf:3: module 't_abi_major' was built for ABI %d.0, core has %d.%d",
		 SIPD_ABI_MAJOR + 1, SIPD_ABI_MAJOR, SIPD_ABI_MINOR);
	expect_refusal("{ name = \"t_abi_major\"; }", 3, want);
}

Test(loader, refuses_newer_abi_minor)
{
	char want[128];

	snprintf(want, sizeof(want), "module 't_abi_minor' needs ABI %d.%d, core has %d.%d", SIPD_ABI_MAJOR,
		 SIPD_ABI_MINOR + 3, SIPD_ABI_MAJOR, SIPD_ABI_MINOR);
	expect_refusal("{ name = \"t_abi_minor\"; }", 3, want);
}

Test(loader, refuses_too_small_descriptor)
{
	expect_refusal("{ name = \"t_small\"; }", 3,
		       "module 't_small': descriptor size 8 is smaller than ABI 1.0's");
}

Test(loader, refuses_object_without_descriptor)
{
	expect_refusal("{ name = \"t_nosym\"; }", 3, "t_nosym.so has no sipd_module_export symbol");
}

Test(loader, says_where_it_looked_for_a_missing_module)
{
	expect_refusal("{ name = \"t_nothere\"; }", 3,
		       "module 't_nothere': t_nothere.so not found; looked in " TEST_MODULES ", ");
}

Test(loader, refuses_a_bad_module_name)
{
	expect_refusal("{ name = \"../t_ok\"; }", 3, "module name '../t_ok' is not valid");
}

Test(loader, refuses_a_missing_dependency)
{
	expect_refusal("{ name = \"t_needs_missing\"; }", 3,
		       "module 't_needs_missing' requires 't_missing', which is not loaded");
}

Test(loader, refuses_a_disabled_dependency)
{
	expect_refusal("{ name = \"t_dep\"; },\n{ name = \"t_ok\"; enabled = false; }", 3,
		       "module 't_dep' requires 't_ok', which is not loaded (it is disabled at line 4)");
}

Test(loader, names_a_dependency_cycle)
{
	expect_refusal("{ name = \"t_ok\"; },\n{ name = \"t_cycle_a\"; },\n{ name = \"t_cycle_b\"; }", 3,
		       "modules depend on each other in a cycle: t_cycle_a -> t_cycle_b -> t_cycle_a");
}

Test(loader, refuses_a_module_listed_twice)
{
	expect_refusal("{ name = \"t_ok\"; },\n{ name = \"t_ok\"; }", 3,
		       "modules.conf:4: module 't_ok' is listed twice in modules.conf (first at line 3)");
}

Test(loader, refuses_ill_typed_and_unknown_params)
{
	expect_refusal("{ name = \"t_ok\";\n  count = \"many\"; }", 3,
		       "modules.conf:4: module 't_ok': parameter 'count' expects an integer");
	expect_refusal("{ name = \"t_ok\"; count = 11; }", 3,
		       "module 't_ok': parameter 'count' must be from 1 to 10, not 11");
	expect_refusal(
	    "{ name = \"t_ok\"; colour = \"red\"; }", 3,
	    "module 't_ok': unknown parameter 'colour'; expected one of count, greeting, verbose, tags");
}

Test(loader, failing_init_is_a_runtime_error)
{
	expect_refusal("{ name = \"t_init_fail\"; }", 5,
		       "module 't_init_fail': init failed: Address already in use");
}

Test(loader, config_and_script_errors_have_their_own_codes)
{
	struct run r;

	expect_refusal("{ name = \"t_ok\"; } junk", 2, "modules.conf:3: syntax error");
	write_conf("{ name = \"t_ok\"; }");
	write_file(script, "request_route {\n\tno_such_function();\n}\n");
	check_run(&r);
	cr_assert_eq(r.code, 4, "output:\n%s", r.out);
	cr_assert_not_null(strstr(r.out, "routing.cfg:2"), "a script error names its line:\n%s", r.out);
}

Test(loader, usage_errors_exit_1)
{
	const char *args[] = {SIPD_BIN, "-c", "--no-such-option", NULL};
	struct run r;
	int fd;

	pid_t pid = spawn(args, &fd);

	collect(&r, pid, fd);
	cr_assert_eq(r.code, 1, "output:\n%s", r.out);
}

static bool trace_has(const char *line)
{
	return strstr(read_trace(), line) != NULL;
}

/* A real start with the parser module from build/modules: hooks run start in order, stop in reverse. */
Test(loader, full_run_starts_in_order_and_stops_in_reverse)
{
	const char *args[] = {SIPD_BIN, "-D", "-f", conf, "-M", TEST_MODULES, NULL};
	struct timespec t0;
	struct run r;
	pid_t pid;
	int fd;

	siginfo_t exited = {0};

	cr_assert_eq(access(SIPD_TEST_BUILD "/modules/parser.so", F_OK), 0,
		     "this test needs the parser module: build the 'parser' target first");
	write_conf("{ name = \"t_dep\"; },\n{ name = \"parser\"; },\n{ name = \"t_ok\"; }");
	pid = spawn(args, &fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* WNOWAIT: notice an early exit without reaping, so collect still gets the exit code. */
	while (!trace_has("start t_dep") && elapsed_ms(&t0) < RUN_TIMEOUT_MS &&
	       waitid(P_PID, (id_t)pid, &exited, WEXITED | WNOHANG | WNOWAIT) == 0 && exited.si_pid == 0)
		usleep(20000);
	kill(pid, SIGTERM);
	collect(&r, pid, fd);
	cr_assert_eq(r.code, 0, "output:\n%s", r.out);
	cr_assert_not_null(strstr(r.out, "started: 1 worker, listening on nothing"), "%s", r.out);
	cr_assert_str_eq(read_trace(), "init t_ok count=1 greeting=hello verbose=0 tags=\n"
				       "init t_dep\n"
				       "start t_ok\n"
				       "start t_dep\n"
				       "stop t_dep\n"
				       "stop t_ok\n");
}
