/* Control RPC: methods modules export, served as JSON (sipctl, web admin). */
#ifndef SIPD_RPC_H
#define SIPD_RPC_H

#include <jansson.h>

#include <sipd/api.h>

/*
 * A handler gets params (a JSON array of positional arguments or an object,
 * never NULL) and returns 0 with *result set (a new reference), or an errno
 * (EINVAL bad arguments, ENOENT not found, EEXIST, ...) with *result
 * optionally set to a JSON string explaining the error (or an object whose
 * "message" explains it, with details beside). Handlers run one at a time
 * (sipd_rpc_call serializes them) on the control thread or a web admin
 * thread, never on a worker: they must only touch thread-safe state.
 */
typedef int (*sipd_rpc_fn)(json_t *params, json_t **result);

struct sipd_rpc_method {
	const char *name; /* dotted: "users.add"; sipctl maps `sipctl users add` to it */
	sipd_rpc_fn fn;
	const char *usage; /* e.g. "USERNAME PASSWORD [REALM]" */
	const char *help;
};

/* Registers methods outside a module descriptor (table ends with name NULL). */
SIPD_API int sipd_rpc_register(const struct sipd_rpc_method *methods);

/* Calls a method in-process from any thread but a worker loop (the web admin does this). Same contract as a
 * handler. */
SIPD_API int sipd_rpc_call(const char *method, json_t *params, json_t **result);

/* Builds the error message result: returns err, sets *result to a JSON string. */
SIPD_API int sipd_rpc_fail(json_t **result, int err, const char *fmt, ...) SIPD_PRINTF(3, 4);

#endif
