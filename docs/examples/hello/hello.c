/* hello: the example third-party module — a script function, an RPC method, a counter. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/rpc.h>
#include <sipd/script.h>
#include <sipd/stats.h>

static const char *greeting = "Hello";
static struct sipd_stat *greetings;

/* The last name greeted, for the RPC method (which runs on another thread). */
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_name[128];

/* hello("text with $pv"): logs a greeting and remembers the name. */
static enum sipd_result hello_fn(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	char buf[128];
	struct sipd_str name;

	if (sipd_fmt_eval(ctx, args[0].fmt, buf, sizeof(buf), &name) != 0)
		return SIPD_ERROR;
	SIPD_INFO("%s, %.*s!", greeting, SIPD_STR_FMT(name));
	pthread_mutex_lock(&last_lock);
	snprintf(last_name, sizeof(last_name), "%.*s", SIPD_STR_FMT(name));
	pthread_mutex_unlock(&last_lock);
	sipd_stat_inc(greetings);
	return SIPD_TRUE;
}

/* hello.greet NAME -> "Hello, NAME!" */
static int rpc_greet(json_t *params, json_t **result)
{
	const char *name = json_string_value(json_array_get(params, 0));

	if (!name)
		return sipd_rpc_fail(result, EINVAL, "usage: hello greet NAME");
	*result = json_sprintf("%s, %s!", greeting, name);
	return *result ? 0 : ENOMEM;
}

/* hello.stats -> {"greetings": N, "last": "name"} */
static int rpc_stats(json_t *params, json_t **result)
{
	pthread_mutex_lock(&last_lock);
	*result =
	    json_pack("{s:I, s:s}", "greetings", (json_int_t)sipd_stat_read(greetings), "last", last_name);
	pthread_mutex_unlock(&last_lock);
	return *result ? 0 : ENOMEM;
}

static int hello_init(void)
{
	greetings = sipd_stat_register("hello", "greetings", "hello() calls");
	return greetings ? 0 : ENOMEM;
}

static const struct sipd_param_def hello_params[] = {
    {.name = "greeting", .type = SIPD_PARAM_STR, .var = &greeting, .help = "word to greet with"},
    {0},
};

static const struct sipd_script_fn hello_functions[] = {
    {.name = "hello", .fn = hello_fn, .args = {SIPD_ARG_FMT}, .help = "log a greeting to NAME"},
    {0},
};

static const struct sipd_rpc_method hello_rpc[] = {
    {.name = "hello.greet", .fn = rpc_greet, .usage = "NAME", .help = "return a greeting"},
    {.name = "hello.stats", .fn = rpc_stats, .help = "greetings so far and the last name"},
    {0},
};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,     .name = "hello",
    .version = "1.0",       .description = "example third-party module",
    .params = hello_params, .functions = hello_functions,
    .rpc = hello_rpc,       .init = hello_init,
};
