/* Test module: a well-formed module with one parameter of each type, a script function and an RPC method. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/module.h>

#include "trace.h"

static int count = 1;
static const char *greeting = "hello";
static bool verbose;
static const char *const *tags;

static enum sipd_result t_ok_true(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	return SIPD_TRUE;
}

static int t_ok_ping(json_t *params, json_t **result)
{
	*result = json_pack("{s:i}", "count", count);
	return *result ? 0 : ENOMEM;
}

static int init(void)
{
	char line[256];
	size_t n = 0;

	n += (size_t)snprintf(line, sizeof(line), "count=%d greeting=%s verbose=%d tags=", count, greeting,
			      (int)verbose);
	for (const char *const *t = tags; t && *t && n < sizeof(line); t++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", t == tags ? "" : ",", *t);
	trace("init t_ok %s", line);
	SIPD_INFO("t_ok init: %s", line);
	return 0;
}

static int start(void)
{
	trace("start %s", "t_ok");
	return 0;
}

static void stop(void)
{
	trace("stop %s", "t_ok");
}

static const struct sipd_param_def params[] = {
    {.name = "count", .type = SIPD_PARAM_INT, .var = &count, .min = 1, .max = 10, .help = "1 to 10"},
    {.name = "greeting", .type = SIPD_PARAM_STR, .var = &greeting, .help = "a word"},
    {.name = "verbose", .type = SIPD_PARAM_BOOL, .var = &verbose, .help = "a flag"},
    {.name = "tags", .type = SIPD_PARAM_STR_LIST, .var = &tags, .help = "words"},
    {.name = NULL},
};

static const struct sipd_script_fn functions[] = {
    {.name = "t_ok_true", .fn = t_ok_true, .help = "always true"},
    {.name = NULL},
};

static const struct sipd_rpc_method rpc[] = {
    {.name = "t_ok.ping", .fn = t_ok_ping, .usage = "", .help = "returns the count parameter"},
    {.name = NULL},
};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER, .name = "t_ok",         .version = "1.0", .description = "loader test: a good module",
    .params = params,   .functions = functions, .rpc = rpc,       .init = init,
    .start = start,     .stop = stop,
};
