/* First pass: start line, header lines (unfolded, classified), body; stream framing. */
#include <errno.h>
#include <string.h>

#include "parser_int.h"

#define HDRS_INITIAL 32

static bool is_stream(const struct parser_msg *pm)
{
	return pm->has_rcv && (pm->rcv.proto == SIPD_PROTO_TCP || pm->rcv.proto == SIPD_PROTO_TLS);
}

static int status_line(struct sipd_msg *m, const char *s, const char *e, const char **why)
{
	const char *p = s;
	int code = 0, i;

	while (p < e && *p != ' ')
		p++;
	m->version = (struct sipd_str){s, (size_t)(p - s)};
	while (p < e && *p == ' ')
		p++;
	for (i = 0; i < 3; i++, p++) {
		if (p >= e || !parser_is(*p, PARSER_C_DIGIT)) {
			*why = "Malformed status line";
			return EBADMSG;
		}
		code = code * 10 + (*p - '0');
	}
	if ((p < e && *p != ' ') || code < 100 || code > 699) {
		*why = "Malformed status line";
		return EBADMSG;
	}
	m->is_request = false;
	m->status = code;
	m->reason = parser_trim((struct sipd_str){p, (size_t)(e - p)});
	return 0;
}

/*
 * Method SP Request-URI SP SIP-Version (RFC 3261 7.1). A line that still splits into a method, a URI and a
 * final SIP/x.y but is spaced otherwise (several SP, trailing white space, white space inside the URI:
 * RFC 4475 3.1.2.8-10) parses, flagged for check_request to answer 400; anything else is dropped.
 */
static int request_line(struct parser_msg *pm, const char *s, const char *e, const char **why)
{
	struct sipd_msg *m = &pm->pub;
	struct parser_cur c = {s, e};
	const char *u, *v, *v_end = e;
	bool loose = false;

	m->method = parser_take(&c, PARSER_C_TOKEN);
	if (m->method.len == 0 || c.p >= c.e || *c.p != ' ')
		goto bad;
	c.p++;
	while (c.p < c.e && (*c.p == ' ' || *c.p == '\t')) {
		c.p++;
		loose = true;
	}
	u = c.p;
	while (c.p < c.e && *c.p != ' ' && *c.p != '\t')
		c.p++;
	m->ruri = (struct sipd_str){u, (size_t)(c.p - u)};
	if (m->ruri.len == 0 || c.p >= c.e)
		goto bad;
	if (m->ruri.len > (size_t)parser_limits.max_uri_length) {
		*why = "Request-URI too long";
		return EMSGSIZE;
	}
	while (v_end > c.p && (v_end[-1] == ' ' || v_end[-1] == '\t')) {
		v_end--;
		loose = true;
	}
	for (v = v_end; v > c.p && v[-1] != ' ' && v[-1] != '\t'; v--)
		;
	if (v == c.p)
		goto bad;
	/* Exactly one SP between the URI and the version: more, or words between them, is loose. */
	if (v != c.p + 1 || *c.p != ' ')
		loose = true;
	m->version = (struct sipd_str){v, (size_t)(v_end - v)};
	/* Anything but SIP/x.y is not ours; other SIP versions get a 505 later. */
	if (m->version.len < 5 || strncasecmp(m->version.p, "SIP/", 4) != 0)
		goto bad;
	pm->loose_start_line = loose;
	m->is_request = true;
	m->method_id = sipd_method_of(m->method);
	return 0;
bad:
	*why = "Malformed request line";
	return EBADMSG;
}

static void set_shortcut(struct sipd_msg *m, struct sipd_hdr *h)
{
	struct sipd_hdr **slot;

	switch (h->type) {
	case SIPD_HDR_VIA:
		slot = &m->h_via;
		break;
	case SIPD_HDR_FROM:
		slot = &m->h_from;
		break;
	case SIPD_HDR_TO:
		slot = &m->h_to;
		break;
	case SIPD_HDR_CALL_ID:
		slot = &m->h_call_id;
		break;
	case SIPD_HDR_CSEQ:
		slot = &m->h_cseq;
		break;
	case SIPD_HDR_CONTACT:
		slot = &m->h_contact;
		break;
	case SIPD_HDR_MAX_FORWARDS:
		slot = &m->h_max_forwards;
		break;
	case SIPD_HDR_EXPIRES:
		slot = &m->h_expires;
		break;
	case SIPD_HDR_CONTENT_LENGTH:
		slot = &m->h_content_length;
		break;
	case SIPD_HDR_CONTENT_TYPE:
		slot = &m->h_content_type;
		break;
	case SIPD_HDR_ROUTE:
		slot = &m->h_route;
		break;
	case SIPD_HDR_RECORD_ROUTE:
		slot = &m->h_record_route;
		break;
	case SIPD_HDR_AUTHORIZATION:
		slot = &m->h_authorization;
		break;
	case SIPD_HDR_PROXY_AUTHORIZATION:
		slot = &m->h_proxy_authorization;
		break;
	case SIPD_HDR_SESSION_EXPIRES:
		slot = &m->h_session_expires;
		break;
	case SIPD_HDR_MIN_SE:
		slot = &m->h_min_se;
		break;
	case SIPD_HDR_SUPPORTED:
		slot = &m->h_supported;
		break;
	case SIPD_HDR_REQUIRE:
		slot = &m->h_require;
		break;
	case SIPD_HDR_USER_AGENT:
		slot = &m->h_user_agent;
		break;
	default:
		return;
	}
	if (!*slot)
		*slot = h;
}

