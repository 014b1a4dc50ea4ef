/* SDP offer parser (RFC 4566): the fields an audio answerer needs, copied out of the body. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "media_int.h"

/* A line being parsed: [p, end). */
struct line {
	const char *p;
	const char *end;
};

static void copy_slice(char *dst, size_t size, const char *p, size_t len)
{
	if (len >= size)
		len = size - 1;
	memcpy(dst, p, len);
	dst[len] = '\0';
}

/* Next space-separated token of l; returns its length, 0 at the end. */
static size_t next_token(struct line *l, const char **tok)
{
	while (l->p < l->end && (*l->p == ' ' || *l->p == '\t'))
		l->p++;
	*tok = l->p;
	while (l->p < l->end && *l->p != ' ' && *l->p != '\t')
		l->p++;
	return (size_t)(l->p - *tok);
}

static bool token_copy(struct line *l, char *dst, size_t size)
{
	const char *t;
	size_t n = next_token(l, &t);

	if (n == 0 || n >= size)
		return false;
	copy_slice(dst, size, t, n);
	return true;
}

static bool token_uint(struct line *l, unsigned long max, unsigned long *out)
{
	char buf[24], *e;
	unsigned long v;

	if (!token_copy(l, buf, sizeof(buf)))
		return false;
	errno = 0;
	v = strtoul(buf, &e, 10);
	if (*e != '\0' || errno != 0 || v > max || buf[0] == '-')
		return false;
	*out = v;
	return true;
}

static bool has_prefix(const struct line *l, const char *prefix, struct line *rest)
{
	size_t n = strlen(prefix);

	if ((size_t)(l->end - l->p) < n || memcmp(l->p, prefix, n) != 0)
		return false;
	rest->p = l->p + n;
	rest->end = l->end;
	return true;
}

static int parse_conn(struct line *l, char *addr, size_t size, int *family)
{
	char nettype[8], addrtype[8];

	if (!token_copy(l, nettype, sizeof(nettype)) || !token_copy(l, addrtype, sizeof(addrtype)) ||
	    !token_copy(l, addr, size) || strcmp(nettype, "IN") != 0)
		return EBADMSG;
	if (strcmp(addrtype, "IP4") == 0)
		*family = AF_INET;
	else if (strcmp(addrtype, "IP6") == 0)
		*family = AF_INET6;
	else
		return EBADMSG;
	char *slash = strchr(addr, '/'); /* multicast TTL */
	if (slash)
		*slash = '\0';
	return 0;
}

static int parse_mline(struct rtc_sdp_offer *o, struct line *l)
{
	struct rtc_sdp_mline *m;
	unsigned long port;
	const char *t;
	size_t n;
	bool audio;

	if (o->mline_count == RTC_SDP_MAX_MEDIA)
		return EBADMSG;
	m = &o->mlines[o->mline_count];
	if (!token_copy(l, m->media, sizeof(m->media)))
		return EBADMSG;
	n = next_token(l, &t);
	if (n == 0)
		return EBADMSG;
	char portbuf[16];
	copy_slice(portbuf, sizeof(portbuf), t, n);
	char *slash = strchr(portbuf, '/');
	if (slash)
		*slash = '\0';
	port = strtoul(portbuf, NULL, 10);
	if (port > 65535)
		return EBADMSG;
	m->port = (uint16_t)port;
	if (!token_copy(l, m->proto, sizeof(m->proto)))
		return EBADMSG;
	if (!token_copy(l, m->fmt, sizeof(m->fmt)))
		return EBADMSG;
	o->mline_count++;

	/* the first audio line with a port answers; the rest are rejected */
	audio = strcmp(m->media, "audio") == 0 && m->port != 0 && o->audio_index < 0;
	if (!audio)
		return 0;
	o->audio_index = (int)o->mline_count - 1;
	o->port = m->port;
	copy_slice(o->proto, sizeof(o->proto), m->proto, strlen(m->proto));
	/* The formats are payload types: the first one copied above, the rest copied here (the line is not
	 * NUL-terminated, so strtoul never reads it in place). */
	char fmt[24];
	copy_slice(fmt, sizeof(fmt), m->fmt, strlen(m->fmt));
	for (;;) {
		char *e;
		unsigned long pt = strtoul(fmt, &e, 10);

		if (e == fmt || *e != '\0' || pt > 127)
			return EBADMSG;
		if (o->pt_count < RTC_SDP_MAX_FORMATS)
			o->pts[o->pt_count++] = (uint8_t)pt;
		if ((n = next_token(l, &t)) == 0)
			return 0;
		if (n >= sizeof(fmt))
			return EBADMSG;
		copy_slice(fmt, sizeof(fmt), t, n);
	}
}

