/* Core settings and server-wide facts modules may read. */
#ifndef SIPD_CORE_H
#define SIPD_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include <sipd/api.h>
#include <sipd/str.h>
#include <sipd/transport.h>

/* The version string, e.g. "0.1.0". */
SIPD_API const char *sipd_version(void);
/* Path of the SQLite database (core.database or --db). */
SIPD_API const char *sipd_core_database(void);
/* Server/User-Agent header value: "sipd/0.1.0". */
SIPD_API const char *sipd_server_name(void);

/*
 * Since ABI 1.1. This node among the nodes sharing one database
 * (docs/deploy.md): core.node_id (default: the host name), and the SIP URI
 * other nodes relay to it through (core.node_address; default: a listen
 * entry that is not a wildcard, UDP first, then TCP, then any; "" when
 * there is none).
 */
SIPD_API const char *sipd_node_id(void);
SIPD_API const char *sipd_node_address(void);
/* Seconds without a heartbeat after which a node counts as dead (core.node_dead_after). */
SIPD_API int sipd_node_dead_after(void);
/* True if src is the IP address of another live node sharing the database. */
SIPD_API bool sipd_node_is_peer(const union sipd_sockaddr *src);

/*
 * True if host[:port] names this server: one of the listen addresses or a
 * name in core.aliases. Port 0 (the URI has none) matches any listen port;
 * an explicit port must be one the host listens on.
 */
SIPD_API bool sipd_is_myself(struct sipd_str host, uint16_t port);

/*
 * Capabilities advertised in Allow / Supported. Modules add theirs in init;
 * sanity() checks Require against the option tags.
 */
SIPD_API int sipd_allow_method(const char *method);
SIPD_API int sipd_support_option(const char *option_tag);
SIPD_API bool sipd_option_supported(struct sipd_str option_tag);
/* Comma-separated lists, e.g. "INVITE, ACK, OPTIONS"; "" if empty. Valid after start-up. */
SIPD_API const char *sipd_allow_header(void);
SIPD_API const char *sipd_supported_header(void);

#endif
