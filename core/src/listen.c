/* core.listen and core.aliases: the parsed listen addresses, and whether a host:port means us. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/transport.h>

#include "internal.h"

#define DEFAULT_SIP_PORT 5060

/*
 * Written once on the main thread before workers start, read-only afterwards:
 * that is why the accessors take no lock.
 */
static struct sipd_listen *listens;
static unsigned listen_n;
static char **aliases;
static unsigned alias_n;
/* Local interface addresses, for listeners bound to 0.0.0.0 or ::. */
static union sipd_sockaddr *local_addrs;
static unsigned local_n;

static uint16_t default_port(enum sipd_proto proto)
{
	switch (proto) {
	case SIPD_PROTO_TLS:
		return 5061;
	case SIPD_PROTO_WS:
		return 80;
	case SIPD_PROTO_WSS:
		return 443;
	default:
		return DEFAULT_SIP_PORT;
	}
}

static bool valid_hostname(const char *h)
{
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
			return false;
	return *h != '\0';
}

static int parse_port(uint16_t *out, const char *s)
{
	unsigned long v = 0;

	if (!*s)
		return EINVAL;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return EINVAL;
	}
	if (v == 0)
		return EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static void set_port(union sipd_sockaddr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET)
		a->sin.sin_port = htons(port);
	else if (a->sa.sa_family == AF_INET6)
		a->sin6.sin6_port = htons(port);
}

static int resolve_host(union sipd_sockaddr *out, const char *spec, const char *host, char *err,
			size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
	struct addrinfo *res = NULL;
	int rc;

	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "listen '%s': cannot resolve '%s': %s", spec, host,
			 rc ? gai_strerror(rc) : "no address");
		return EINVAL;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen < sizeof(*out) ? res->ai_addrlen : sizeof(*out));
	freeaddrinfo(res);
	return 0;
}

int listen_parse(struct sipd_listen *out, const char *spec, bool resolve, char *err, size_t errlen)
{
	struct sipd_listen l = {.fd = -1};
	const char *colon, *host, *host_end, *port_s = NULL;
	bool bracketed = false;
	size_t host_len;
	int ret = EINVAL;

	colon = spec ? strchr(spec, ':') : NULL;
	if (!colon) {
		snprintf(err, errlen, "listen '%s': expected proto:host:port, e.g. udp:0.0.0.0:5060",
			 spec ? spec : "");
		goto out;
	}
	l.proto = sipd_proto_parse((struct sipd_str){spec, (size_t)(colon - spec)});
	if (l.proto == SIPD_PROTO_NONE) {
		snprintf(err, errlen,
			 "listen '%s': unknown protocol '%.*s'; expected udp, tcp, tls, ws or wss", spec,
			 (int)(colon - spec), spec);
		goto out;
	}

	host = colon + 1;
	if (*host == '[') {
		bracketed = true;
		host++;
		host_end = strchr(host, ']');
		if (!host_end) {
			snprintf(err, errlen, "listen '%s': missing ']' after the IPv6 address", spec);
			goto out;
		}
		if (host_end[1] == ':')
			port_s = host_end + 2;
		else if (host_end[1] != '\0') {
			snprintf(err, errlen, "listen '%s': expected ':port' after ']'", spec);
			goto out;
		}
	} else {
		host_end = strchr(host, ':');
		if (host_end && strchr(host_end + 1, ':')) {
			snprintf(err, errlen,
				 "listen '%s': write IPv6 addresses in brackets, e.g. udp:[::1]:5060", spec);
			goto out;
		}
		if (host_end)
			port_s = host_end + 1;
		else
			host_end = host + strlen(host);
	}
	host_len = (size_t)(host_end - host);
	if (host_len == 0) {
		snprintf(err, errlen, "listen '%s': missing host, e.g. udp:0.0.0.0:5060", spec);
		goto out;
	}
	if (host_len >= sizeof(l.host)) {
		snprintf(err, errlen, "listen '%s': host is longer than %zu characters", spec,
			 sizeof(l.host) - 1);
		goto out;
	}
	memcpy(l.host, host, host_len);
	l.host[host_len] = '\0';

	l.port = default_port(l.proto);
	if (port_s && parse_port(&l.port, port_s) != 0) {
		snprintf(err, errlen, "listen '%s': port '%s' is not a number from 1 to 65535", spec, port_s);
		goto out;
	}

	if (inet_pton(AF_INET6, l.host, &l.addr.sin6.sin6_addr) == 1) {
		l.addr.sin6.sin6_family = AF_INET6;
	} else if (bracketed) {
		snprintf(err, errlen, "listen '%s': '%s' is not an IPv6 address", spec, l.host);
		goto out;
	} else if (inet_pton(AF_INET, l.host, &l.addr.sin.sin_addr) == 1) {
		l.addr.sin.sin_family = AF_INET;
	} else if (!valid_hostname(l.host)) {
		snprintf(err, errlen, "listen '%s': '%s' is neither an IP address nor a host name", spec,
			 l.host);
		goto out;
	} else if (resolve && resolve_host(&l.addr, spec, l.host, err, errlen) != 0) {
		goto out;
	}
	set_port(&l.addr, l.port);

	*out = l;
	ret = 0;
out:
	return ret;
}

