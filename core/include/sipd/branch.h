/* The destination set: targets a request is forked to (filled by lookup(), used by relay()). */
#ifndef SIPD_BRANCH_H
#define SIPD_BRANCH_H

#include <stdint.h>

#include <sipd/api.h>
#include <sipd/str.h>
#include <sipd/transport.h>

struct sipd_ctx;

/*
 * One target. uri becomes the Request-URI of the forwarded copy; dst_uri,
 * when not empty, is the next hop instead (e.g. the address a contact
 * registered from, behind NAT); path holds Path header values (RFC 3327)
 * to put in front as Route headers; when conn_id is not 0 (a stream
 * connection the contact registered over), the request goes over it.
 */
struct sipd_branch {
	struct sipd_str uri;
	struct sipd_str dst_uri;
	struct sipd_str path;
	int q; /* q * 1000, -1 when not given */
	enum sipd_proto proto;
	union sipd_sockaddr received; /* family AF_UNSPEC when unknown */
	uint64_t conn_id;
};

#define SIPD_MAX_BRANCHES 16

/* Adds a copy of b (strings copied into the message's arena). ENOSPC past SIPD_MAX_BRANCHES. */
SIPD_API int sipd_branch_add(struct sipd_ctx *ctx, const struct sipd_branch *b);
SIPD_API unsigned sipd_branch_count(const struct sipd_ctx *ctx);
/* Branch idx (0 <= idx < count), in the order they were added. */
SIPD_API const struct sipd_branch *sipd_branch_get(const struct sipd_ctx *ctx, unsigned idx);
SIPD_API void sipd_branch_clear(struct sipd_ctx *ctx);

#endif
