/* The RFC 3261 request checks behind sanity(): one status and reason per problem. */
#include <errno.h>
#include <stdio.h>

#include <sipd/core.h>

#include "parser_int.h"

struct required {
	enum sipd_hdr_type type;
	const char *missing, *malformed, *duplicate;
};

static const struct required required[] = {
    {SIPD_HDR_FROM, "Missing From header", "Malformed From header", "Duplicate From header"},
    {SIPD_HDR_TO, "Missing To header", "Malformed To header", "Duplicate To header"},
    {SIPD_HDR_CALL_ID, "Missing Call-ID header", "Malformed Call-ID header", "Duplicate Call-ID header"},
    {SIPD_HDR_CSEQ, "Missing CSeq header", "Malformed CSeq header", "Duplicate CSeq header"},
};

static struct sipd_hdr *first_of(struct sipd_msg *m, enum sipd_hdr_type type)
{
	unsigned i;

	for (i = 0; i < m->hdr_count; i++)
		if (m->hdrs[i].type == type)
			return &m->hdrs[i];
	return NULL;
}

/* 0, or 420 with *bad naming the first option tag nobody here supports. */
static int check_tags(struct sipd_msg *m, enum sipd_hdr_type type, const char **reason, struct sipd_str *bad,
		      const char *malformed)
{
	struct sipd_hdr *h = first_of(m, type);
	const struct sipd_tokens *t;
	unsigned i;

	if (!h)
		return 0;
	if (sipd_msg_hdr(m, h, (const void **)&t)) {
		*reason = malformed;
		return 400;
	}
	for (i = 0; i < t->count; i++) {
		if (!sipd_option_supported(t->items[i])) {
			*bad = t->items[i];
			*reason = "Bad Extension";
			return 420;
		}
	}
	return 0;
}

static int check_required(struct sipd_msg *m, const char **reason)
{
	struct sipd_hdr *h, *dup;
	const void *v;
	size_t i;

	for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		h = first_of(m, required[i].type);
		if (!h) {
			*reason = required[i].missing;
			return 400;
		}
		if (sipd_msg_hdr(m, h, &v)) {
			*reason = required[i].malformed;
			return 400;
		}
		dup = sipd_msg_hdr_next(m, h);
		if (dup && !sipd_str_eq(dup->value, h->value)) {
			*reason = required[i].duplicate;
			return 400;
		}
	}
	return 0;
}

static int check_length(struct parser_msg *pm, const char **reason)
{
	struct sipd_msg *m = &pm->pub;
	const uint32_t *cl;
	struct sipd_hdr *dup;

	if (!m->h_content_length) {
		if (pm->has_rcv && (pm->rcv.proto == SIPD_PROTO_TCP || pm->rcv.proto == SIPD_PROTO_TLS)) {
			*reason = "Missing Content-Length header";
			return 400;
		}
		return 0;
	}
	if (sipd_msg_hdr(m, m->h_content_length, (const void **)&cl)) {
		*reason = "Malformed Content-Length header";
		return 400;
	}
	dup = sipd_msg_hdr_next(m, m->h_content_length);
	if (dup && !sipd_str_eq(dup->value, m->h_content_length->value)) {
		*reason = "Duplicate Content-Length header";
		return 400;
	}
	if (*cl > m->len - pm->body_off) {
		*reason = "Content-Length larger than body";
		return 400;
	}
	return 0;
}

static int check_optional(struct sipd_msg *m, const char **reason)
{
	static const struct {
		enum sipd_hdr_type type;
		const char *malformed;
	} optional[] = {
	    {SIPD_HDR_MAX_FORWARDS, "Malformed Max-Forwards header"},
	    {SIPD_HDR_EXPIRES, "Malformed Expires header"},
	    {SIPD_HDR_CONTACT, "Malformed Contact header"},
	};
	struct sipd_hdr *h;
	const void *v;
	size_t i;

	for (i = 0; i < sizeof(optional) / sizeof(optional[0]); i++) {
		h = first_of(m, optional[i].type);
		if (h && sipd_msg_hdr(m, h, &v)) {
			*reason = optional[i].malformed;
			return 400;
		}
	}
	return 0;
}