static bool is_wildcard(const union sipd_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_addr.s_addr == htonl(INADDR_ANY);
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->sin6.sin6_addr);
	return false;
}

static bool same_ip(const union sipd_sockaddr *a, const union sipd_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, sizeof(a->sin6.sin6_addr)) == 0;
	return false;
}

/* A wildcard listener answers on every local address, so those addresses mean us too. */
static void load_local_addrs(void)
{
	struct ifaddrs *ifs = NULL;
	unsigned n = 0;

	if (getifaddrs(&ifs) != 0) {
		SIPD_WARN("getifaddrs: %s; only listen addresses and aliases will count as local",
			  strerror(errno));
		return;
	}
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
			n++;
	local_addrs = calloc(n ? n : 1, sizeof(*local_addrs));
	if (!local_addrs) {
		freeifaddrs(ifs);
		return;
	}
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			memcpy(&local_addrs[local_n++], i->ifa_addr, sizeof(struct sockaddr_in));
		else if (i->ifa_addr->sa_family == AF_INET6)
			memcpy(&local_addrs[local_n++], i->ifa_addr, sizeof(struct sockaddr_in6));
	}
	freeifaddrs(ifs);
}

int listen_set(char *const *specs, unsigned count, char *err, size_t errlen)
{
	struct sipd_listen *arr = NULL;
	bool wildcard = false;
	int ret = 0;

	arr = calloc(count ? count : 1, sizeof(*arr));
	if (!arr) {
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	for (unsigned i = 0; i < count; i++) {
		ret = listen_parse(&arr[i], specs[i], true, err, errlen);
		if (ret)
			goto out;
		for (unsigned j = 0; j < i; j++) {
			if (arr[j].proto == arr[i].proto && arr[j].port == arr[i].port &&
			    same_ip(&arr[j].addr, &arr[i].addr)) {
				snprintf(err, errlen, "listen '%s' is given twice", specs[i]);
				ret = EINVAL;
				goto out;
			}
		}
		wildcard |= is_wildcard(&arr[i].addr);
	}

	free(listens);
	free(local_addrs);
	local_addrs = NULL;
	local_n = 0;
	listens = arr;
	listen_n = count;
	arr = NULL;
	if (wildcard)
		load_local_addrs();
	for (unsigned i = 0; i < listen_n; i++)
		SIPD_DBG("listen %s:%s:%u", sipd_proto_name(listens[i].proto), listens[i].host,
			 listens[i].port);
out:
	free(arr);
	return ret;
}

static void free_aliases(void)
{
	for (unsigned i = 0; i < alias_n; i++)
		free(aliases[i]);
	free(aliases);
	aliases = NULL;
	alias_n = 0;
}

int aliases_set(char *const *names, unsigned count)
{
	char **arr = calloc(count ? count : 1, sizeof(*arr));

	if (!arr)
		return ENOMEM;
	for (unsigned i = 0; i < count; i++) {
		const char *n = names[i];
		size_t len = strlen(n);

		/* Stored without brackets or a trailing dot: how sipd_is_myself compares. */
		if (len >= 2 && n[0] == '[' && n[len - 1] == ']') {
			n++;
			len -= 2;
		}
		if (len > 1 && n[len - 1] == '.')
			len--;
		arr[i] = strndup(n, len);
		if (!arr[i]) {
			for (unsigned j = 0; j < i; j++)
				free(arr[j]);
			free(arr);
			return ENOMEM;
		}
	}
	free_aliases();
	aliases = arr;
	alias_n = count;
	return 0;
}

void listen_reset(void)
{
	free(listens);
	listens = NULL;
	listen_n = 0;
	free(local_addrs);
	local_addrs = NULL;
	local_n = 0;
	free_aliases();
	caps_reset();
}

unsigned sipd_listen_count(void)
{
	return listen_n;
}

const struct sipd_listen *sipd_listen_get(unsigned idx)
{
	return idx < listen_n ? &listens[idx] : NULL;
}

void sipd_listen_set_fd(unsigned idx, int fd)
{
	if (idx < listen_n)
		listens[idx].fd = fd;
}

static bool parse_ip(union sipd_sockaddr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->sin.sin_addr) == 1) {
		a->sa.sa_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &a->sin6.sin6_addr) == 1) {
		a->sa.sa_family = AF_INET6;
		return true;
	}
	return false;
}

