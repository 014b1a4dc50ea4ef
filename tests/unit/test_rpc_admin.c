/* The core's admin RPC methods: routing.check/put/get, modules.list, stats.get, and concurrent callers. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <sipd/rpc.h>
#include <sipd/stats.h>

#include "script_test.h"

static char dir[64], path[128], bak[160];

static void setup(void)
{
	script_test_setup();
	snprintf(dir, sizeof(dir), "/tmp/sipd-rpc-admin-%d", (int)getpid());
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/routing.cfg", dir);
	snprintf(bak, sizeof(bak), "%s.bak", path);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("request_route { t_count(); }\n", f);
	fclose(f);
	char err[512];
	cr_assert_eq(script_load(path, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rpc_admin_set_routing(path), 0);
	cr_assert_eq(rpc_admin_register(), 0);
}

static void teardown(void)
{
	unlink(path);
	unlink(bak);
	rmdir(dir);
	rpc_reset();
	script_test_teardown();
}

TestSuite(rpc_admin, .init = setup, .fini = teardown, .timeout = 60);

static int call(const char *method, json_t *params, json_t **result)
{
	int err = sipd_rpc_call(method, params, result);
	json_decref(params);
	return err;
}

Test(rpc_admin, check_reports_line_and_column)
{
	json_t *r = NULL;

	cr_assert_eq(call("routing.check", json_pack("{s:s}", "script", "request_route { t_true(); }"), &r),
		     0);
	cr_assert(json_is_true(json_object_get(r, "ok")));
	json_decref(r);

	cr_assert_eq(
	    call("routing.check", json_pack("{s:s}", "script", "request_route {\n  nosuch();\n}"), &r),
	    EINVAL);
	json_t *e = json_array_get(json_object_get(r, "errors"), 0);
	cr_assert_eq(json_integer_value(json_object_get(e, "line")), 2);
	cr_assert_eq(json_integer_value(json_object_get(e, "column")), 3);
	cr_assert_not_null(strstr(json_string_value(json_object_get(e, "message")), "nosuch"));
	cr_assert_str_eq(json_string_value(json_object_get(r, "message")), "the script does not compile");
	json_decref(r);

	cr_assert_eq(call("routing.check", json_pack("{s:i}", "script", 3), &r), EINVAL);
	json_decref(r);
	cr_assert_eq(call("routing.check", json_pack("[s]", path), &r), 0, "a file path from sipctl");
	json_decref(r);
}

Test(rpc_admin, put_keeps_a_backup_and_reloads)
{
	json_t *r = NULL;
	char *text = NULL;
	size_t len;

	cr_assert_eq(call("routing.put", json_pack("{s:s}", "script", "request_route { nosuch(); }"), &r),
		     EINVAL);
	json_decref(r);
	cr_assert_eq(access(bak, F_OK), -1, "a refused script writes nothing");

	cr_assert_eq(call("routing.put", json_pack("{s:s}", "script", "request_route { t_false(); }\n"), &r),
		     0);
	cr_assert(json_is_true(json_object_get(r, "reloaded")));
	cr_assert_str_eq(json_string_value(json_object_get(r, "backup")), bak);
	json_decref(r);

	FILE *f = fopen(bak, "r");
	cr_assert_not_null(f);
	cr_assert_geq(getdelim(&text, &len, '\0', f), 0);
	fclose(f);
	cr_assert_str_eq(text, "request_route { t_count(); }\n");
	free(text);

	cr_assert_eq(call("routing.get", json_array(), &r), 0);
	cr_assert_str_eq(json_string_value(json_object_get(r, "script")), "request_route { t_false(); }\n");
	json_decref(r);
}

Test(rpc_admin, stats_and_modules)
{
	json_t *r = NULL;
	struct sipd_stat *s = sipd_stat_register("testmod", "rejected_400", "a test counter");

	sipd_stat_add(s, 3);
	cr_assert_eq(call("stats.get", json_array(), &r), 0);
	cr_assert_eq(json_integer_value(json_object_get(
			 json_object_get(json_object_get(r, "modules"), "testmod"), "rejected_400")),
		     3);
	cr_assert_geq(json_integer_value(json_object_get(r, "errors")), 3);
	cr_assert(json_is_integer(json_object_get(r, "uptime")));
	json_decref(r);
	cr_assert_eq(call("modules.list", json_array(), &r), 0);
	cr_assert(json_is_array(r));
	json_decref(r);
}

/* A handler that would notice another one running beside it. */
static int inside;
static int overlaps;

static int exclusive(json_t *params, json_t **result)
{
	(void)params;
	if (__atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST) != 1)
		__atomic_add_fetch(&overlaps, 1, __ATOMIC_SEQ_CST);
	usleep(50);
	__atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
	*result = json_true();
	return 0;
}

static const struct sipd_rpc_method excl_methods[] = {
    {.name = "test.exclusive", .fn = exclusive},
    {.name = NULL},
};

static void *caller(void *arg)
{
	(void)arg;
	for (int i = 0; i < 200; i++) {
		json_t *r = NULL;
		if (sipd_rpc_call("test.exclusive", NULL, &r) != 0)
			__atomic_add_fetch(&overlaps, 1000, __ATOMIC_SEQ_CST);
		json_decref(r);
	}
	return NULL;
}

Test(rpc_admin, concurrent_callers_run_one_handler_at_a_time)
{
	pthread_t t[4];

	cr_assert_eq(sipd_rpc_register(excl_methods), 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, caller, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(overlaps, 0);
}