/* End of the line at p: *le before CR LF, returns the start of the next line. */
static const char *line_end(const char *p, const char *end, const char **le)
{
	const char *eol = memchr(p, '\n', (size_t)(end - p));
	const char *l = eol ? eol : end;

	if (l > p && l[-1] == '\r')
		l--;
	*le = l;
	return eol ? eol + 1 : end;
}

static struct sipd_hdr *new_header(struct parser_msg *pm, unsigned *cap)
{
	struct sipd_msg *m = &pm->pub;
	struct sipd_hdr *n;

	if (m->hdr_count == *cap) {
		/* doubling keeps the copies linear in the header count */
		n = parser_arena_alloc(&pm->arena, sizeof(*n) * *cap * 2);
		if (!n)
			return NULL;
		memcpy(n, m->hdrs, sizeof(*n) * *cap);
		m->hdrs = n;
		*cap *= 2;
	}
	n = &m->hdrs[m->hdr_count++];
	memset(n, 0, sizeof(*n));
	return n;
}

/* A NUL byte inside a value leaves a request answerable (sanity() says 400 with the header's name) unless it
 * is in a Via, which says where that answer would go. */
static int note_nul(struct parser_msg *pm, const struct sipd_hdr *h, const char **why)
{
	if (h->type == SIPD_HDR_VIA) {
		*why = "NUL byte in Via header";
		return EBADMSG;
	}
	if (!pm->nul_hdr)
		pm->nul_hdr = (unsigned)(h - pm->pub.hdrs) + 1;
	return 0;
}

static int header_lines(struct parser_msg *pm, const char *p, const char **why)
{
	struct sipd_msg *m = &pm->pub;
	const char *buf = m->buf, *end = buf + m->len, *next, *le, *q, *t;
	struct sipd_hdr *cur = NULL;
	unsigned cap = HDRS_INITIAL;
	bool last_lf = true, nul;
	int err;

	m->hdrs = parser_arena_alloc(&pm->arena, sizeof(*m->hdrs) * cap);
	if (!m->hdrs)
		return ENOMEM;
	for (;;) {
		if (p >= end) {
			pm->hdr_end = (size_t)(end - buf);
			pm->body_off = pm->hdr_end;
			pm->term_missing = last_lf ? 1 : 2;
			return 0;
		}
		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
			pm->hdr_end = (size_t)(p - buf);
			pm->body_off = pm->hdr_end + (*p == '\n' ? 1 : 2);
			return 0;
		}
		next = line_end(p, end, &le);
		last_lf = next > buf && next[-1] == '\n';
		if (le - p > parser_limits.max_line_length) {
			*why = "Header line too long";
			return EMSGSIZE;
		}
		nul = memchr(p, '\0', (size_t)(le - p)) &&
		      parser_nul_unquoted((struct sipd_str){p, (size_t)(le - p)});
		t = le;
		while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
			t--;
		if (*p == ' ' || *p == '\t') {
			/* folded continuation (RFC 3261 7.3.1): the value grows, line too */
			if (!cur) {
				*why = "Continuation line before any header";
				return EBADMSG;
			}
			q = p;
			while (q < t && (*q == ' ' || *q == '\t'))
				q++;
			/* a continuation of only white space adds nothing: the value keeps its end */
			if (q < t) {
				if (cur->value.len == 0)
					cur->value.p = q;
				cur->value.len = (size_t)(t - cur->value.p);
			}
			cur->line.len = (size_t)(next - cur->line.p);
			if (nul && (err = note_nul(pm, cur, why)))
				return err;
			p = next;
			continue;
		}
		if (m->hdr_count >= (unsigned)parser_limits.max_headers) {
			*why = "Too many headers";
			return EMSGSIZE;
		}
		cur = new_header(pm, &cap);
		if (!cur)
			return ENOMEM;
		q = p;
		while (q < le && parser_is(*q, PARSER_C_TOKEN))
			q++;
		cur->name = (struct sipd_str){p, (size_t)(q - p)};
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		if (cur->name.len == 0 || q >= le || *q != ':') {
			*why = "Malformed header line";
			return EBADMSG;
		}
		q++;
		while (q < le && (*q == ' ' || *q == '\t'))
			q++;
		cur->value = (struct sipd_str){q, t > q ? (size_t)(t - q) : 0};
		cur->line = (struct sipd_str){p, (size_t)(next - p)};
		cur->type = sipd_hdr_type_of(cur->name);
		if (nul && (err = note_nul(pm, cur, why)))
			return err;
		p = next;
	}
}

