/* Test script functions the script tests register under the owner "test", and a setup helper. */
#ifndef SCRIPT_TEST_H
#define SCRIPT_TEST_H

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "internal.h"
#include "script/script_int.h"

static atomic_long t_calls;    /* t_count() calls */
static long t_last_int;        /* last t_int() argument */
static const char *t_last_str; /* last t_int() optional string */
static int t_last_route = -1;  /* last t_route() id */
static enum sipd_result t_ret_value = SIPD_TRUE;

static inline enum sipd_result t_count(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	atomic_fetch_add_explicit(&t_calls, 1, memory_order_relaxed);
	return SIPD_TRUE;
}

static inline enum sipd_result t_true(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	return SIPD_TRUE;
}

static inline enum sipd_result t_false(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	return SIPD_FALSE;
}

/* Returns whatever t_ret_value says: STOP, ERROR, SUSPEND, ... */
static inline enum sipd_result t_ret(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	return t_ret_value;
}

static inline enum sipd_result t_int(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	t_last_int = args[0].i;
	t_last_str = args[1].s.p;
	return SIPD_TRUE;
}

static inline enum sipd_result t_route(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	t_last_route = args[0].route;
	return SIPD_TRUE;
}

/* Runs the named route now, as a module would for a failure route. */
static inline enum sipd_result t_run(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	return sipd_script_run_route(ctx, args[0].route);
}

static const struct sipd_script_fn test_fns[] = {
    {.name = "t_count", .fn = t_count},
    {.name = "t_true", .fn = t_true},
    {.name = "t_false", .fn = t_false},
    {.name = "t_ret", .fn = t_ret},
    {.name = "t_int", .fn = t_int, .args = {SIPD_ARG_INT, SIPD_ARG_STR | SIPD_ARG_OPTIONAL}},
    {.name = "t_route", .fn = t_route, .args = {SIPD_ARG_ROUTE}},
    {.name = "t_on_fail", .fn = t_route, .args = {SIPD_ARG_ROUTE | SIPD_ARG_ROUTE_FAILURE}},
    {.name = "t_run", .fn = t_run, .args = {SIPD_ARG_ROUTE}},
    {.name = "t_req_only", .fn = t_count, .routes = SIPD_ROUTE_REQUEST},
    {.name = NULL},
};

static inline void script_test_setup(void)
{
	script_unload();
	script_registry_reset();
	cr_assert_eq(script_core_register(), 0);
	cr_assert_eq(sipd_script_register("test", test_fns), 0);
	atomic_store(&t_calls, 0);
	t_ret_value = SIPD_TRUE;
	t_last_route = -1;
}

static inline void script_test_teardown(void)
{
	script_unload();
	script_registry_reset();
}

/* Writes text to a temporary file and returns its path (static buffer). */
static inline const char *script_test_file(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/sipd-script-test-%d.cfg", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

#endif
