/* Test module: needs a newer minor ABI than the core has, which the loader must refuse. */
#include <sipd/module.h>

SIPD_MODULE_EXPORT = {
    .abi_major = SIPD_ABI_MAJOR,
    .abi_minor = SIPD_ABI_MINOR + 3,
    .size = sizeof(struct sipd_module),
    .name = "t_abi_minor",
    .description = "loader test: newer ABI minor",
};
