/* Cost per message of the routing-script interpreter on a default-like request_route over a fake message. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sipd/log.h>

#include "../unit/fake_msg.h"
#include "internal.h"
#include "script/script_int.h"

/* Stand-ins for the module functions of the default script: trivial, so the figure is the interpreter's. */
static enum sipd_result p_true(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	return SIPD_TRUE;
}

static enum sipd_result p_reply(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	return SIPD_STOP;
}

static const struct sipd_script_fn perf_fns[] = {
    {.name = "sanity", .fn = p_true},
    {.name = "maxfwd", .fn = p_true, .args = {SIPD_ARG_INT}},
    {.name = "p_reply", .fn = p_reply, .args = {SIPD_ARG_INT, SIPD_ARG_FMT}},
    {.name = NULL},
};

static const char script_text[] =
    "request_route {\n"
    "	sanity();\n"
    "	maxfwd(70);\n"
    "	if (is_method(\"ACK\")) { drop; }\n"
    "	if ($ru =~ \"^sips?:[^@]+@example\\\\.com\") route(LOCAL);\n"
    "	if (has_to_tag()) { p_reply(481, \"Call/Transaction Does Not Exist\"); }\n"
    "	if ($rm == \"OPTIONS\" || $fd == \"biloxi.example.com\") { p_reply(200, \"OK\"); }\n"
    "	p_reply(501, \"Not Implemented\");\n"
    "}\n"
    "route LOCAL {\n"
    "	if ($rU == \"alice\" && $cs > 0) return 1;\n"
    "	return 0;\n"
    "}\n";

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const long n = argc > 1 ? atol(argv[1]) : 2000000;
	char path[] = "/tmp/sipd-script-perf-XXXXXX", err[1024];
	int fd = mkstemp(path);
	struct fake_msg *f = fake_msg_new(FAKE_INVITE);
	long stops = 0;

	sipd_log_threshold = SIPD_LOG_WARN;
	if (fd < 0 || write(fd, script_text, sizeof(script_text) - 1) != (ssize_t)(sizeof(script_text) - 1) ||
	    script_core_register() || sipd_script_register("perf", perf_fns) ||
	    script_load(path, err, sizeof(err))) {
		fprintf(stderr, "script_perf: setup failed: %s\n", err);
		return 1;
	}
	close(fd);
	unlink(path);

	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		struct sipd_ctx ctx = {.msg = &f->m, .rcv = f->m.rcv, .route = SIPD_ROUTE_REQUEST};
		/* The From host test matches, so every message runs the whole route down to the 200. */
		if (sipd_script_run_route(&ctx, SCRIPT_ROUTE_ID_REQUEST) == SIPD_STOP)
			stops++;
	}
	double t1 = now_ns();
	if (stops != n) {
		fprintf(stderr, "script_perf: %ld of %ld runs ended as expected\n", stops, n);
		return 1;
	}
	printf("script: %.0f ns/message (%ld messages)\n", (t1 - t0) / (double)n, n);
	script_unload();
	fake_msg_free(f);
	return 0;
}
