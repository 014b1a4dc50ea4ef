/* Logging: one macro family that names the module on every line. */
#ifndef SIPD_LOG_H
#define SIPD_LOG_H

#include <sipd/api.h>

/* Levels follow syslog's numbering so they map one to one. */
enum sipd_log_level {
	SIPD_LOG_ERROR = 3,
	SIPD_LOG_WARN = 4,
	SIPD_LOG_NOTICE = 5,
	SIPD_LOG_INFO = 6,
	SIPD_LOG_DEBUG = 7,
};

/* The current threshold; messages above it are not formatted at all. */
SIPD_API extern int sipd_log_threshold;

SIPD_API void sipd_log(int level, const char *module, const char *fmt, ...) SIPD_PRINTF(3, 4);

/* Parses "error", "warn", "notice", "info", "debug"; returns -1 if unknown. */
SIPD_API int sipd_log_level_parse(const char *name);

/* Each module is compiled with -DSIPD_MODULE_NAME="name" (sipd_add_module does it). */
#ifndef SIPD_MODULE_NAME
#define SIPD_MODULE_NAME "core"
#endif

#define SIPD_LOG_AT(level, ...)                                                                              \
	do {                                                                                                 \
		if ((level) <= sipd_log_threshold)                                                           \
			sipd_log((level), SIPD_MODULE_NAME, __VA_ARGS__);                                    \
	} while (0)

#define SIPD_ERR(...)    SIPD_LOG_AT(SIPD_LOG_ERROR, __VA_ARGS__)
#define SIPD_WARN(...)   SIPD_LOG_AT(SIPD_LOG_WARN, __VA_ARGS__)
#define SIPD_NOTICE(...) SIPD_LOG_AT(SIPD_LOG_NOTICE, __VA_ARGS__)
#define SIPD_INFO(...)   SIPD_LOG_AT(SIPD_LOG_INFO, __VA_ARGS__)
#define SIPD_DBG(...)    SIPD_LOG_AT(SIPD_LOG_DEBUG, __VA_ARGS__)

#endif