static struct rtc_sdp_format *format_for(struct rtc_sdp_offer *o, unsigned long pt)
{
	for (unsigned i = 0; i < o->format_count; i++)
		if (o->formats[i].pt == pt)
			return &o->formats[i];
	if (o->format_count == RTC_SDP_MAX_FORMATS)
		return NULL;
	struct rtc_sdp_format *f = &o->formats[o->format_count++];
	memset(f, 0, sizeof(*f));
	f->pt = (uint8_t)pt;
	f->channels = 1;
	return f;
}

static int parse_rtpmap(struct rtc_sdp_offer *o, struct line *l)
{
	unsigned long pt;
	char enc[64];
	struct rtc_sdp_format *f;

	if (!token_uint(l, 127, &pt) || !token_copy(l, enc, sizeof(enc)))
		return EBADMSG;
	f = format_for(o, pt);
	if (!f)
		return 0;
	char *s1 = strchr(enc, '/');
	if (!s1)
		return EBADMSG;
	*s1++ = '\0';
	copy_slice(f->name, sizeof(f->name), enc, strlen(enc));
	f->rate = (uint32_t)strtoul(s1, NULL, 10);
	char *s2 = strchr(s1, '/');
	f->channels = s2 ? (uint8_t)strtoul(s2 + 1, NULL, 10) : 1;
	return 0;
}

static int parse_fmtp(struct rtc_sdp_offer *o, struct line *l)
{
	unsigned long pt;
	struct rtc_sdp_format *f;

	if (!token_uint(l, 127, &pt))
		return EBADMSG;
	while (l->p < l->end && *l->p == ' ')
		l->p++;
	f = format_for(o, pt);
	if (f)
		copy_slice(f->fmtp, sizeof(f->fmtp), l->p, (size_t)(l->end - l->p));
	return 0;
}

static int parse_candidate(struct rtc_sdp_offer *o, struct line *l)
{
	struct rtc_sdp_candidate c;
	char transport[8], typ[8];
	unsigned long comp, prio, port;

	memset(&c, 0, sizeof(c));
	if (!token_copy(l, c.foundation, sizeof(c.foundation)) || !token_uint(l, 256, &comp) ||
	    !token_copy(l, transport, sizeof(transport)) || !token_uint(l, 0xffffffffUL, &prio) ||
	    !token_copy(l, c.addr, sizeof(c.addr)) || !token_uint(l, 65535, &port) ||
	    !token_copy(l, typ, sizeof(typ)) || strcmp(typ, "typ") != 0 ||
	    !token_copy(l, c.type, sizeof(c.type)))
		return EBADMSG;
	c.component = (uint8_t)comp;
	c.udp = strcasecmp(transport, "udp") == 0;
	c.priority = (uint32_t)prio;
	c.port = (uint16_t)port;
	if (o->candidate_count < RTC_SDP_MAX_CANDIDATES)
		o->candidates[o->candidate_count++] = c;
	return 0;
}

