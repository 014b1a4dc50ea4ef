/* A hand-built SIP message with its own struct sipd_msg_ops, for script tests (no parser module). */
#ifndef FAKE_MSG_H
#define FAKE_MSG_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/msg.h>
#include <sipd/transport.h>

#define FAKE_MAX_HDRS 32

struct fake_chunk {
	struct fake_chunk *next;
	char data[];
};

struct fake_msg {
	struct sipd_msg m;
	struct sipd_hdr hdrs[FAKE_MAX_HDRS];
	struct sipd_nameaddr from, to;
	struct sipd_cseq cseq;
	struct sipd_via via;
	struct sipd_rcvinfo rcv;
	struct fake_chunk *chunks;
	struct sipd_str cur_ruri;
	/* What the script did to the message. */
	unsigned appended, removed, ruri_sets;
	struct sipd_str last_name, last_value;
	char text[4096];
};

static inline void *fake_alloc(struct sipd_msg *m, size_t size)
{
	struct fake_msg *f = (struct fake_msg *)m;
	struct fake_chunk *c = calloc(1, sizeof(*c) + size + 1);
	if (!c)
		return NULL;
	c->next = f->chunks;
	f->chunks = c;
	return c->data;
}

/* "Name <sip:user@host:port>;tag=x" (or a bare URI) into na. */
static inline void fake_nameaddr(struct sipd_nameaddr *na, struct sipd_str v)
{
	const char *p = v.p, *end = v.p + v.len, *lt = memchr(p, '<', v.len), *uend;
	memset(na, 0, sizeof(*na));
	if (lt) {
		p = lt + 1;
		uend = memchr(p, '>', (size_t)(end - p));
	} else {
		uend = memchr(p, ';', (size_t)(end - p));
	}
	if (!uend)
		uend = end;
	na->uri.raw = (struct sipd_str){p, (size_t)(uend - p)};
	const char *colon = memchr(p, ':', (size_t)(uend - p));
	const char *host = colon ? colon + 1 : p;
	const char *at = memchr(host, '@', (size_t)(uend - host));
	if (at) {
		na->uri.user = (struct sipd_str){host, (size_t)(at - host)};
		host = at + 1;
	}
	const char *he = host;
	while (he < uend && *he != ':' && *he != ';')
		he++;
	na->uri.host = (struct sipd_str){host, (size_t)(he - host)};
	const char *tag = NULL;
	for (const char *q = uend; q + 5 <= end; q++)
		if (memcmp(q, ";tag=", 5) == 0)
			tag = q + 5;
	if (tag) {
		const char *te = tag;
		while (te < end && *te != ';')
			te++;
		na->tag = (struct sipd_str){tag, (size_t)(te - tag)};
	}
}

static inline int fake_hdr_parsed(struct sipd_msg *m, struct sipd_hdr *h, const void **out)
{
	struct fake_msg *f = (struct fake_msg *)m;
	switch (h->type) {
	case SIPD_HDR_FROM:
		fake_nameaddr(&f->from, h->value);
		*out = &f->from;
		return 0;
	case SIPD_HDR_TO:
		fake_nameaddr(&f->to, h->value);
		*out = &f->to;
		return 0;
	case SIPD_HDR_CSEQ: {
		char *end;
		f->cseq.number = (uint32_t)strtoul(h->value.p, &end, 10);
		while (*end == ' ')
			end++;
		size_t n = 0;
		while (end[n] && end[n] != '\r' && end[n] != '\n' && end[n] != ' ')
			n++;
		f->cseq.method = (struct sipd_str){end, n};
		f->cseq.method_id = sipd_method_of(f->cseq.method);
		*out = &f->cseq;
		return 0;
	}
	case SIPD_HDR_VIA:
		memset(&f->via, 0, sizeof(f->via));
		f->via.host = SIPD_STR("127.0.0.1");
		f->via.protocol = SIPD_STR("UDP");
		f->via.rport = true;
		*out = &f->via;
		return 0;
	default:
		return EBADMSG;
	}
}

static inline int fake_ruri_parsed(struct sipd_msg *m, const struct sipd_uri **out)
{
	return ENOTSUP;
}

static inline int fake_hdr_append(struct sipd_msg *m, struct sipd_str name, struct sipd_str value)
{
	struct fake_msg *f = (struct fake_msg *)m;
	f->appended++;
	f->last_name = name;
	f->last_value = value;
	return 0;
}

static inline int fake_hdr_remove(struct sipd_msg *m, struct sipd_hdr *h)
{
	((struct fake_msg *)m)->removed++;
	return 0;
}

static inline int fake_set_ruri(struct sipd_msg *m, struct sipd_str uri)
{
	struct fake_msg *f = (struct fake_msg *)m;
	f->cur_ruri = uri;
	f->ruri_sets++;
	return 0;
}

static inline struct sipd_str fake_current_ruri(struct sipd_msg *m)
{
	return ((struct fake_msg *)m)->cur_ruri;
}

