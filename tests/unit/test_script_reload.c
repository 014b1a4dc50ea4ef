/* Reload under load: messages keep running on the old or new script, never a freed one; failures keep the
 * old. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "fake_msg.h"
#include "script_test.h"

#define RUNNERS 3
#define RELOADS 2000

TestSuite(script_reload, .init = script_test_setup, .fini = script_test_teardown, .timeout = 120);

static atomic_bool stop;
static atomic_long runs, bad_results;

/* Each version of the script calls t_count() once per message, through a route and a regex. */
static const char *const versions[] = {
    "request_route { if ($ru =~ \"^sip:alice@\") route(A); }\nroute A { t_count(); $var(x) = \"$rU\"; }",
    "request_route { if ($rm == \"INVITE\" && $cs > 1) { t_count(); return 1; } }",
    "request_route { route(B); }\nroute B { if (is_method(\"INVITE\")) route(C); }\nroute C { t_count(); }",
};

static void *runner(void *arg)
{
	struct fake_msg *f = fake_msg_new(FAKE_INVITE);
	while (!atomic_load(&stop)) {
		struct sipd_ctx ctx = {.msg = &f->m, .rcv = f->m.rcv, .route = SIPD_ROUTE_REQUEST};
		enum sipd_result r = sipd_script_run_route(&ctx, SCRIPT_ROUTE_ID_REQUEST);
		if (r != SIPD_TRUE)
			atomic_fetch_add(&bad_results, 1);
		atomic_fetch_add(&runs, 1);
	}
	fake_msg_free(f);
	return NULL;
}

static void write_script(const char *path, const char *text)
{
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	/* rename: a reload never reads a half-written file. */
	cr_assert_eq(rename(tmp, path), 0);
}

Test(script_reload, reload_while_running)
{
	char path[64], err[1024];
	pthread_t th[RUNNERS];

	snprintf(path, sizeof(path), "/tmp/sipd-reload-%d.cfg", (int)getpid());
	write_script(path, versions[0]);
	cr_assert_eq(script_load(path, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < RUNNERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, runner, NULL), 0);

	unsigned failed_reloads = 0;
	for (int i = 0; i < RELOADS; i++) {
		if (i % 100 == 99) {
			/* A broken version: the reload fails and the running script stays. */
			write_script(path, "request_route { t_count() }");
			cr_assert_eq(script_reload(err, sizeof(err)), EINVAL);
			cr_assert(strstr(err, "missing ';'"), "%s", err);
			failed_reloads++;
			continue;
		}
		write_script(path, versions[i % 3]);
		cr_assert_eq(script_reload(err, sizeof(err)), 0, "%s", err);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < RUNNERS; i++)
		pthread_join(th[i], NULL);

	long n = atomic_load(&runs);
	cr_log_info("%ld messages ran during %d reloads", n, RELOADS);
	cr_assert_gt(n, 0);
	cr_assert_eq(atomic_load(&bad_results), 0);
	/* Every message ran t_count() exactly once, whichever script version it met. */
	cr_assert_eq(atomic_load(&t_calls), n);
	cr_assert_eq(failed_reloads, RELOADS / 100);
	unlink(path);
}

Test(script_reload, failed_reload_keeps_old_script)
{
	char path[64], err[1024];
	struct fake_msg *f = fake_msg_new(FAKE_INVITE);
	struct sipd_ctx ctx = {.msg = &f->m, .rcv = f->m.rcv, .route = SIPD_ROUTE_REQUEST};

	snprintf(path, sizeof(path), "/tmp/sipd-reload-keep-%d.cfg", (int)getpid());
	write_script(path, "request_route { t_count(); }");
	cr_assert_eq(script_load(path, err, sizeof(err)), 0, "%s", err);
	write_script(path, "request_route {\n\tunknown_fn();\n}\n");
	cr_assert_eq(script_reload(err, sizeof(err)), EINVAL);
	cr_assert(strstr(err, ":2:2: unknown function 'unknown_fn'"), "%s", err);
	cr_assert_eq(sipd_script_run_route(&ctx, SCRIPT_ROUTE_ID_REQUEST), SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 1);
	/* The file disappearing is a failed reload too. */
	unlink(path);
	cr_assert_eq(script_reload(err, sizeof(err)), ENOENT);
	cr_assert_eq(sipd_script_run_route(&ctx, SCRIPT_ROUTE_ID_REQUEST), SIPD_TRUE);
	cr_assert_eq(atomic_load(&t_calls), 2);
	/* After unload nothing runs, and reload has nothing to reload. */
	script_unload();
	cr_assert_eq(sipd_script_run_route(&ctx, SCRIPT_ROUTE_ID_REQUEST), SIPD_ERROR);
	cr_assert_eq(script_reload(err, sizeof(err)), EINVAL);
	fake_msg_free(f);
}

/* A fixup with module data: free_fixup runs once per compiled script that is freed. */
static atomic_int fixups, frees;
static int t_fixup(union sipd_arg *args, char *err, size_t errlen)
{
	atomic_fetch_add(&fixups, 1);
	args[0].ptr = malloc(8);
	return 0;
}
static void t_free_fixup(union sipd_arg *args)
{
	free(args[0].ptr);
	atomic_fetch_add(&frees, 1);
}
static const struct sipd_script_fn fixup_fns[] = {
    {.name = "t_fix", .fn = t_count, .args = {SIPD_ARG_INT}, .fixup = t_fixup, .free_fixup = t_free_fixup},
    {.name = NULL},
};

Test(script_reload, free_fixup_runs_for_old_scripts)
{
	char path[64], err[1024];
	cr_assert_eq(sipd_script_register("fixups", fixup_fns), 0);
	snprintf(path, sizeof(path), "/tmp/sipd-reload-fix-%d.cfg", (int)getpid());
	write_script(path, "request_route { t_fix(1); t_fix(2); }");
	cr_assert_eq(script_load(path, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(script_reload(err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(atomic_load(&fixups), 12);
	cr_assert_eq(atomic_load(&frees), 10);
	/* A script that fails after a fixup ran releases it too. */
	write_script(path, "request_route { t_fix(1); reply(700, \"x\"); }");
	cr_assert_eq(script_reload(err, sizeof(err)), EINVAL);
	script_unload();
	cr_assert_eq(atomic_load(&fixups), atomic_load(&frees));
	unlink(path);
}
