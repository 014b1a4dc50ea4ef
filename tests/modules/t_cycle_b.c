/* Test module: requires t_cycle_a, which requires this one. */
#include <sipd/module.h>

static const char *const requires[] = {"t_cycle_a", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "t_cycle_b",
    .description = "loader test: dependency cycle",
    .requires = requires,
};
