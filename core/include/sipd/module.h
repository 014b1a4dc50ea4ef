/* The module descriptor: everything a module exports to the core. */
#ifndef SIPD_MODULE_H
#define SIPD_MODULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sipd/api.h>
#include <sipd/rpc.h>
#include <sipd/script.h>

/* Parameter types of modules.conf entries (since ABI 1.0). */
enum sipd_param_type {
	SIPD_PARAM_INT = 1,  /* var: int *; min/max checked when both are not 0 */
	SIPD_PARAM_STR,      /* var: const char **; the string lives until shutdown */
	SIPD_PARAM_BOOL,     /* var: bool * */
	SIPD_PARAM_STR_LIST, /* var: const char *const **; NULL-terminated array */
};

struct sipd_param_def {
	const char *name;
	enum sipd_param_type type;
	void *var; /* where the value is stored; keeps its default when absent */
	long min, max;
	const char *help;
};

/*
 * One per module, exported with SIPD_MODULE_EXPORT. Tables end with an
 * entry whose name is NULL. Hooks return 0 or an errno; a failure stops
 * start-up. init runs on the main thread in dependency order before any
 * worker runs (provide services here); start runs after every init
 * (require services, add fds to loops); stop runs in reverse order.
 */
struct sipd_module {
	uint16_t abi_major; /* SIPD_ABI_MAJOR */
	uint16_t abi_minor; /* SIPD_ABI_MINOR */
	uint32_t size;      /* sizeof(struct sipd_module): the struct only grows */
	const char *name;
	const char *version;
	const char *description;
	const char *const *requires; /* module names, NULL-terminated, may be NULL */
	const struct sipd_param_def *params;
	const struct sipd_script_fn *functions;
	const struct sipd_rpc_method *rpc;
	int (*init)(void);
	int (*start)(void);
	void (*stop)(void);
};

/* The symbol the loader looks up in every module object. */
#define SIPD_MODULE_SYMBOL "sipd_module_export"

/* Usage: SIPD_MODULE_EXPORT = { SIPD_MODULE_HEADER, .name = "hello", ... }; */
#define SIPD_MODULE_EXPORT SIPD_EXPORT const struct sipd_module sipd_module_export
#define SIPD_MODULE_HEADER                                                                                   \
	.abi_major = SIPD_ABI_MAJOR, .abi_minor = SIPD_ABI_MINOR, .size = sizeof(struct sipd_module)

/*
 * Where a module parameter was written, for errors a module finds in its
 * values (a file that cannot be read, an unknown keyword): "file:line" of
 * the parameter, or of the module's entry when the parameter is absent.
 * Returns buf; "modules.conf" alone when nothing better is known. Valid from
 * init until shutdown.
 */
SIPD_API const char *sipd_param_source(const char *module, const char *param, char *buf, size_t size);

/* True if a module of that name is loaded and enabled. */
SIPD_API bool sipd_module_loaded(const char *name);

#endif
