/* libFuzzer target: the routing-script compiler (lexer, parser, resolver, fixups) on arbitrary text. */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "script/script_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum sipd_result f_any(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	(void)ctx;
	(void)args;
	return SIPD_TRUE;
}

/* Stand-ins with every argument kind, so scripts calling them reach the resolver's argument checks. */
static const struct sipd_script_fn fuzz_fns[] = {
    {.name = "f_none", .fn = f_any},
    {.name = "f_int", .fn = f_any, .args = {SIPD_ARG_INT, SIPD_ARG_STR | SIPD_ARG_OPTIONAL}},
    {.name = "f_fmt", .fn = f_any, .args = {SIPD_ARG_FMT}},
    {.name = "f_regex", .fn = f_any, .args = {SIPD_ARG_REGEX}},
    {.name = "f_route", .fn = f_any, .args = {SIPD_ARG_ROUTE}},
    {.name = "f_failure", .fn = f_any, .args = {SIPD_ARG_ROUTE | SIPD_ARG_ROUTE_FAILURE}},
    {.name = "f_reply_route", .fn = f_any, .args = {SIPD_ARG_ROUTE | SIPD_ARG_ROUTE_REPLY}},
    {.name = "f_req", .fn = f_any, .routes = SIPD_ROUTE_REQUEST},
    {.name = NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool registered;
	struct script *s = NULL;
	char err[1024];

	if (!registered) {
		if (script_core_register() || sipd_script_register("fuzz", fuzz_fns))
			abort();
		registered = true;
	}
	if (size > 65536)
		return 0;
	if (script_compile_text(&s, "fuzz.cfg", (const char *)data, size, err, sizeof(err)) == 0)
		script_free(s);
	return 0;
}
