/* Header names (full and compact forms) and method tokens, classified without string loops. */
#include <string.h>
#include <strings.h>

#include <sipd/msg.h>

#define IS(lit) (strncasecmp(n, (lit), sizeof(lit) - 1) == 0)

static enum sipd_hdr_type compact_type(char c)
{
	switch (c | 0x20) {
	case 'i':
		return SIPD_HDR_CALL_ID;
	case 'f':
		return SIPD_HDR_FROM;
	case 't':
		return SIPD_HDR_TO;
	case 'v':
		return SIPD_HDR_VIA;
	case 'm':
		return SIPD_HDR_CONTACT;
	case 'l':
		return SIPD_HDR_CONTENT_LENGTH;
	case 'c':
		return SIPD_HDR_CONTENT_TYPE;
	case 'e':
		return SIPD_HDR_CONTENT_ENCODING;
	case 's':
		return SIPD_HDR_SUBJECT;
	case 'k':
		return SIPD_HDR_SUPPORTED;
	case 'o':
		return SIPD_HDR_EVENT;
	case 'r':
		return SIPD_HDR_REFER_TO;
	case 'x':
		return SIPD_HDR_SESSION_EXPIRES;
	default:
		return SIPD_HDR_OTHER;
	}
}

/* Switch on the length, then on the first letter: at most one compare per name. */
SIPD_API enum sipd_hdr_type sipd_hdr_type_of(struct sipd_str name)
{
	const char *n = name.p;

	if (name.len == 0)
		return SIPD_HDR_OTHER;
	switch (name.len) {
	case 1:
		return compact_type(n[0]);
	case 2:
		return IS("to") ? SIPD_HDR_TO : SIPD_HDR_OTHER;
	case 3:
		return IS("via") ? SIPD_HDR_VIA : SIPD_HDR_OTHER;
	case 4:
		switch (n[0] | 0x20) {
		case 'f':
			return IS("from") ? SIPD_HDR_FROM : SIPD_HDR_OTHER;
		case 'c':
			return IS("cseq") ? SIPD_HDR_CSEQ : SIPD_HDR_OTHER;
		case 'p':
			return IS("path") ? SIPD_HDR_PATH : SIPD_HDR_OTHER;
		}
		break;
	case 5:
		switch (n[0] | 0x20) {
		case 'r':
			return IS("route") ? SIPD_HDR_ROUTE : SIPD_HDR_OTHER;
		case 'a':
			return IS("allow") ? SIPD_HDR_ALLOW : SIPD_HDR_OTHER;
		case 'e':
			return IS("event") ? SIPD_HDR_EVENT : SIPD_HDR_OTHER;
		}
		break;
	case 6:
		switch (n[0] | 0x20) {
		case 's':
			return IS("server") ? SIPD_HDR_SERVER : SIPD_HDR_OTHER;
		case 'a':
			return IS("accept") ? SIPD_HDR_ACCEPT : SIPD_HDR_OTHER;
		case 'r':
			return IS("reason") ? SIPD_HDR_REASON : SIPD_HDR_OTHER;
		case 'm':
			return IS("min-se") ? SIPD_HDR_MIN_SE : SIPD_HDR_OTHER;
		}
		break;
	case 7:
		switch (n[0] | 0x20) {
		case 'c':
			if ((n[1] | 0x20) == 'a')
				return IS("call-id") ? SIPD_HDR_CALL_ID : SIPD_HDR_OTHER;
			return IS("contact") ? SIPD_HDR_CONTACT : SIPD_HDR_OTHER;
		case 'e':
			return IS("expires") ? SIPD_HDR_EXPIRES : SIPD_HDR_OTHER;
		case 'r':
			return IS("require") ? SIPD_HDR_REQUIRE : SIPD_HDR_OTHER;
		case 's':
			return IS("subject") ? SIPD_HDR_SUBJECT : SIPD_HDR_OTHER;
		case 'w':
			return IS("warning") ? SIPD_HDR_WARNING : SIPD_HDR_OTHER;
		}
		break;
	case 8:
		return IS("refer-to") ? SIPD_HDR_REFER_TO : SIPD_HDR_OTHER;
	case 9:
		return IS("supported") ? SIPD_HDR_SUPPORTED : SIPD_HDR_OTHER;
	case 10:
		return IS("user-agent") ? SIPD_HDR_USER_AGENT : SIPD_HDR_OTHER;
	case 11:
		if ((n[0] | 0x20) == 'u')
			return IS("unsupported") ? SIPD_HDR_UNSUPPORTED : SIPD_HDR_OTHER;
		return IS("min-expires") ? SIPD_HDR_MIN_EXPIRES : SIPD_HDR_OTHER;
	case 12:
		switch (n[0] | 0x20) {
		case 'm':
			return IS("max-forwards") ? SIPD_HDR_MAX_FORWARDS : SIPD_HDR_OTHER;
		case 'c':
			return IS("content-type") ? SIPD_HDR_CONTENT_TYPE : SIPD_HDR_OTHER;
		case 'r':
			return IS("record-route") ? SIPD_HDR_RECORD_ROUTE : SIPD_HDR_OTHER;
		}
		break;
	case 13:
		if ((n[0] | 0x20) == 'a')
			return IS("authorization") ? SIPD_HDR_AUTHORIZATION : SIPD_HDR_OTHER;
		return IS("proxy-require") ? SIPD_HDR_PROXY_REQUIRE : SIPD_HDR_OTHER;
	case 14:
		return IS("content-length") ? SIPD_HDR_CONTENT_LENGTH : SIPD_HDR_OTHER;
	case 15:
		return IS("session-expires") ? SIPD_HDR_SESSION_EXPIRES : SIPD_HDR_OTHER;
	case 16:
		if ((n[0] | 0x20) == 'w')
			return IS("www-authenticate") ? SIPD_HDR_WWW_AUTHENTICATE : SIPD_HDR_OTHER;
		return IS("content-encoding") ? SIPD_HDR_CONTENT_ENCODING : SIPD_HDR_OTHER;
	case 18:
		return IS("proxy-authenticate") ? SIPD_HDR_PROXY_AUTHENTICATE : SIPD_HDR_OTHER;
	case 19:
		return IS("proxy-authorization") ? SIPD_HDR_PROXY_AUTHORIZATION : SIPD_HDR_OTHER;
	}
	return SIPD_HDR_OTHER;
}

