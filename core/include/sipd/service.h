/* Versioned service registry: how modules find each other's C APIs. */
#ifndef SIPD_SERVICE_H
#define SIPD_SERVICE_H

#include <sipd/api.h>

/*
 * Publishes api under name at version (call from init). The api table must
 * outlive the module's stop. Returns 0, EEXIST if the name is taken, EINVAL.
 */
SIPD_API int sipd_service_provide(const char *name, unsigned version, const void *api);

/*
 * Finds a service with version >= min_version (call from start or later).
 * Returns 0 and sets *api, ENOENT if nobody provides it, EPROTO if only an
 * older version exists.
 */
SIPD_API int sipd_service_require(const char *name, unsigned min_version, const void **api);

#endif