static inline int fake_reply_build(struct sipd_msg *m, int code, struct sipd_str reason,
				   struct sipd_str extra, struct sipd_str ctype, struct sipd_str body,
				   struct sipd_str *out)
{
	size_t size = reason.len + extra.len + 32;
	char *p = fake_alloc(m, size);
	if (!p)
		return ENOMEM;
	int n =
	    snprintf(p, size, "SIP/2.0 %d %.*s\r\n%.*s\r\n", code, SIPD_STR_FMT(reason), SIPD_STR_FMT(extra));
	*out = (struct sipd_str){p, (size_t)n};
	return 0;
}

static const struct sipd_msg_ops fake_ops = {
    .hdr_parsed = fake_hdr_parsed,
    .ruri_parsed = fake_ruri_parsed,
    .alloc = fake_alloc,
    .hdr_append = fake_hdr_append,
    .hdr_remove = fake_hdr_remove,
    .set_ruri = fake_set_ruri,
    .current_ruri = fake_current_ruri,
    .reply_build = fake_reply_build,
};

static inline struct sipd_hdr **fake_slot(struct sipd_msg *m, enum sipd_hdr_type t)
{
	switch (t) {
	case SIPD_HDR_VIA:
		return &m->h_via;
	case SIPD_HDR_FROM:
		return &m->h_from;
	case SIPD_HDR_TO:
		return &m->h_to;
	case SIPD_HDR_CALL_ID:
		return &m->h_call_id;
	case SIPD_HDR_CSEQ:
		return &m->h_cseq;
	case SIPD_HDR_USER_AGENT:
		return &m->h_user_agent;
	case SIPD_HDR_MAX_FORWARDS:
		return &m->h_max_forwards;
	default:
		return NULL;
	}
}

/*
 * Builds a message from text with "\n" line ends: a request or status line,
 * then "Name: value" lines. Source 192.0.2.7:5070 over UDP.
 */
static inline struct fake_msg *fake_msg_new(const char *text)
{
	struct fake_msg *f = calloc(1, sizeof(*f));
	char *line, *save = NULL;

	snprintf(f->text, sizeof(f->text), "%s", text);
	f->m.ops = &fake_ops;
	f->m.buf = text;
	f->m.len = strlen(text);
	f->m.hdrs = f->hdrs;
	f->rcv.proto = SIPD_PROTO_UDP;
	f->rcv.src.sin.sin_family = AF_INET;
	f->rcv.src.sin.sin_port = htons(5070);
	inet_pton(AF_INET, "192.0.2.7", &f->rcv.src.sin.sin_addr);
	f->m.rcv = &f->rcv;

	line = strtok_r(f->text, "\n", &save);
	if (strncmp(line, "SIP/2.0 ", 8) == 0) {
		f->m.status = atoi(line + 8);
		f->m.reason = sipd_str_c(line + 12);
	} else {
		char *sp1 = strchr(line, ' '), *sp2 = strrchr(line, ' ');
		f->m.is_request = true;
		f->m.method = (struct sipd_str){line, (size_t)(sp1 - line)};
		f->m.method_id = sipd_method_of(f->m.method);
		f->m.ruri = (struct sipd_str){sp1 + 1, (size_t)(sp2 - sp1 - 1)};
		f->m.version = sipd_str_c(sp2 + 1);
		f->cur_ruri = f->m.ruri;
	}
	while ((line = strtok_r(NULL, "\n", &save)) && f->m.hdr_count < FAKE_MAX_HDRS) {
		char *colon = strchr(line, ':');
		char *v = colon + 1;
		while (*v == ' ')
			v++;
		struct sipd_hdr *h = &f->hdrs[f->m.hdr_count++];
		h->name = (struct sipd_str){line, (size_t)(colon - line)};
		h->value = sipd_str_c(v);
		h->line = sipd_str_c(line);
		h->type = sipd_hdr_type_of(h->name);
		struct sipd_hdr **slot = fake_slot(&f->m, h->type);
		if (slot && !*slot)
			*slot = h;
		if (h->type == SIPD_HDR_CALL_ID)
			f->m.call_id = h->value;
	}
	return f;
}

static inline void fake_msg_free(struct fake_msg *f)
{
	while (f->chunks) {
		struct fake_chunk *c = f->chunks;
		f->chunks = c->next;
		free(c);
	}
	free(f);
}

#define FAKE_INVITE                                                                                          \
	"INVITE sip:alice@example.com:5062;transport=udp SIP/2.0\n"                                          \
	"Via: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK1\n"                                                  \
	"From: \"Bob\" <sip:bob@biloxi.example.com>;tag=f1\n"                                                \
	"To: <sip:alice@example.com>\n"                                                                      \
	"Call-ID: call-1@biloxi\n"                                                                           \
	"CSeq: 314 INVITE\n"                                                                                 \
	"Max-Forwards: 70\n"                                                                                 \
	"User-Agent: test-ua/1.0\n"                                                                          \
	"X-Custom: hello\n"                                                                                  \
	"X-Custom: again\n"

#endif
