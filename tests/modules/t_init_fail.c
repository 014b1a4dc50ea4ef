/* Test module: init fails as a transport does when its port is taken. */
#include <errno.h>

#include <sipd/module.h>

static int init(void)
{
	return EADDRINUSE;
}

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "t_init_fail",
    .description = "loader test: init fails",
    .init = init,
};