int parser_scan(struct parser_msg *pm, const char **why)
{
	struct sipd_msg *m = &pm->pub;
	const char *buf = m->buf, *end = buf + m->len, *p = buf, *le, *next;
	uint32_t cl;
	unsigned i;
	int err;

	if (m->len > (size_t)parser_limits.max_message_size) {
		*why = "Message too large";
		return EMSGSIZE;
	}
	/* RFC 3261 7.5: CRLFs before the start line are ignored */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	if (p == end) {
		*why = "Empty message";
		return EBADMSG;
	}
	next = line_end(p, end, &le);
	if (next == end && (next == buf || next[-1] != '\n')) {
		*why = "No end of start line";
		return EBADMSG;
	}
	if (le - p > parser_limits.max_line_length) {
		*why = "Start line too long";
		return EMSGSIZE;
	}
	if (memchr(p, '\0', (size_t)(le - p))) {
		*why = "NUL byte in start line";
		return EBADMSG;
	}
	if (le - p >= 4 && strncasecmp(p, "SIP/", 4) == 0)
		err = status_line(m, p, le, why);
	else
		err = request_line(pm, p, le, why);
	if (err)
		return err;
	pm->hdrs_off = (size_t)(next - buf);
	err = header_lines(pm, next, why);
	if (err)
		return err;
	/* Nobody answers a response: one carrying a NUL byte goes no further. */
	if (pm->nul_hdr && !m->is_request) {
		*why = "NUL byte in header";
		return EBADMSG;
	}
	if (pm->term_missing && is_stream(pm)) {
		*why = "Unterminated header block";
		return EBADMSG;
	}
	for (i = 0; i < m->hdr_count; i++)
		set_shortcut(m, &m->hdrs[i]);
	if (m->h_call_id)
		m->call_id = m->h_call_id->value;
	m->body = (struct sipd_str){buf + pm->body_off, m->len - pm->body_off};
	/* A larger Content-Length is kept for check_request to answer 400. */
	if (m->h_content_length && parser_uint(&cl, m->h_content_length->value, UINT32_MAX) == 0 &&
	    cl < m->body.len)
		m->body.len = cl;
	return 0;
}

long parser_frame_length(const char *buf, size_t len, size_t max_size, const char **why)
{
	const char *p = buf, *end = buf + len, *le, *next, *cl_start = NULL, *cl_end = NULL, *q;
	bool start_line = true, in_cl = false;
	size_t head;
	uint32_t cl;

	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	for (;;) {
		if (!memchr(p, '\n', (size_t)(end - p))) {
			if (len > max_size) {
				*why = "Message too large";
				return -1;
			}
			return 0;
		}
		next = line_end(p, end, &le);
		if (le == p)
			break;
		if (start_line) {
			start_line = false;
		} else if (*p == ' ' || *p == '\t') {
			if (in_cl)
				cl_end = le;
		} else {
			q = p;
			while (q < le && parser_is(*q, PARSER_C_TOKEN))
				q++;
			in_cl = !cl_start && sipd_hdr_type_of((struct sipd_str){p, (size_t)(q - p)}) ==
						 SIPD_HDR_CONTENT_LENGTH;
			if (in_cl) {
				while (q < le && (*q == ' ' || *q == '\t'))
					q++;
				if (q >= le || *q != ':') {
					*why = "Malformed Content-Length header";
					return -1;
				}
				cl_start = q + 1;
				cl_end = le;
			}
		}
		p = next;
	}
	head = (size_t)(next - buf);
	if (!cl_start) {
		*why = "Missing Content-Length header";
		return -1;
	}
	if (parser_uint(&cl, (struct sipd_str){cl_start, (size_t)(cl_end - cl_start)}, UINT32_MAX)) {
		*why = "Malformed Content-Length header";
		return -1;
	}
	if (head + cl > max_size) {
		*why = "Message too large";
		return -1;
	}
	return head + cl <= len ? (long)(head + cl) : 0;
}