/* Compact forms of headers without a type of their own map to their full names. */
static struct sipd_str canonical_name(struct sipd_str name)
{
	if (name.len != 1)
		return name;
	switch (name.p[0] | 0x20) {
	case 'u':
		return SIPD_STR("Allow-Events");
	case 'y':
		return SIPD_STR("Identity");
	case 'b':
		return SIPD_STR("Referred-By");
	case 'a':
		return SIPD_STR("Accept-Contact");
	case 'j':
		return SIPD_STR("Reject-Contact");
	case 'd':
		return SIPD_STR("Request-Disposition");
	default:
		return name;
	}
}

static bool same_header(const struct sipd_hdr *h, enum sipd_hdr_type type, struct sipd_str canon)
{
	if (h->type != type)
		return false;
	return type != SIPD_HDR_OTHER || sipd_str_caseeq(canonical_name(h->name), canon);
}

SIPD_API struct sipd_hdr *sipd_msg_hdr_next(struct sipd_msg *m, struct sipd_hdr *h)
{
	struct sipd_str canon;
	unsigned i;

	if (!m || !h || h < m->hdrs || h >= m->hdrs + m->hdr_count)
		return NULL;
	canon = canonical_name(h->name);
	for (i = (unsigned)(h - m->hdrs) + 1; i < m->hdr_count; i++)
		if (same_header(&m->hdrs[i], h->type, canon))
			return &m->hdrs[i];
	return NULL;
}

SIPD_API struct sipd_hdr *sipd_msg_hdr_find(struct sipd_msg *m, struct sipd_str name)
{
	enum sipd_hdr_type type = sipd_hdr_type_of(name);
	struct sipd_str canon = canonical_name(name);
	unsigned i;

	if (!m || name.len == 0)
		return NULL;
	for (i = 0; i < m->hdr_count; i++)
		if (same_header(&m->hdrs[i], type, canon))
			return &m->hdrs[i];
	return NULL;
}

/* Methods are case-sensitive (RFC 3261 7.1): compare bytes as they are. */
SIPD_API enum sipd_method sipd_method_of(struct sipd_str method)
{
	const char *n = method.p;

#define M(lit, id) return memcmp(n, lit, sizeof(lit) - 1) == 0 ? (id) : SIPD_METHOD_OTHER
	switch (method.len) {
	case 3:
		if (n[0] == 'A')
			M("ACK", SIPD_METHOD_ACK);
		M("BYE", SIPD_METHOD_BYE);
	case 4:
		M("INFO", SIPD_METHOD_INFO);
	case 5:
		if (n[0] == 'P')
			M("PRACK", SIPD_METHOD_PRACK);
		M("REFER", SIPD_METHOD_REFER);
	case 6:
		switch (n[0]) {
		case 'I':
			M("INVITE", SIPD_METHOD_INVITE);
		case 'C':
			M("CANCEL", SIPD_METHOD_CANCEL);
		case 'U':
			M("UPDATE", SIPD_METHOD_UPDATE);
		case 'N':
			M("NOTIFY", SIPD_METHOD_NOTIFY);
		}
		break;
	case 7:
		switch (n[0]) {
		case 'O':
			M("OPTIONS", SIPD_METHOD_OPTIONS);
		case 'M':
			M("MESSAGE", SIPD_METHOD_MESSAGE);
		case 'P':
			M("PUBLISH", SIPD_METHOD_PUBLISH);
		}
		break;
	case 8:
		M("REGISTER", SIPD_METHOD_REGISTER);
	case 9:
		M("SUBSCRIBE", SIPD_METHOD_SUBSCRIBE);
	}
#undef M
	return SIPD_METHOD_OTHER;
}
