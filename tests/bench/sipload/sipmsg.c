/* sipload SIP parsing: just the headers a UAC and a UAS need, as slices into the receive buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sipload.h"

size_t sl_u32toa(char *dst, uint32_t v)
{
	char tmp[10];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	return n;
}

static bool name_is(const char *p, size_t n, const char *full, char compact)
{
	size_t fl = strlen(full);

	if (n == 1 && compact && (p[0] | 0x20) == compact)
		return true;
	return n == fl && strncasecmp(p, full, n) == 0;
}

/* Length of the first complete message on a stream (headers + Content-Length), 0 if not all here. */
size_t sl_frame_sip(const char *p, size_t len)
{
	const char *end = memmem(p, len, "\r\n\r\n", 4), *l, *e;
	size_t hlen, clen = 0;

	if (!end)
		return 0;
	hlen = (size_t)(end - p) + 4;
	for (l = p; l < end; l = e + 2) {
		const char *colon;

		e = memmem(l, (size_t)(end + 2 - l), "\r\n", 2);
		colon = memchr(l, ':', (size_t)(e - l));
		if (!colon)
			continue;
		size_t n = (size_t)(colon - l);

		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		if (name_is(l, n, "content-length", 'l')) {
			clen = strtoul(colon + 1, NULL, 10);
			break;
		}
	}
	return hlen + clen <= len ? hlen + clen : 0;
}

static struct sl_str trim(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return (struct sl_str){p, (size_t)(e - p)};
}

/* Record-Route values of one line, split at commas outside <...>. */
static void split_rr(struct sl_msg *m, const char *p, const char *e)
{
	const char *s = p;
	int angle = 0;

	for (; p <= e; p++) {
		if (p < e && *p == '<')
			angle = 1;
		else if (p < e && *p == '>')
			angle = 0;
		if (p == e || (*p == ',' && !angle)) {
			if (m->n_rr < SL_MAX_RR)
				m->rr[m->n_rr++] = trim(s, p);
			s = p + 1;
		}
	}
}

static void header(struct sl_msg *m, const char *l, const char *e, size_t n, const char *v)
{
	bool copy = false;

	if (name_is(l, n, "via", 'v') || name_is(l, n, "from", 'f')) {
		copy = true;
	} else if (name_is(l, n, "to", 't')) {
		copy = true;
		m->to_line = (struct sl_str){l, (size_t)(e - l)};
		m->to_has_tag = memmem(v, (size_t)(e - v), "tag=", 4) != NULL;
	} else if (name_is(l, n, "call-id", 'i')) {
		copy = true;
		m->call_id = trim(v, e);
	} else if (name_is(l, n, "cseq", 0)) {
		struct sl_str cs = trim(v, e);
		const char *sp = memchr(cs.p, ' ', cs.len);

		copy = true;
		if (sp)
			m->cseq_method = trim(sp + 1, cs.p + cs.len);
	} else if (name_is(l, n, "record-route", 0)) {
		copy = true;
		split_rr(m, v, e);
	} else if (name_is(l, n, "contact", 'm') && !m->contact_uri.p) {
		const char *a = memchr(v, '<', (size_t)(e - v)), *b;

		if (a && (b = memchr(a, '>', (size_t)(e - a))))
			m->contact_uri = (struct sl_str){a + 1, (size_t)(b - a - 1)};
		else
			m->contact_uri = trim(v, e);
	}
	if (copy && m->n_copy < sizeof(m->copy) / sizeof(m->copy[0]))
		m->copy[m->n_copy++] = (struct sl_str){l, (size_t)(e - l)};
}

int sl_msg_parse(struct sl_msg *m, const char *p, size_t len)
{
	const char *end = memmem(p, len, "\r\n\r\n", 4), *l, *e, *colon;
	size_t n;

	memset(m, 0, sizeof(*m));
	if (!end)
		return EBADMSG;
	m->p = p;
	m->len = len;
	e = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
	if (len > 12 && memcmp(p, "SIP/2.0 ", 8) == 0) {
		m->status = atoi(p + 8);
	} else {
		const char *sp = memchr(p, ' ', (size_t)(e - p));

		if (!sp)
			return EBADMSG;
		m->method = (struct sl_str){p, (size_t)(sp - p)};
	}
	for (l = e + 2; l < end + 2; l = e + 2) {
		e = memmem(l, (size_t)(end + 2 - l), "\r\n", 2);
		colon = memchr(l, ':', (size_t)(e - l));
		if (!colon)
			continue;
		n = (size_t)(colon - l);
		while (n && (l[n - 1] == ' ' || l[n - 1] == '\t'))
			n--;
		header(m, l, e, n, colon + 1);
	}
	return m->call_id.p && m->cseq_method.p ? 0 : EBADMSG;
}
