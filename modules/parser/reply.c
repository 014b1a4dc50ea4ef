/* Responses built from a request per RFC 3261 8.2.6, with a To-tag stable across retransmissions. */
#include <errno.h>
#include <string.h>

#include <sipd/core.h>

#include "parser_int.h"

const char *parser_reason_phrase(int code)
{
	switch (code) {
	case 100:
		return "Trying";
	case 180:
		return "Ringing";
	case 181:
		return "Call Is Being Forwarded";
	case 182:
		return "Queued";
	case 183:
		return "Session Progress";
	case 200:
		return "OK";
	case 202:
		return "Accepted";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Moved Temporarily";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 407:
		return "Proxy Authentication Required";
	case 408:
		return "Request Timeout";
	case 410:
		return "Gone";
	case 413:
		return "Request Entity Too Large";
	case 414:
		return "Request-URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Unsupported URI Scheme";
	case 420:
		return "Bad Extension";
	case 421:
		return "Extension Required";
	case 422:
		return "Session Interval Too Small";
	case 423:
		return "Interval Too Brief";
	case 480:
		return "Temporarily Unavailable";
	case 481:
		return "Call/Transaction Does Not Exist";
	case 482:
		return "Loop Detected";
	case 483:
		return "Too Many Hops";
	case 484:
		return "Address Incomplete";
	case 486:
		return "Busy Here";
	case 487:
		return "Request Terminated";
	case 488:
		return "Not Acceptable Here";
	case 491:
		return "Request Pending";
	case 500:
		return "Server Internal Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Server Time-out";
	case 505:
		return "Version Not Supported";
	case 513:
		return "Message Too Large";
	case 600:
		return "Busy Everywhere";
	case 603:
		return "Decline";
	case 604:
		return "Does Not Exist Anywhere";
	case 606:
		return "Not Acceptable";
	}
	if (code >= 100 && code < 200)
		return "Provisional";
	if (code < 300)
		return "Success";
	if (code < 400)
		return "Redirection";
	if (code < 500)
		return "Client Error";
	return code < 600 ? "Server Error" : "Global Failure";
}

struct out_buf {
	char *p;
	size_t len, cap;
};

static void put(struct out_buf *b, struct sipd_str s)
{
	if (s.len && b->len + s.len <= b->cap) {
		memcpy(b->p + b->len, s.p, s.len);
		b->len += s.len;
	}
}

static void put_c(struct out_buf *b, const char *s)
{
	put(b, sipd_str_c(s));
}

static uint64_t fnv1a(uint64_t h, struct sipd_str s)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		h ^= (unsigned char)s.p[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ 0xff; /* separates "ab","c" from "a","bc" */
}

/* Same request, same tag: retransmissions get the response they got before. */
static void to_tag(struct parser_msg *pm, char out[17])
{
	static const char digits[] = "0123456789abcdef";
	struct sipd_msg *m = &pm->pub;
	const struct sipd_nameaddr *from;
	struct sipd_via v;
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fnv1a(h, m->call_id);
	if (sipd_msg_from(m, &from) == 0)
		h = fnv1a(h, from->tag);
	else if (m->h_from)
		h = fnv1a(h, m->h_from->value);
	if (parser_via_top(pm, &v) == 0 && v.branch.len)
		h = fnv1a(h, v.branch);
	else if (m->h_via)
		h = fnv1a(h, m->h_via->value);
	if (m->h_cseq)
		h = fnv1a(h, m->h_cseq->value);
	for (int i = 15; i >= 0; i--, h >>= 4)
		out[i] = digits[h & 15];
	out[16] = '\0';
}

static bool needs_tag(struct sipd_msg *m, int code)
{
	const struct sipd_nameaddr *to;

	if (code == 100 || !m->h_to)
		return false;
	return sipd_msg_to(m, &to) == 0 && to->tag.len == 0;
}

static void put_header(struct out_buf *b, const char *name, const struct sipd_hdr *h)
{
	if (!h)
		return;
	put_c(b, name);
	put(b, h->value);
	put_c(b, "\r\n");
}

