/* Test module: requires a module nobody loads. */
#include <sipd/module.h>

static const char *const requires[] = {"t_missing", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "t_needs_missing",
    .description = "loader test: missing dependency",
    .requires = requires,
};
