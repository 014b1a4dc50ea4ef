/* The "auth_db" service: what other modules (registrar) may ask about users. */
#ifndef AUTH_DB_API_H
#define AUTH_DB_API_H

#include <stdbool.h>

#include <sipd/str.h>

/*
 * Provided by auth_db in init; require it in start with
 * sipd_service_require(AUTH_DB_SERVICE, AUTH_DB_VERSION, ...). Functions
 * are safe on any thread and never touch the database (memory cache).
 */
struct auth_db_api {
	/* True if username exists in the configured realm and is enabled. */
	bool (*user_exists)(struct sipd_str username);
};
#define AUTH_DB_SERVICE "auth_db"
#define AUTH_DB_VERSION 1

#endif
