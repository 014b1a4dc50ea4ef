/* Next hops: a SIP URI to a destination (RFC 3263 transport and port rules), and our address toward it. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tm_int.h"

bool tm_ip_literal(struct sipd_str host, union sipd_sockaddr *out)
{
	char buf[64];

	if (host.len == 0 || host.len >= sizeof(buf))
		return false;
	memcpy(buf, host.p, host.len);
	buf[host.len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, &out->sin.sin_addr) == 1) {
		out->sin.sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, &out->sin6.sin6_addr) == 1) {
		out->sin6.sin6_family = AF_INET6;
		return true;
	}
	return false;
}

const struct sipd_listen *tm_listen_for(enum sipd_proto proto, int family)
{
	const struct sipd_listen *any = NULL;

	for (unsigned i = 0; i < sipd_listen_count(); i++) {
		const struct sipd_listen *l = sipd_listen_get(i);

		if (l->proto != proto)
			continue;
		if (l->addr.sa.sa_family == family)
			return l;
		if (!any)
			any = l;
	}
	return any;
}

int tm_uri_target(struct sipd_uri *u, struct sipd_str uri, enum sipd_proto *proto, uint16_t *port)
{
	int err = tm_parser->uri_parse(u, uri);

	if (err)
		return err;
	if (u->scheme == SIPD_URI_TEL)
		return EPROTONOSUPPORT;
	*proto = u->scheme == SIPD_URI_SIPS ? SIPD_PROTO_TLS : SIPD_PROTO_UDP;
	if (u->transport.len) {
		enum sipd_proto p = sipd_proto_parse(u->transport);

		if (p == SIPD_PROTO_NONE)
			return EPROTONOSUPPORT;
		*proto = p;
	}
	*port = u->port ? u->port : (*proto == SIPD_PROTO_TLS ? 5061 : 5060);
	return 0;
}

char *tm_uri_tls_name(struct sipd_str uri)
{
	union sipd_sockaddr ip;
	struct sipd_uri u;
	struct sipd_str host;

	if (tm_parser->uri_parse(&u, uri) || u.scheme == SIPD_URI_TEL)
		return NULL;
	host = u.maddr.len ? u.maddr : u.host;
	if (!host.len || tm_ip_literal(host, &ip))
		return NULL;
	return strndup(host.p, host.len);
}

bool tm_uri_invalid_host(struct sipd_str uri)
{
	struct sipd_uri u;

	return tm_parser->uri_parse(&u, uri) == 0 && u.host.len >= 8 &&
	       !strncasecmp(u.host.p + u.host.len - 8, ".invalid", 8);
}

int tm_dest_from_uri(struct sipd_dest *out, struct sipd_str uri, bool *need_dns)
{
	struct sipd_uri u;
	struct sipd_dest d;
	struct sipd_str host;
	uint16_t port;
	int err;

	memset(&d, 0, sizeof(d));
	*need_dns = false;
	if ((err = tm_uri_target(&u, uri, &d.proto, &port)))
		return err;
	host = u.maddr.len ? u.maddr : u.host;
	if (!tm_ip_literal(host, &d.addr)) {
		*need_dns = true;
		return EAGAIN;
	}
	if (d.addr.sa.sa_family == AF_INET)
		d.addr.sin.sin_port = htons(port);
	else
		d.addr.sin6.sin6_port = htons(port);
	d.from = tm_listen_for(d.proto, d.addr.sa.sa_family);
	*out = d;
	return 0;
}

/*
 * Our address as the peer at d sees it, for Via and Record-Route: the
 * listen address, or for a wildcard listener the source address the kernel
 * picks toward d (a connected UDP socket sends nothing).
 */
int tm_local_addr(const struct sipd_dest *d, char *host, size_t size, uint16_t *port)
{
	const struct sipd_listen *l = d->from ? d->from : tm_listen_for(d->proto, d->addr.sa.sa_family);
	union sipd_sockaddr a;
	socklen_t alen = sizeof(a);
	int fd;

	if (!l)
		return ENOENT;
	*port = l->port;
	if (strcmp(l->host, "0.0.0.0") && strcmp(l->host, "::")) {
		snprintf(host, size, "%s", l->host);
		return 0;
	}
	fd = socket(d->addr.sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, &d->addr.sa,
		    d->addr.sa.sa_family == AF_INET6 ? sizeof(d->addr.sin6) : sizeof(d->addr.sin)) ||
	    getsockname(fd, &a.sa, &alen)) {
		int err = errno;
		close(fd);
		return err;
	}
	close(fd);
	sipd_sockaddr_ip(&a, host, size);
	return 0;
}

/* "host:port" with IPv6 in brackets. */
void tm_hostport(char *buf, size_t size, const char *host, uint16_t port)
{
	if (strchr(host, ':'))
		snprintf(buf, size, "[%s]:%u", host, port);
	else
		snprintf(buf, size, "%s:%u", host, port);
}
