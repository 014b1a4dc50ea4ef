/* Lazy header parsing: each header is parsed on first access and cached in h->parsed. */
#include <errno.h>
#include <string.h>

#include "parser_int.h"

/* Cached failure, so a bad header is not parsed again on every access. */
static const char failed_mark;
#define FAILED ((const void *)&failed_mark)

/* A NUL byte (but in a quoted-pair) makes a value malformed: C strings made from it would cut it short. */
static bool has_nul(struct sipd_str v)
{
	return v.len && memchr(v.p, '\0', v.len) && parser_nul_unquoted(v);
}

static void mark_type(struct sipd_msg *m, enum sipd_hdr_type type, const void *v)
{
	unsigned i;

	for (i = 0; i < m->hdr_count; i++)
		if (m->hdrs[i].type == type)
			m->hdrs[i].parsed = v;
}

/*
 * Via, Contact, Route, Record-Route and Path: every line of the type is
 * parsed at once so the elements link through ->next across lines.
 */
static int parse_chain(struct parser_msg *pm, enum sipd_hdr_type type)
{
	struct sipd_msg *m = &pm->pub;
	struct sipd_via *vh, *vt, *vlast = NULL;
	struct sipd_nameaddr *nh, *nt, *nlast = NULL;
	unsigned i, flags = PARSER_NA_LIST;
	int err = 0;

	if (type == SIPD_HDR_CONTACT)
		flags |= PARSER_NA_STAR | PARSER_NA_CONTACT;
	for (i = 0; i < m->hdr_count; i++) {
		struct sipd_hdr *h = &m->hdrs[i];

		if (h->type != type)
			continue;
		if (has_nul(h->value)) {
			err = EBADMSG;
			break;
		}
		if (type == SIPD_HDR_VIA) {
			err = parser_via_list(&pm->arena, &vh, &vt, h->value);
			if (err)
				break;
			if (vlast)
				vlast->next = vh;
			vlast = vt;
			h->parsed = vh;
		} else {
			err = parser_nameaddr_list(&pm->arena, &nh, &nt, h->value, flags);
			if (err)
				break;
			/* a star stands alone in the whole request (RFC 3261 10.2.2) */
			if (nlast && (nh->star || nlast->star)) {
				err = EBADMSG;
				break;
			}
			if (nlast)
				nlast->next = nh;
			nlast = nt;
			h->parsed = nh;
		}
	}
	if (err)
		mark_type(m, type, err == ENOMEM ? NULL : FAILED);
	return err;
}

static unsigned count_items(struct sipd_str v)
{
	unsigned n = 1;
	size_t i;

	for (i = 0; i < v.len; i++)
		n += v.p[i] == ',';
	return n;
}

/* Option tags of all headers of one type in one list. */
static int parse_tokens(struct parser_msg *pm, enum sipd_hdr_type type)
{
	struct sipd_msg *m = &pm->pub;
	struct sipd_tokens *t;
	unsigned i, cap = 0;
	int err = 0;

	for (i = 0; i < m->hdr_count; i++)
		if (m->hdrs[i].type == type)
			cap += count_items(m->hdrs[i].value);
	t = parser_arena_alloc(&pm->arena, sizeof(*t));
	if (!t)
		return ENOMEM;
	t->count = 0;
	t->items = parser_arena_alloc(&pm->arena, sizeof(*t->items) * cap);
	if (!t->items)
		return ENOMEM;
	for (i = 0; i < m->hdr_count && !err; i++)
		if (m->hdrs[i].type == type)
			err =
			    has_nul(m->hdrs[i].value) ? EBADMSG : parser_tokens_add(t, cap, m->hdrs[i].value);
	mark_type(m, type, err ? FAILED : t);
	return err;
}

static int parse_number(struct parser_msg *pm, struct sipd_hdr *h, uint32_t max, bool clamp)
{
	uint32_t *v = parser_arena_alloc(&pm->arena, sizeof(*v));
	int err;

	if (!v)
		return ENOMEM;
	err = parser_uint(v, h->value, max);
	if (err == ERANGE && clamp) {
		*v = max;
		err = 0;
	}
	if (err)
		return EBADMSG;
	h->parsed = v;
	return 0;
}

/* Allocates a typed result and runs fn over the value. */
#define PARSE_INTO(T, fn)                                                                                    \
	do {                                                                                                 \
		T *r_ = parser_arena_alloc(&pm->arena, sizeof(T));                                           \
		if (!r_)                                                                                     \
			return ENOMEM;                                                                       \
		err = fn(r_, h->value);                                                                      \
		if (!err)                                                                                    \
			h->parsed = r_;                                                                      \
	} while (0)

