/* Header helpers for relaying: splitting comma lists, popping the top Via, prepending Route/Record-Route. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_int.h"

void tm_hdr_split(struct sipd_str v, struct sipd_str *first, struct sipd_str *rest)
{
	bool quoted = false, angle = false;
	size_t i;

	for (i = 0; i < v.len; i++) {
		char ch = v.p[i];

		if (quoted) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				quoted = false;
		} else if (ch == '"') {
			quoted = true;
		} else if (ch == '<') {
			angle = true;
		} else if (ch == '>') {
			angle = false;
		} else if (ch == ',' && !angle) {
			break;
		}
	}
	if (i > v.len)
		i = v.len;
	*first = (struct sipd_str){v.p, i};
	*rest = SIPD_STR_NULL;
	if (i < v.len) {
		size_t j = i + 1;

		while (j < v.len && (v.p[j] == ' ' || v.p[j] == '\t' || v.p[j] == '\r' || v.p[j] == '\n'))
			j++;
		*rest = (struct sipd_str){v.p + j, v.len - j};
	}
}

int tm_via_pop(struct sipd_msg *m)
{
	struct sipd_str first, rest;

	if (!m->h_via)
		return EBADMSG;
	tm_hdr_split(m->h_via->value, &first, &rest);
	if (!rest.len)
		return m->ops->hdr_remove(m, m->h_via);
	return m->ops->hdr_replace(m, m->h_via, rest);
}

int tm_hdr_prepend(struct sipd_msg *m, struct sipd_hdr *first, struct sipd_str name, struct sipd_str value)
{
	char *p;

	if (!first)
		return m->ops->hdr_append(m, name, value);
	/* Same line, in front: the order of Route/Record-Route values is what counts. */
	if (!(p = sipd_msg_alloc(m, value.len + 2 + first->value.len)))
		return ENOMEM;
	memcpy(p, value.p, value.len);
	memcpy(p + value.len, ", ", 2);
	memcpy(p + value.len + 2, first->value.p, first->value.len);
	return m->ops->hdr_replace(m, first, (struct sipd_str){p, value.len + 2 + first->value.len});
}

/*
 * RFC 3261 18.3, 20.14: optional over UDP, but on a stream the receiver finds
 * the end of the message only by it; a peer may drop the connection over a
 * message without one (libre does), taking the dialog's only path with it.
 * WebSocket frames delimit messages themselves (RFC 7118).
 */
int tm_hdr_frame(struct sipd_msg *m, enum sipd_proto proto)
{
	char num[24];

	if ((proto != SIPD_PROTO_TCP && proto != SIPD_PROTO_TLS) || m->h_content_length)
		return 0;
	snprintf(num, sizeof(num), "%zu", m->body.len);
	return m->ops->hdr_append(m, SIPD_STR("Content-Length"), sipd_str_c(num));
}

char *tm_strndup(struct sipd_str s)
{
	char *p = malloc(s.len + 1);

	if (p) {
		memcpy(p, s.p, s.len);
		p[s.len] = '\0';
	}
	return p;
}
