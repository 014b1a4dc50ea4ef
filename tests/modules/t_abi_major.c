/* Test module: built for a future major ABI, which the loader must refuse. */
#include <sipd/module.h>

SIPD_MODULE_EXPORT = {
    .abi_major = SIPD_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = sizeof(struct sipd_module),
    .name = "t_abi_major",
    .description = "loader test: wrong ABI major",
};
