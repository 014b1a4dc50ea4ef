/* Stateless replies: where a response goes (RFC 3261 18.2.2, RFC 3581) and sending one. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/msg.h>
#include <sipd/script.h>
#include <sipd/stats.h>
#include <sipd/transport.h>

#include "internal.h"

#define SIP_DEFAULT_PORT 5060

static struct sipd_stat *stat_tx_replies, *stat_tx_reply_errors;
static pthread_once_t stats_once = PTHREAD_ONCE_INIT;

static void stats_init(void)
{
	stat_tx_replies = sipd_stat_register("core", "tx_replies", "stateless replies sent");
	stat_tx_reply_errors = sipd_stat_register(
	    "core", "tx_reply_errors",
	    "stateless replies not sent (no Via, send error; udp counts batch send errors)");
}

struct reason_entry {
	int code;
	const char *text;
};

/* RFC 3261 21, RFC 4028, RFC 3329: what modules get when they pass no reason. */
static const struct reason_entry reasons[] = {
    {100, "Trying"},
    {180, "Ringing"},
    {181, "Call Is Being Forwarded"},
    {182, "Queued"},
    {183, "Session Progress"},
    {200, "OK"},
    {202, "Accepted"},
    {300, "Multiple Choices"},
    {301, "Moved Permanently"},
    {302, "Moved Temporarily"},
    {305, "Use Proxy"},
    {380, "Alternative Service"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {402, "Payment Required"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {407, "Proxy Authentication Required"},
    {408, "Request Timeout"},
    {410, "Gone"},
    {413, "Request Entity Too Large"},
    {414, "Request-URI Too Long"},
    {415, "Unsupported Media Type"},
    {416, "Unsupported URI Scheme"},
    {420, "Bad Extension"},
    {421, "Extension Required"},
    {422, "Session Interval Too Small"},
    {423, "Interval Too Brief"},
    {430, "Flow Failed"},
    {480, "Temporarily Unavailable"},
    {481, "Call/Transaction Does Not Exist"},
    {482, "Loop Detected"},
    {483, "Too Many Hops"},
    {484, "Address Incomplete"},
    {485, "Ambiguous"},
    {486, "Busy Here"},
    {487, "Request Terminated"},
    {488, "Not Acceptable Here"},
    {491, "Request Pending"},
    {493, "Undecipherable"},
    {500, "Server Internal Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Server Time-out"},
    {505, "Version Not Supported"},
    {513, "Message Too Large"},
    {600, "Busy Everywhere"},
    {603, "Decline"},
    {604, "Does Not Exist Anywhere"},
    {606, "Not Acceptable"},
};

static const char *default_reason(int code)
{
	static const char *const by_class[] = {"Provisional",  "Success",      "Redirection",
					       "Client Error", "Server Error", "Global Failure"};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].text;
	return by_class[code / 100 - 1];
}

static void sockaddr_set_port(union sipd_sockaddr *a, uint16_t port)
{
	if (a->sa.sa_family == AF_INET)
		a->sin.sin_port = htons(port);
	else
		a->sin6.sin6_port = htons(port);
}

/*
 * The source address always wins over the Via host: a client that put a
 * name or a private address in sent-by gets received= added (18.2.1), and
 * 18.2.2 then sends to the received address. maddr (multicast responses)
 * is not supported: such requests are answered like any other, at the
 * source address.
 */
int sipd_response_dest(struct sipd_dest *out, struct sipd_msg *m)
{
	const struct sipd_via *via;
	const struct sipd_rcvinfo *rcv;
	struct sipd_dest d;
	int err;

	if (!out || !m || !m->is_request || !m->rcv)
		return EINVAL;
	rcv = m->rcv;
	if (rcv->src.sa.sa_family != AF_INET && rcv->src.sa.sa_family != AF_INET6)
		return EAFNOSUPPORT;
	err = sipd_msg_via(m, &via);
	if (err)
		return err;
	if (!via || !via->host.len)
		return EBADMSG;

	memset(&d, 0, sizeof(d));
	d.proto = rcv->proto;
	d.addr = rcv->src;
	d.from = rcv->listen;
	if (rcv->conn_id) {
		/* Stream: the same connection; src is where to reconnect if it closed. */
		d.conn_id = rcv->conn_id;
	} else if (!via->rport) {
		/* RFC 3581 asks for the source port only when rport is present. */
		sockaddr_set_port(&d.addr, via->port ? via->port : SIP_DEFAULT_PORT);
	}
	*out = d;
	return 0;
}

static bool wants_capabilities(const struct sipd_msg *m, int code)
{
	/* 405 must carry Allow (RFC 3261 21.4.6); OPTIONS 2xx advertise what we do (11.2). */
	return code == 405 || (m->method_id == SIPD_METHOD_OPTIONS && code >= 200 && code < 300);
}

/* The header block for reply_build, in m's arena. */
static int extra_build(struct sipd_str *out, struct sipd_msg *m, int code, const char *extra)
{
	const char *allow = "", *supported = "";
	bool caps = wants_capabilities(m, code);
	int n;
	char *buf;

	if (!extra)
		extra = "";
	if (!caps) {
		*out = sipd_str_c(extra);
		return 0;
	}
	allow = sipd_allow_header();
	supported = sipd_supported_header();
	if (!allow)
		allow = "";
	if (!supported)
		supported = "";
	n = snprintf(NULL, 0, "Allow: %s\r\nAccept: application/sdp\r\n%s%s%s%s", allow,
		     *supported ? "Supported: " : "", supported, *supported ? "\r\n" : "", extra);
	if (n < 0)
		return EINVAL;
	buf = sipd_msg_alloc(m, (size_t)n + 1);
	if (!buf)
		return ENOMEM;
	snprintf(buf, (size_t)n + 1, "Allow: %s\r\nAccept: application/sdp\r\n%s%s%s%s", allow,
		 *supported ? "Supported: " : "", supported, *supported ? "\r\n" : "", extra);
	*out = (struct sipd_str){buf, (size_t)n};
	return 0;
}

int sipd_reply(struct sipd_ctx *ctx, int code, const char *reason, const char *extra_headers)
{
	struct sipd_msg *m;
	struct sipd_dest dst;
	struct sipd_str extra, out;
	int err;

	if (!ctx || !ctx->msg || !ctx->msg->is_request || code < 100 || code > 699)
		return EINVAL;
	/* A reason phrase with a line break would let a caller inject headers. */
	if (reason && strpbrk(reason, "\r\n"))
		return EINVAL;
	m = ctx->msg;
	/* ACK is never answered (RFC 3261 17.2.1/17.2.3). */
	if (m->method_id == SIPD_METHOD_ACK)
		return 0;
	pthread_once(&stats_once, stats_init);

	err = sipd_response_dest(&dst, m);
	if (err) {
		SIPD_DBG("%.*s request without a usable Via: %d not sent", SIPD_STR_FMT(m->method), code);
		goto out;
	}
	err = extra_build(&extra, m, code, extra_headers);
	if (err)
		goto out;
	if (!reason || !*reason)
		reason = default_reason(code);
	err = m->ops->reply_build(m, code, sipd_str_c(reason), extra, SIPD_STR_NULL, SIPD_STR_NULL, &out);
	if (err) {
		SIPD_WARN("building %d reply to %.*s failed: %s", code, SIPD_STR_FMT(m->method),
			  strerror(err));
		goto out;
	}
	err = sipd_send_soon(&dst, out.p, out.len);
	if (err) {
		char ip[INET6_ADDRSTRLEN];

		SIPD_DBG("sending %d reply to %s port %u failed: %s", code,
			 sipd_sockaddr_ip(&dst.addr, ip, sizeof(ip)), sipd_sockaddr_port(&dst.addr),
			 strerror(err));
		goto out;
	}
	/* Only a final answer finishes the request; a 1xx leaves it open. */
	if (code >= 200)
		ctx->replied = true;
	sipd_stat_inc(stat_tx_replies);
out:
	if (err)
		sipd_stat_inc(stat_tx_reply_errors);
	return err;
}

/*
 * The bytes of the reply and where its parts are, so a late failure can
 * swap the status line and the extra headers and keep the rest (Via with
 * received/rport, From, To with its tag, Call-ID, CSeq, Server).
 */
struct sipd_reply_later {
	struct sipd_dest dst;
	size_t len;
	size_t head;             /* the status line, its CRLF included */
	size_t extra, extra_len; /* the extra header lines */
	char buf[];
};

/* How reply_build ends a reply without a body (msg.h: the extra headers come last). */
static const char no_body[] = "Content-Length: 0\r\n\r\n";

/* The length of the extra header lines as reply_build writes them: it ends an open last line. */
static size_t extra_written(struct sipd_str extra)
{
	return extra.len + (extra.len && extra.p[extra.len - 1] != '\n' ? 2 : 0);
}

static bool reason_ok(const char *reason)
{
	return !reason || !strpbrk(reason, "\r\n");
}

int sipd_reply_later(struct sipd_reply_later **out, struct sipd_ctx *ctx, int code, const char *reason,
		     const char *extra_headers)
{
	struct sipd_reply_later *r;
	struct sipd_str extra = sipd_str_c(extra_headers ? extra_headers : ""), built;
	size_t tail = sizeof(no_body) - 1, xlen = extra_written(extra);
	const char *eol;
	struct sipd_msg *m;
	struct sipd_dest dst;
	int err;

	if (!out || !ctx || !ctx->msg || !ctx->msg->is_request || code < 200 || code > 699 ||
	    !reason_ok(reason))
		return EINVAL;
	m = ctx->msg;
	if (m->method_id == SIPD_METHOD_ACK || wants_capabilities(m, code))
		return EINVAL;
	if ((err = sipd_response_dest(&dst, m)) != 0)
		return err;
	if (!reason || !*reason)
		reason = default_reason(code);
	err = m->ops->reply_build(m, code, sipd_str_c(reason), extra, SIPD_STR_NULL, SIPD_STR_NULL, &built);
	if (err)
		return err;
	eol = memchr(built.p, '\n', built.len);
	if (!eol || built.len < (size_t)(eol + 1 - built.p) + xlen + tail ||
	    memcmp(built.p + built.len - tail, no_body, tail) != 0 ||
	    memcmp(built.p + built.len - tail - xlen, extra.p ? extra.p : "", extra.len) != 0)
		return EPROTO;
	if (!(r = malloc(sizeof(*r) + built.len)))
		return ENOMEM;
	r->dst = dst;
	r->len = built.len;
	r->head = (size_t)(eol + 1 - built.p);
	r->extra = built.len - tail - xlen;
	r->extra_len = xlen;
	memcpy(r->buf, built.p, built.len);
	*out = r;
	return 0;
}

/* r's reply with another status line and extra headers, in a new buffer (freed by the caller). */
static int later_variant(char **out, size_t *len, const struct sipd_reply_later *r, int code,
			 const char *reason, struct sipd_str extra)
{
	char num[SIPD_UTOA_MAX];
	size_t rlen = strlen(reason), nlen = sipd_utoa(num, (uint64_t)code), size, n = 0;
	bool close = extra_written(extra) != extra.len;
	char *b;

	size = 8 + nlen + 1 + rlen + 2 + (r->extra - r->head) + extra.len + 2 +
	       (r->len - r->extra - r->extra_len);
	if (!(b = malloc(size)))
		return ENOMEM;
	memcpy(b, "SIP/2.0 ", 8);
	n = 8;
	memcpy(b + n, num, nlen);
	n += nlen;
	b[n++] = ' ';
	memcpy(b + n, reason, rlen);
	n += rlen;
	memcpy(b + n, "\r\n", 2);
	n += 2;
	memcpy(b + n, r->buf + r->head, r->extra - r->head);
	n += r->extra - r->head;
	if (extra.len)
		memcpy(b + n, extra.p, extra.len);
	n += extra.len;
	if (close) {
		memcpy(b + n, "\r\n", 2);
		n += 2;
	}
	memcpy(b + n, r->buf + r->extra + r->extra_len, r->len - r->extra - r->extra_len);
	n += r->len - r->extra - r->extra_len;
	*out = b;
	*len = n;
	return 0;
}

int sipd_reply_later_send(const struct sipd_reply_later *r, int code, const char *reason,
			  const char *extra_headers)
{
	char *other = NULL;
	size_t len = 0;
	int err;

	if (!r || (code && (code < 200 || code > 699 || code == 405 || !reason_ok(reason))))
		return EINVAL;
	pthread_once(&stats_once, stats_init);
	if (code) {
		err = later_variant(&other, &len, r, code, reason && *reason ? reason : default_reason(code),
				    sipd_str_c(extra_headers ? extra_headers : ""));
		if (err)
			goto out;
	}
	err = sipd_send_soon(&r->dst, other ? other : r->buf, other ? len : r->len);
	free(other);
	if (!err)
		sipd_stat_inc(stat_tx_replies);
out:
	if (err)
		sipd_stat_inc(stat_tx_reply_errors);
	return err;
}

void sipd_reply_later_free(struct sipd_reply_later *r)
{
	free(r);
}

SIPD_API int sipd_warning_header(char *buf, size_t size, const struct sipd_rcvinfo *rcv, const char *text)
{
	const struct sipd_listen *l = rcv ? rcv->listen : NULL;
	size_t n;
	int w;

	/* warn-agent: the address the request arrived on, a pseudonym when no single address names us */
	if (!l || !strcmp(l->host, "0.0.0.0") || !strcmp(l->host, "::"))
		w = snprintf(buf, size, "Warning: 399 sipd \"");
	else if (l->addr.sa.sa_family == AF_INET6)
		w = snprintf(buf, size, "Warning: 399 [%s]:%u \"", l->host, l->port);
	else
		w = snprintf(buf, size, "Warning: 399 %s:%u \"", l->host, l->port);
	if (w < 0 || (size_t)w >= size)
		return -1;
	n = (size_t)w;
	for (; text && *text; text++) {
		/* control characters would break the header line: leave them out */
		if ((unsigned char)*text < 0x20 || *text == 0x7f)
			continue;
		if (n + 2 >= size)
			return -1;
		if (*text == '"' || *text == '\\')
			buf[n++] = '\\';
		buf[n++] = *text;
	}
	if (n + 4 > size)
		return -1;
	memcpy(buf + n, "\"\r\n", 4);
	return (int)(n + 3);
}
