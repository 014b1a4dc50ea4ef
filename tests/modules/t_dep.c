/* Test module: requires t_ok, so it must init after it and stop before it. */
#include <sipd/module.h>

#include "trace.h"

static int init(void)
{
	trace("init %s", "t_dep");
	return 0;
}

static int start(void)
{
	trace("start %s", "t_dep");
	return 0;
}

static void stop(void)
{
	trace("stop %s", "t_dep");
}

static const char *const requires[] = {"t_ok", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,   .name = "t_dep", .version = "1.0", .description = "loader test: depends on t_ok",
    .requires = requires, .init = init,    .start = start,   .stop = stop,
};
