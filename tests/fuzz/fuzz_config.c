/* libFuzzer target: modules.conf through the core's loader (libconfig) and the module parameter checks. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int p_int;
static const char *p_str;
static bool p_bool;
static const char *const *p_list;

/* A module with one parameter of each type, applied to every entry of the file. */
static const struct sipd_param_def params[] = {
    {.name = "n", .type = SIPD_PARAM_INT, .var = &p_int, .min = -5, .max = 1000},
    {.name = "s", .type = SIPD_PARAM_STR, .var = &p_str},
    {.name = "b", .type = SIPD_PARAM_BOOL, .var = &p_bool},
    {.name = "l", .type = SIPD_PARAM_STR_LIST, .var = &p_list},
    {.name = NULL},
};
static const struct sipd_module fuzz_module = {SIPD_MODULE_HEADER, .name = "fuzz", .params = params};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct core_config c;
	char path[64], err[1024];

	if (fd < 0 && (fd = memfd_create("modules.conf", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (config_load(&c, path, err, sizeof(err)) != 0)
		return 0;
	for (unsigned i = 0; i < c.module_count; i++)
		config_apply_params(&c, &c.modules[i], &fuzz_module, err, sizeof(err));
	config_free(&c);
	return 0;
}
