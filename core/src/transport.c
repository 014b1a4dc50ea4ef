/* Transport registry: which module sends for which protocol, error listeners, address helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/loop.h>
#include <sipd/transport.h>

#include "internal.h"

#define PROTO_COUNT         (SIPD_PROTO_WSS + 1)
#define MAX_ERROR_LISTENERS 8

/*
 * Both tables are written by module init on the main thread before any
 * worker runs and only read afterwards; the atomics make a late
 * registration (a module started after the workers) safe to publish.
 */
static _Atomic(const struct sipd_transport *) transports[PROTO_COUNT];
static _Atomic(const struct sipd_transport_batch *) batchers[PROTO_COUNT];
/* Set when the calling worker queued something this round: the round's end then flushes. */
static __thread bool queued;
static _Atomic(sipd_transport_error_fn) error_fns[MAX_ERROR_LISTENERS];

static const char *const proto_names[PROTO_COUNT] = {
    [SIPD_PROTO_NONE] = "none", [SIPD_PROTO_UDP] = "udp", [SIPD_PROTO_TCP] = "tcp",
    [SIPD_PROTO_TLS] = "tls",   [SIPD_PROTO_WS] = "ws",   [SIPD_PROTO_WSS] = "wss",
};

static bool proto_valid(enum sipd_proto p)
{
	return p > SIPD_PROTO_NONE && p < PROTO_COUNT;
}

int sipd_transport_register(const struct sipd_transport *t)
{
	const struct sipd_transport *none = NULL;

	if (!t || !t->send || !proto_valid(t->proto))
		return EINVAL;
	if (!atomic_compare_exchange_strong(&transports[t->proto], &none, t)) {
		SIPD_ERR("transport %s: %s already has a transport (%s)", t->name ? t->name : "?",
			 proto_names[t->proto], none->name ? none->name : "?");
		return EEXIST;
	}
	SIPD_DBG("transport %s registered for %s", t->name ? t->name : "?", proto_names[t->proto]);
	return 0;
}

int sipd_send(const struct sipd_dest *dst, const char *buf, size_t len)
{
	const struct sipd_transport *t;

	if (!dst || !buf || !len || !proto_valid(dst->proto))
		return EINVAL;
	t = atomic_load_explicit(&transports[dst->proto], memory_order_acquire);
	if (!t)
		return ENOTSUP;
	return t->send(dst, buf, len);
}

int sipd_transport_batch_register(const struct sipd_transport_batch *b)
{
	const struct sipd_transport_batch *none = NULL;

	if (!b || !b->queue || !b->flush || !proto_valid(b->proto))
		return EINVAL;
	if (!atomic_compare_exchange_strong(&batchers[b->proto], &none, b))
		return EEXIST;
	return 0;
}

int sipd_send_soon(const struct sipd_dest *dst, const char *buf, size_t len)
{
	const struct sipd_transport_batch *b;

	if (!dst || !buf || !len || !proto_valid(dst->proto))
		return EINVAL;
	b = atomic_load_explicit(&batchers[dst->proto], memory_order_acquire);
	if (!b || !sipd_loop_self())
		return sipd_send(dst, buf, len);
	queued = true;
	return b->queue(dst, buf, len);
}

void transports_flush(void)
{
	if (!queued)
		return;
	queued = false;
	for (unsigned p = SIPD_PROTO_UDP; p < PROTO_COUNT; p++) {
		const struct sipd_transport_batch *b =
		    atomic_load_explicit(&batchers[p], memory_order_acquire);

		if (b)
			b->flush();
	}
}

int sipd_transport_on_error(sipd_transport_error_fn fn)
{
	if (!fn)
		return EINVAL;
	for (unsigned i = 0; i < MAX_ERROR_LISTENERS; i++) {
		sipd_transport_error_fn none = NULL;

		if (atomic_compare_exchange_strong(&error_fns[i], &none, fn))
			return 0;
		if (none == fn)
			return EEXIST;
	}
	return ENOSPC;
}

void sipd_transport_error(const struct sipd_dest *dst, int err)
{
	char ip[INET6_ADDRSTRLEN];

	if (!dst)
		return;
	SIPD_DBG("%s error toward %s port %u: %s", sipd_proto_name(dst->proto),
		 sipd_sockaddr_ip(&dst->addr, ip, sizeof(ip)), sipd_sockaddr_port(&dst->addr), strerror(err));
	for (unsigned i = 0; i < MAX_ERROR_LISTENERS; i++) {
		sipd_transport_error_fn fn = atomic_load_explicit(&error_fns[i], memory_order_acquire);

		if (!fn)
			break;
		fn(dst, err);
	}
}

uint64_t sipd_conn_id_next(void)
{
	static atomic_uint_fast64_t next = 1;

	return (uint64_t)atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
}

