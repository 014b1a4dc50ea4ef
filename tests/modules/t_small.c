/* Test module: claims a descriptor smaller than ABI 1.0's. */
#include <sipd/module.h>

SIPD_MODULE_EXPORT = {
    .abi_major = SIPD_ABI_MAJOR,
    .abi_minor = 0,
    .size = 8,
    .name = "t_small",
};
