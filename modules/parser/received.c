/* RFC 3261 18.2.1 and RFC 3581: received/rport on the top Via of a received request. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "parser_int.h"

/* True when host is an IP literal equal to the textual address ip. */
static bool same_ip(struct sipd_str host, const char *ip)
{
	unsigned char a[16], b[16];
	char tmp[INET6_ADDRSTRLEN];
	int af = memchr(host.p, ':', host.len) ? AF_INET6 : AF_INET;

	if (host.len == 0 || host.len >= sizeof(tmp))
		return false;
	memcpy(tmp, host.p, host.len);
	tmp[host.len] = '\0';
	if (inet_pton(af, tmp, a) != 1 || inet_pton(af, ip, b) != 1)
		return false;
	return memcmp(a, b, af == AF_INET6 ? 16 : 4) == 0;
}

/* Where "rport" without a value ends, so "=port" can follow it; NULL if none. */
static const char *bare_rport_end(const struct sipd_via *v)
{
	struct parser_cur c;
	struct sipd_param p;
	const char *q = v->params.p;

	if (!q)
		return NULL;
	while (q > v->value.p && *q != ';')
		q--;
	c.p = q;
	c.e = v->params.p + v->params.len;
	while (parser_param_next(&c, &p) == 0)
		if (sipd_str_caseeq_c(p.name, "rport") && !p.has_value)
			return p.name.p + p.name.len;
	return NULL;
}

int parser_via_mark_received(struct sipd_msg *m)
{
	struct parser_msg *pm = parser_msg_of(m);
	char ip[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + 16];
	const char *rp;
	struct sipd_via v;
	int err;

	if (pm->via_marked)
		return 0;
	if (!m->is_request || !pm->has_rcv)
		return EINVAL;
	err = parser_via_top(pm, &v);
	if (err)
		return err;
	if (!sipd_sockaddr_ip(&pm->rcv.src, ip, sizeof(ip)))
		return EINVAL;
	rp = v.rport && v.rport_value < 0 ? bare_rport_end(&v) : NULL;
	if (rp) {
		text[0] = '=';
		sipd_utoa(text + 1, sipd_sockaddr_port(&pm->rcv.src));
		err = parser_edit_add(pm, PARSER_EDIT_VIA_RECV, (size_t)(rp - m->buf), 0, sipd_str_c(text), 1,
				      -1, NULL);
		if (err)
			return err;
	}
	/* RFC 3581 4: with rport, received is added even when the host matches */
	if (v.rport || !same_ip(v.host, ip)) {
		if (v.received.len) {
			if (!sipd_str_eq(v.received, sipd_str_c(ip)))
				err =
				    parser_edit_add(pm, PARSER_EDIT_VIA_RECV, (size_t)(v.received.p - m->buf),
						    v.received.len, sipd_str_c(ip), 2, -1, NULL);
		} else {
			memcpy(text, ";received=", 10);
			memcpy(text + 10, ip, strlen(ip) + 1);
			err = parser_edit_add(pm, PARSER_EDIT_VIA_RECV,
					      (size_t)(v.value.p + v.value.len - m->buf), 0, sipd_str_c(text),
					      2, -1, NULL);
		}
	}
	if (!err)
		pm->via_marked = true;
	return err;
}