static int parse_fingerprint(struct rtc_sdp_offer *o, struct line *l)
{
	char alg[16], hex[200];
	unsigned n = 0;

	if (!token_copy(l, alg, sizeof(alg)) || !token_copy(l, hex, sizeof(hex)))
		return EBADMSG;
	for (const char *p = hex; *p;) {
		unsigned v;
		int used;

		if (n == sizeof(o->fingerprint) || sscanf(p, "%2x%n", &v, &used) != 1 || used != 2)
			return EBADMSG;
		o->fingerprint[n++] = (uint8_t)v;
		p += 2;
		if (*p == ':')
			p++;
		else if (*p != '\0')
			return EBADMSG;
	}
	for (char *p = alg; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	memcpy(o->fingerprint_alg, alg, sizeof(alg));
	o->fingerprint_len = n;
	return 0;
}

static int parse_crypto(struct rtc_sdp_offer *o, struct line *l)
{
	struct rtc_sdp_crypto c;
	unsigned long tag;
	char params[200];

	memset(&c, 0, sizeof(c));
	if (!token_uint(l, 999999999UL, &tag) || !token_copy(l, c.suite, sizeof(c.suite)) ||
	    !token_copy(l, params, sizeof(params)))
		return EBADMSG;
	c.tag = (uint32_t)tag;
	/* inline:<base64 key||salt>[|lifetime][|MKI:len]; only one key, no MKI */
	if (strncmp(params, "inline:", 7) == 0 && !strchr(params, ';')) {
		char *b64 = params + 7, *bar = strchr(b64, '|');
		bool mki = false;

		if (bar) {
			*bar = '\0';
			mki = strchr(bar + 1, ':') != NULL;
		}
		c.usable = !mki && rtc_srtp_suite_supported(c.suite) &&
			   rtc_base64_decode(c.key, sizeof(c.key), b64) == 30;
	}
	if (o->crypto_count < RTC_SDP_MAX_CRYPTO)
		o->crypto[o->crypto_count++] = c;
	return 0;
}

static bool group_has(struct line *l, const char *mid)
{
	const char *t;
	size_t n;

	while ((n = next_token(l, &t)) > 0)
		if (n == strlen(mid) && memcmp(t, mid, n) == 0)
			return true;
	return false;
}

/* Attributes valid at session and media level (ICE, DTLS); media-level ones override. */
static int parse_common_attr(struct rtc_sdp_offer *o, const struct line *l, bool *matched)
{
	struct line r;

	*matched = true;
	if (has_prefix(l, "a=ice-ufrag:", &r))
		return token_copy(&r, o->ice_ufrag, sizeof(o->ice_ufrag)) ? 0 : EBADMSG;
	if (has_prefix(l, "a=ice-pwd:", &r))
		return token_copy(&r, o->ice_pwd, sizeof(o->ice_pwd)) ? 0 : EBADMSG;
	if (has_prefix(l, "a=ice-lite", &r)) {
		o->ice_lite = true;
		return 0;
	}
	if (has_prefix(l, "a=fingerprint:", &r))
		return parse_fingerprint(o, &r);
	if (has_prefix(l, "a=setup:", &r)) {
		char v[16];
		if (!token_copy(&r, v, sizeof(v)))
			return EBADMSG;
		o->setup = strcmp(v, "actpass") == 0   ? RTC_SDP_SETUP_ACTPASS
			   : strcmp(v, "active") == 0  ? RTC_SDP_SETUP_ACTIVE
			   : strcmp(v, "passive") == 0 ? RTC_SDP_SETUP_PASSIVE
						       : RTC_SDP_SETUP_NONE;
		return 0;
	}
	if (l->end - l->p >= 10 && memcmp(l->p, "a=sendrecv", 10) == 0)
		o->dir = RTC_SDP_SENDRECV;
	else if (l->end - l->p >= 10 && memcmp(l->p, "a=sendonly", 10) == 0)
		o->dir = RTC_SDP_SENDONLY;
	else if (l->end - l->p >= 10 && memcmp(l->p, "a=recvonly", 10) == 0)
		o->dir = RTC_SDP_RECVONLY;
	else if (l->end - l->p >= 10 && memcmp(l->p, "a=inactive", 10) == 0)
		o->dir = RTC_SDP_INACTIVE;
	else
		*matched = false;
	return 0;
}

static int parse_audio_attr(struct rtc_sdp_offer *o, const struct line *l)
{
	struct line r;

	if (has_prefix(l, "a=rtpmap:", &r))
		return parse_rtpmap(o, &r);
	if (has_prefix(l, "a=fmtp:", &r))
		return parse_fmtp(o, &r);
	if (has_prefix(l, "a=candidate:", &r))
		return parse_candidate(o, &r);
	if (has_prefix(l, "a=crypto:", &r))
		return parse_crypto(o, &r);
	if (has_prefix(l, "a=mid:", &r))
		return token_copy(&r, o->mid, sizeof(o->mid)) ? 0 : EBADMSG;
	if (has_prefix(l, "a=rtcp-mux", &r) && r.p == r.end) {
		o->rtcp_mux = true;
		return 0;
	}
	if (has_prefix(l, "a=rtcp:", &r)) {
		unsigned long port;
		int fam;
		if (!token_uint(&r, 65535, &port))
			return EBADMSG;
		o->rtcp_port = (uint16_t)port;
		if (r.p < r.end)
			return parse_conn(&r, o->rtcp_addr, sizeof(o->rtcp_addr), &fam);
		return 0;
	}
	return 0;
}

/* The static payload types we might pick carry no a=rtpmap in many offers (RFC 3551). */
static void add_static_formats(struct rtc_sdp_offer *o)
{
	for (unsigned i = 0; i < o->pt_count; i++) {
		uint8_t pt = o->pts[i];
		struct rtc_sdp_format *f;

		if (pt != 0 && pt != 8)
			continue;
		f = format_for(o, pt);
		if (f && f->name[0] == '\0') {
			strcpy(f->name, pt == 0 ? "PCMU" : "PCMA");
			f->rate = 8000;
		}
	}
}

int rtc_sdp_parse(struct rtc_sdp_offer *out, const char *sdp, size_t len, const char **reason)
{
	struct rtc_sdp_offer *o;
	const char *p = sdp, *end = sdp + len;
	char session_conn[64] = "", bundle[256] = "";
	int session_family = 0, err = 0;
	bool have_v = false, have_audio_conn = false;
	unsigned lineno = 0;

	o = calloc(1, sizeof(*o));
	if (!o) {
		*reason = "out of memory";
		return ENOMEM;
	}
	o->audio_index = -1;
	*reason = "malformed SDP";
	while (p < end) {
		struct line l = {p, memchr(p, '\n', (size_t)(end - p))};
		struct line r;

		if (!l.end)
			l.end = end;
		p = l.end < end ? l.end + 1 : end;
		if (l.end > l.p && l.end[-1] == '\r')
			l.end--;
		if (l.end == l.p)
			continue;
		if (l.end - l.p < 2 || l.p[1] != '=') {
			err = EBADMSG;
			goto out;
		}
		/* RFC 4566 §9: no NUL or CR inside a line (a token cut at a NUL would not be echoed whole).
		 */
		if (memchr(l.p, '\0', (size_t)(l.end - l.p)) || memchr(l.p, '\r', (size_t)(l.end - l.p))) {
			*reason = "NUL or CR inside an SDP line";
			err = EBADMSG;
			goto out;
		}
		if (lineno++ == 0) {
			if (!has_prefix(&l, "v=0", &r)) {
				*reason = "SDP does not start with v=0";
				err = EBADMSG;
				goto out;
			}
			have_v = true;
			continue;
		}
		if (has_prefix(&l, "m=", &r)) {
			if ((err = parse_mline(o, &r)) != 0) {
				*reason = "malformed m= line";
				goto out;
			}
			continue;
		}
		bool in_audio = o->mline_count > 0 && o->audio_index == (int)o->mline_count - 1;
		bool in_session = o->mline_count == 0;
		if (has_prefix(&l, "o=", &r)) {
			char sess_id[24];
			const char *t;
			next_token(&r, &t);
			if (token_copy(&r, sess_id, sizeof(sess_id)))
				o->origin_sess_id = strtoull(sess_id, NULL, 10);
		} else if (has_prefix(&l, "c=", &r)) {
			if (in_session)
				err = parse_conn(&r, session_conn, sizeof(session_conn), &session_family);
			else if (in_audio) {
				err = parse_conn(&r, o->conn_addr, sizeof(o->conn_addr), &o->conn_family);
				have_audio_conn = true;
			}
			if (err) {
				*reason = "malformed c= line";
				goto out;
			}
		} else if (has_prefix(&l, "a=group:BUNDLE", &r)) {
			copy_slice(bundle, sizeof(bundle), r.p, (size_t)(r.end - r.p));
		} else if (in_session || in_audio) {
			bool matched;
			err = parse_common_attr(o, &l, &matched);
			if (!err && !matched && in_audio)
				err = parse_audio_attr(o, &l);
			if (err) {
				*reason = "malformed a= line";
				goto out;
			}
		} else if (has_prefix(&l, "a=mid:", &r)) {
			struct rtc_sdp_mline *m = &o->mlines[o->mline_count - 1];
			token_copy(&r, m->mid, sizeof(m->mid));
		}
	}
	if (!have_v) {
		err = EBADMSG;
		goto out;
	}
	if (!have_audio_conn) {
		memcpy(o->conn_addr, session_conn, sizeof(session_conn));
		o->conn_family = session_family;
	}
	if (o->audio_index >= 0) {
		struct rtc_sdp_mline *m = &o->mlines[o->audio_index];
		memcpy(m->mid, o->mid, sizeof(m->mid));
		struct line bl = {bundle, bundle + strlen(bundle)};
		o->bundle = o->mid[0] != '\0' && group_has(&bl, o->mid);
		add_static_formats(o);
	}
	*out = *o;
out:
	free(o);
	return err;
}