static int parse_single(struct parser_msg *pm, struct sipd_hdr *h)
{
	struct sipd_nameaddr *head, *tail;
	struct sipd_session_expires se;
	int err = 0;

	if (has_nul(h->value)) {
		h->parsed = FAILED;
		return EBADMSG;
	}
	switch (h->type) {
	case SIPD_HDR_FROM:
	case SIPD_HDR_TO:
	case SIPD_HDR_REFER_TO:
		err = parser_nameaddr_list(&pm->arena, &head, &tail, h->value, 0);
		if (!err)
			h->parsed = head;
		break;
	case SIPD_HDR_CALL_ID:
		err = parser_callid_valid(h->value);
		if (!err)
			h->parsed = &h->value;
		break;
	case SIPD_HDR_CSEQ:
		PARSE_INTO(struct sipd_cseq, parser_cseq_parse);
		break;
	case SIPD_HDR_CONTENT_TYPE:
		PARSE_INTO(struct sipd_str, parser_content_type);
		break;
	case SIPD_HDR_SESSION_EXPIRES:
		PARSE_INTO(struct sipd_session_expires, parser_session_expires);
		break;
	case SIPD_HDR_AUTHORIZATION:
	case SIPD_HDR_PROXY_AUTHORIZATION:
	case SIPD_HDR_WWW_AUTHENTICATE:
	case SIPD_HDR_PROXY_AUTHENTICATE:
		PARSE_INTO(struct sipd_auth, parser_auth_parse);
		break;
	case SIPD_HDR_MAX_FORWARDS:
		err = parse_number(pm, h, 255, false);
		break;
	case SIPD_HDR_CONTENT_LENGTH:
		err = parse_number(pm, h, UINT32_MAX, false);
		break;
	case SIPD_HDR_EXPIRES:
	case SIPD_HDR_MIN_EXPIRES:
		err = parse_number(pm, h, UINT32_MAX, true);
		break;
	case SIPD_HDR_MIN_SE: {
		uint32_t *v = parser_arena_alloc(&pm->arena, sizeof(*v));

		if (!v)
			return ENOMEM;
		err = parser_session_expires(&se, h->value);
		if (!err) {
			*v = se.delta;
			h->parsed = v;
		}
		break;
	}
	default:
		/* unstructured headers: the typed form is the trimmed value */
		h->parsed = &h->value;
		break;
	}
	if (err && err != ENOMEM) {
		h->parsed = FAILED;
		err = EBADMSG;
	}
	return err;
}

int parser_hdr_parsed(struct sipd_msg *m, struct sipd_hdr *h, const void **out)
{
	struct parser_msg *pm = parser_msg_of(m);
	int err;

	if (!h)
		return ENOENT;
	if (h < m->hdrs || h >= m->hdrs + m->hdr_count)
		return EINVAL;
	if (h->parsed == FAILED)
		return EBADMSG;
	if (!h->parsed) {
		switch (h->type) {
		case SIPD_HDR_VIA:
		case SIPD_HDR_CONTACT:
		case SIPD_HDR_ROUTE:
		case SIPD_HDR_RECORD_ROUTE:
		case SIPD_HDR_PATH:
			err = parse_chain(pm, h->type);
			break;
		case SIPD_HDR_SUPPORTED:
		case SIPD_HDR_REQUIRE:
		case SIPD_HDR_PROXY_REQUIRE:
		case SIPD_HDR_UNSUPPORTED:
		case SIPD_HDR_ALLOW:
			err = parse_tokens(pm, h->type);
			break;
		default:
			err = parse_single(pm, h);
			break;
		}
		if (err)
			return err == ENOMEM ? ENOMEM : EBADMSG;
	}
	*out = h->parsed;
	return 0;
}

int parser_ruri_parsed(struct sipd_msg *m, const struct sipd_uri **out)
{
	struct parser_msg *pm = parser_msg_of(m);
	int err;

	if (!m->is_request)
		return EINVAL;
	if (pm->ruri_state == PARSER_RURI_UNPARSED) {
		err = parser_uri_parse(&pm->ruri, parser_current_ruri(m));
		pm->ruri_state = err ? PARSER_RURI_FAILED : PARSER_RURI_OK;
		pm->ruri_err = err;
	}
	if (pm->ruri_state == PARSER_RURI_FAILED)
		return pm->ruri_err;
	*out = &pm->ruri;
	return 0;
}

int parser_via_top(struct parser_msg *pm, struct sipd_via *out)
{
	const struct sipd_via *v;

	if (!pm->pub.h_via)
		return ENOENT;
	if (parser_hdr_parsed(&pm->pub, pm->pub.h_via, (const void **)&v) == 0) {
		*out = *v;
		out->next = NULL;
		return 0;
	}
	return parser_via_first(out, pm->pub.h_via->value);
}