static bool host_equal(const char *a, bool a_is_ip, const union sipd_sockaddr *a_ip, const char *b)
{
	union sipd_sockaddr b_ip;

	/* Compare addresses in binary so "::1" and "0::1" agree. */
	if (a_is_ip && parse_ip(&b_ip, b))
		return same_ip(a_ip, &b_ip);
	return strcasecmp(a, b) == 0;
}

static bool is_local_addr(const union sipd_sockaddr *ip)
{
	for (unsigned i = 0; i < local_n; i++)
		if (same_ip(ip, &local_addrs[i]))
			return true;
	return false;
}

static bool port_is_ours(uint16_t port)
{
	if (listen_n == 0)
		return port == DEFAULT_SIP_PORT;
	for (unsigned i = 0; i < listen_n; i++)
		if (listens[i].port == port)
			return true;
	return false;
}

bool sipd_is_myself(struct sipd_str host, uint16_t port)
{
	union sipd_sockaddr ip;
	char buf[sizeof(listens->host)];
	bool is_ip;

	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']') {
		host.p++;
		host.len -= 2;
	}
	if (host.len > 1 && host.p[host.len - 1] == '.')
		host.len--;
	if (host.len == 0 || host.len >= sizeof(buf))
		return false;
	memcpy(buf, host.p, host.len);
	buf[host.len] = '\0';
	is_ip = parse_ip(&ip, buf);

	/* No port: whoever sends to the host finds our port through SRV (RFC 3263 4.2), so a host of ours
	 * names us whichever port we listen on. An explicit port has to be one of that host's. */
	for (unsigned i = 0; i < listen_n; i++) {
		const struct sipd_listen *l = &listens[i];

		if (port != 0 && l->port != port)
			continue;
		if (host_equal(buf, is_ip, &ip, l->host))
			return true;
		if (is_ip && same_ip(&ip, &l->addr))
			return true;
		if (is_ip && is_wildcard(&l->addr) && l->addr.sa.sa_family == ip.sa.sa_family &&
		    is_local_addr(&ip))
			return true;
	}
	if (port != 0 && !port_is_ours(port))
		return false;
	for (unsigned i = 0; i < alias_n; i++)
		if (host_equal(buf, is_ip, &ip, aliases[i]))
			return true;
	return false;
}
