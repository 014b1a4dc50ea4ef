/* The "tcp" service other modules use (the registrar keeps connections of bindings open). */
#ifndef TCP_API_H
#define TCP_API_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_SERVICE         "tcp"
#define TCP_SERVICE_VERSION 1

struct tcp_api {
	/*
	 * Marks connection conn_id as used by a binding (keep = true): it is
	 * then never closed for idleness; false gives it back to idle_timeout.
	 * Returns 0, or ENOENT when the connection is gone. Any thread.
	 */
	int (*conn_keep)(uint64_t conn_id, bool keep);
	/* True while connection conn_id is open. Any thread. */
	bool (*conn_alive)(uint64_t conn_id);
};

#endif