const char *sipd_proto_name(enum sipd_proto p)
{
	return p >= SIPD_PROTO_NONE && p < PROTO_COUNT ? proto_names[p] : "none";
}

enum sipd_proto sipd_proto_parse(struct sipd_str name)
{
	for (unsigned p = SIPD_PROTO_UDP; p < PROTO_COUNT; p++)
		if (sipd_str_caseeq_c(name, proto_names[p]))
			return (enum sipd_proto)p;
	return SIPD_PROTO_NONE;
}

const char *sipd_sockaddr_ip(const union sipd_sockaddr *a, char *buf, size_t size)
{
	const void *bin = NULL;

	if (!buf || !size)
		return buf;
	buf[0] = '\0';
	if (!a)
		return buf;
	if (a->sa.sa_family == AF_INET && size >= INET_ADDRSTRLEN) {
		/* Every request's Via gets received=: dotted quads without inet_ntop's sprintf. */
		const unsigned char *b = (const unsigned char *)&a->sin.sin_addr;
		size_t n = 0;

		for (int i = 0; i < 4; i++) {
			if (i)
				buf[n++] = '.';
			n += sipd_utoa(buf + n, b[i]);
		}
		return buf;
	}
	if (a->sa.sa_family == AF_INET)
		bin = &a->sin.sin_addr;
	else if (a->sa.sa_family == AF_INET6)
		bin = &a->sin6.sin6_addr;
	if (bin && !inet_ntop(a->sa.sa_family, bin, buf, (socklen_t)size))
		buf[0] = '\0';
	return buf;
}

uint16_t sipd_sockaddr_port(const union sipd_sockaddr *a)
{
	if (!a)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return ntohs(a->sin.sin_port);
	if (a->sa.sa_family == AF_INET6)
		return ntohs(a->sin6.sin6_port);
	return 0;
}

/* "udp:1.2.3.4:5060" and back: how bindings store where they came from. */
void sipd_peer_format(char *buf, size_t size, enum sipd_proto proto, const union sipd_sockaddr *a)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6) {
		snprintf(buf, size, "%s", "");
		return;
	}
	sipd_sockaddr_ip(a, ip, sizeof(ip));
	if (a->sa.sa_family == AF_INET) {
		/* Every stored binding: put together rather than through a format. */
		const char *name = sipd_proto_name(proto);
		size_t nlen = strlen(name), ilen = strlen(ip);

		if (nlen + 1 + ilen + 1 + SIPD_UTOA_MAX <= size) {
			memcpy(buf, name, nlen);
			buf[nlen] = ':';
			memcpy(buf + nlen + 1, ip, ilen);
			buf[nlen + 1 + ilen] = ':';
			sipd_utoa(buf + nlen + 2 + ilen, sipd_sockaddr_port(a));
			return;
		}
	}
	snprintf(buf, size, a->sa.sa_family == AF_INET6 ? "%s:[%s]:%u" : "%s:%s:%u", sipd_proto_name(proto),
		 ip, sipd_sockaddr_port(a));
}

int sipd_peer_parse(struct sipd_str text, enum sipd_proto *proto, union sipd_sockaddr *a)
{
	char copy[96], ip[INET6_ADDRSTRLEN];
	const char *s = copy, *colon, *port;
	size_t n;
	long p;

	if (!text.p || text.len >= sizeof(copy))
		return EINVAL;
	memcpy(copy, text.p, text.len);
	copy[text.len] = '\0';
	if (!(colon = strchr(s, ':')))
		return EINVAL;
	*proto = sipd_proto_parse((struct sipd_str){s, (size_t)(colon - s)});
	s = colon + 1;
	memset(a, 0, sizeof(*a));
	if (*s == '[') {
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':' || (n = (size_t)(end - s - 1)) >= sizeof(ip))
			return EINVAL;
		memcpy(ip, s + 1, n);
		ip[n] = '\0';
		port = end + 2;
		a->sin6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, ip, &a->sin6.sin6_addr) != 1)
			return EINVAL;
	} else {
		const char *c = strrchr(s, ':');

		if (!c || (n = (size_t)(c - s)) >= sizeof(ip))
			return EINVAL;
		memcpy(ip, s, n);
		ip[n] = '\0';
		port = c + 1;
		a->sin.sin_family = AF_INET;
		if (inet_pton(AF_INET, ip, &a->sin.sin_addr) != 1)
			return EINVAL;
	}
	p = strtol(port, NULL, 10);
	if (p <= 0 || p > 65535 || *proto == SIPD_PROTO_NONE)
		return EINVAL;
	if (a->sa.sa_family == AF_INET)
		a->sin.sin_port = htons((uint16_t)p);
	else
		a->sin6.sin6_port = htons((uint16_t)p);
	return 0;
}
