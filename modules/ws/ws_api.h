/* The "ws" service: what other modules may ask the ws transport (the registrar checks a binding's flow). */
#ifndef WS_API_H
#define WS_API_H

#include <stdbool.h>
#include <stdint.h>

#define WS_SERVICE         "ws"
#define WS_SERVICE_VERSION 1

struct ws_api {
	/* True while WebSocket connection conn_id is open. Any thread. */
	bool (*conn_alive)(uint64_t conn_id);
};

#endif