/* "NUL byte in <name> header", kept in the message's arena for as long as the reply needs it. */
static const char *nul_reason(struct parser_msg *pm)
{
	const struct sipd_hdr *h = &pm->pub.hdrs[pm->nul_hdr - 1];
	int name_len = h->name.len > 64 ? 64 : (int)h->name.len;
	size_t n = (size_t)name_len + sizeof("NUL byte in  header");
	char *r = parser_arena_alloc(&pm->arena, n);

	if (!r)
		return "NUL byte in header";
	snprintf(r, n, "NUL byte in %.*s header", name_len, h->name.p);
	return r;
}

int parser_check_request(struct sipd_msg *m, const char **reason, struct sipd_str *unsupported)
{
	struct parser_msg *pm = parser_msg_of(m);
	const struct sipd_cseq *cseq;
	const struct sipd_uri *ruri;
	struct sipd_str ignored_tag;
	const char *ignored;
	struct sipd_via v;
	const void *vias;
	int code, err;

	if (!reason)
		reason = &ignored;
	if (!unsupported)
		unsupported = &ignored_tag;
	*reason = NULL;
	*unsupported = SIPD_STR_NULL;
	if (!m->is_request) {
		*reason = "Not a request";
		return -1;
	}
	/* without a top Via nobody knows where an answer would go */
	if (!m->h_via || parser_via_top(pm, &v)) {
		*reason = m->h_via ? "Malformed Via header" : "Missing Via header";
		return -1;
	}
	if (pm->nul_hdr) {
		*reason = nul_reason(pm);
		return 400;
	}
	if (pm->loose_start_line) {
		*reason = "Malformed request line";
		return 400;
	}
	if (!sipd_str_caseeq_c(m->version, "SIP/2.0")) {
		*reason = "Version Not Supported";
		return 505;
	}
	err = sipd_msg_ruri(m, &ruri);
	if (err) {
		/* RFC 3261 8.2.2.1: a scheme we do not know gets 416, not 400 */
		*reason = err == EPROTONOSUPPORT ? "Unsupported URI Scheme" : "Malformed Request-URI";
		return err == EPROTONOSUPPORT ? 416 : 400;
	}
	/* RFC 3261 19.1.1: headers are not allowed in a Request-URI (RFC 4475 3.1.2.11 lets us refuse them)
	 */
	if (ruri->headers.len) {
		*reason = "Request-URI with headers";
		return 400;
	}
	if (sipd_msg_hdr(m, m->h_via, &vias)) {
		*reason = "Malformed Via header";
		return 400;
	}
	code = check_required(m, reason);
	if (code)
		return code;
	if (sipd_msg_cseq(m, &cseq)) {
		*reason = "Malformed CSeq header";
		return 400;
	}
	if (!sipd_str_eq(cseq->method, m->method)) {
		*reason = "CSeq method does not match request method";
		return 400;
	}
	if (cseq->number >= 0x80000000u) {
		/* RFC 3261 8.1.1.5: less than 2**31 */
		*reason = "Malformed CSeq header";
		return 400;
	}
	code = check_length(pm, reason);
	if (!code)
		code = check_optional(m, reason);
	if (code)
		return code;
	/* RFC 3261 8.2.2.3: Require does not apply to ACK and CANCEL */
	if (m->method_id != SIPD_METHOD_ACK && m->method_id != SIPD_METHOD_CANCEL) {
		code = check_tags(m, SIPD_HDR_REQUIRE, reason, unsupported, "Malformed Require header");
		if (code)
			return code;
	}
	return check_tags(m, SIPD_HDR_PROXY_REQUIRE, reason, unsupported, "Malformed Proxy-Require header");
}