int parser_reply_build(struct sipd_msg *m, int code, struct sipd_str reason, struct sipd_str extra_headers,
		       struct sipd_str content_type, struct sipd_str body, struct sipd_str *out)
{
	struct parser_msg *pm = parser_msg_of(m);
	struct sipd_hdr *ts = NULL;
	struct out_buf b = {0};
	size_t via_start = 0, via_end = 0, via_len = 0, i, n;
	char line[SIPD_UTOA_MAX + 1], tag[17];

	if (!m->is_request || code < 100 || code > 699 || (body.len && !body.p) ||
	    (extra_headers.len && !extra_headers.p) || (content_type.len && !content_type.p))
		return EINVAL;
	if (reason.len == 0)
		reason = sipd_str_c(parser_reason_phrase(code));
	if (memchr(reason.p, '\r', reason.len) || memchr(reason.p, '\n', reason.len) ||
	    memchr(content_type.p ? content_type.p : "", '\n', content_type.len))
		return EINVAL;
	/* the reply goes where the request came from: received/rport on the top Via */
	(void)parser_via_mark_received(m);
	if (code == 100)
		ts = sipd_msg_hdr_find(m, SIPD_STR("Timestamp"));
	b.cap =
	    256 + reason.len + extra_headers.len + content_type.len + body.len + strlen(sipd_server_name());
	for (i = 0; i < m->hdr_count; i++)
		b.cap += m->hdrs[i].value.len + 24;
	if (m->h_via) {
		via_start = (size_t)(m->h_via->value.p - m->buf);
		via_end = via_start + m->h_via->value.len;
		via_len = parser_render_range(pm, via_start, via_end, PARSER_EDIT_VIA_RECV, NULL);
		if (via_len == (size_t)-1)
			return ENOMEM;
		b.cap += via_len;
	}
	b.p = parser_arena_alloc(&pm->arena, b.cap);
	if (!b.p)
		return ENOMEM;
	put_c(&b, "SIP/2.0 ");
	n = sipd_utoa(line, (uint64_t)code);
	line[n++] = ' ';
	put(&b, (struct sipd_str){line, n});
	put(&b, reason);
	put_c(&b, "\r\n");
	for (i = 0; i < m->hdr_count; i++) {
		if (m->hdrs[i].type != SIPD_HDR_VIA)
			continue;
		if (&m->hdrs[i] != m->h_via) {
			put_header(&b, "Via: ", &m->hdrs[i]);
			continue;
		}
		put_c(&b, "Via: ");
		parser_render_range(pm, via_start, via_end, PARSER_EDIT_VIA_RECV, b.p + b.len);
		b.len += via_len;
		put_c(&b, "\r\n");
	}
	put_header(&b, "From: ", m->h_from);
	if (m->h_to) {
		put_c(&b, "To: ");
		put(&b, m->h_to->value);
		if (needs_tag(m, code)) {
			to_tag(pm, tag);
			put_c(&b, ";tag=");
			put_c(&b, tag);
		}
		put_c(&b, "\r\n");
	}
	put_header(&b, "Call-ID: ", m->h_call_id);
	put_header(&b, "CSeq: ", m->h_cseq);
	put_header(&b, "Timestamp: ", ts);
	put_c(&b, "Server: ");
	put_c(&b, sipd_server_name());
	put_c(&b, "\r\n");
	put(&b, extra_headers);
	if (extra_headers.len && extra_headers.p[extra_headers.len - 1] != '\n')
		put_c(&b, "\r\n");
	if (content_type.len) {
		put_c(&b, "Content-Type: ");
		put(&b, content_type);
		put_c(&b, "\r\n");
	}
	put_c(&b, "Content-Length: ");
	put(&b, (struct sipd_str){line, sipd_utoa(line, body.len)});
	put_c(&b, "\r\n\r\n");
	put(&b, body);
	*out = (struct sipd_str){b.p, b.len};
	return 0;
}
