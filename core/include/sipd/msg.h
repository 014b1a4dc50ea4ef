/* The parsed SIP message: a read-only struct, lazy accessors, and edits. */
#ifndef SIPD_MSG_H
#define SIPD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sipd/api.h>
#include <sipd/str.h>

struct sipd_rcvinfo;
struct sipd_ctx;

enum sipd_method {
	SIPD_METHOD_OTHER = 0,
	SIPD_METHOD_INVITE,
	SIPD_METHOD_ACK,
	SIPD_METHOD_BYE,
	SIPD_METHOD_CANCEL,
	SIPD_METHOD_REGISTER,
	SIPD_METHOD_OPTIONS,
	SIPD_METHOD_INFO,
	SIPD_METHOD_UPDATE,
	SIPD_METHOD_PRACK,
	SIPD_METHOD_SUBSCRIBE,
	SIPD_METHOD_NOTIFY,
	SIPD_METHOD_MESSAGE,
	SIPD_METHOD_REFER,
	SIPD_METHOD_PUBLISH,
};

/* Header kinds the parser recognizes by full or compact name. */
enum sipd_hdr_type {
	SIPD_HDR_OTHER = 0,
	SIPD_HDR_VIA,
	SIPD_HDR_FROM,
	SIPD_HDR_TO,
	SIPD_HDR_CALL_ID,
	SIPD_HDR_CSEQ,
	SIPD_HDR_CONTACT,
	SIPD_HDR_MAX_FORWARDS,
	SIPD_HDR_EXPIRES,
	SIPD_HDR_CONTENT_LENGTH,
	SIPD_HDR_CONTENT_TYPE,
	SIPD_HDR_ROUTE,
	SIPD_HDR_RECORD_ROUTE,
	SIPD_HDR_AUTHORIZATION,
	SIPD_HDR_PROXY_AUTHORIZATION,
	SIPD_HDR_WWW_AUTHENTICATE,
	SIPD_HDR_PROXY_AUTHENTICATE,
	SIPD_HDR_SESSION_EXPIRES,
	SIPD_HDR_MIN_SE,
	SIPD_HDR_SUPPORTED,
	SIPD_HDR_REQUIRE,
	SIPD_HDR_PROXY_REQUIRE,
	SIPD_HDR_UNSUPPORTED,
	SIPD_HDR_USER_AGENT,
	SIPD_HDR_SERVER,
	SIPD_HDR_ALLOW,
	SIPD_HDR_ACCEPT,
	SIPD_HDR_MIN_EXPIRES,
	SIPD_HDR_PATH,
	SIPD_HDR_EVENT,
	SIPD_HDR_CONTENT_ENCODING,
	SIPD_HDR_SUBJECT,
	SIPD_HDR_REFER_TO,
	SIPD_HDR_REASON,
	SIPD_HDR_WARNING,
	SIPD_HDR_TYPE_COUNT
};

/* One header line (after unfolding, a slice of the receive buffer). */
struct sipd_hdr {
	enum sipd_hdr_type type;
	struct sipd_str name;  /* as written ("v", "Via", "VIA") */
	struct sipd_str value; /* trimmed; may contain folded line breaks */
	struct sipd_str line;  /* the whole header including its CRLF (for removal) */
	const void *parsed;    /* private: the lazily parsed form */
};

/* A ;name=value parameter list element (value empty when absent). */
struct sipd_param {
	struct sipd_str name, value;
	bool has_value;
};

enum sipd_uri_scheme { SIPD_URI_SIP = 1, SIPD_URI_SIPS, SIPD_URI_TEL };

struct sipd_uri {
	enum sipd_uri_scheme scheme;
	struct sipd_str raw;  /* the whole URI */
	struct sipd_str user; /* escaped as written; empty if none */
	struct sipd_str password;
	struct sipd_str host; /* IPv6 without brackets */
	bool host_ipv6;
	uint16_t port;           /* 0 when absent */
	struct sipd_str params;  /* raw ";a=b;c" after host[:port], without the first ';' */
	struct sipd_str headers; /* raw "a=b&c=d" after '?', without the '?' */
	/* Frequently needed parameters, empty when absent. */
	struct sipd_str transport, maddr, user_param, method;
	bool lr;
};

/* From, To, Contact, Route, Record-Route element: [display] <uri>;params */
struct sipd_nameaddr {
	struct sipd_str display; /* without quotes; empty if none */
	struct sipd_uri uri;
	struct sipd_str params; /* raw params after the URI, without the first ';' */
	struct sipd_str tag;    /* From/To tag */
	/* Contact only */
	long expires;               /* -1 if absent */
	int q;                      /* q * 1000, -1 if absent */
	bool star;                  /* Contact: * */
	struct sipd_nameaddr *next; /* next element of the same header line or later lines */
};

struct sipd_via {
	struct sipd_str value;    /* this via-parm as written */
	struct sipd_str protocol; /* "UDP", "TCP", ... */
	struct sipd_str host;     /* IPv6 without brackets */
	bool host_ipv6;
	uint16_t port; /* 0 when absent */
	struct sipd_str branch, received, maddr;
	bool rport;       /* rport present */
	long rport_value; /* -1 when rport has no value */
	int ttl;          /* -1 when absent */
	struct sipd_str params;
	struct sipd_via *next; /* next via-parm (same line or later lines) */
};

struct sipd_cseq {
	uint32_t number;
	struct sipd_str method;
	enum sipd_method method_id;
};

/* Authorization / Proxy-Authorization credentials and WWW-/Proxy-Authenticate challenges. */
struct sipd_auth {
	struct sipd_str scheme; /* "Digest" */
	struct sipd_str username, realm, nonce, uri, response, algorithm, cnonce, opaque, qop, nc;
	bool stale;
	struct sipd_str params; /* everything after the scheme */
};

/* Session-Expires (RFC 4028): delta and refresher ("uac"/"uas"/empty). */
struct sipd_session_expires {
	uint32_t delta;
	struct sipd_str refresher;
};

/* Option tags of Supported/Require/Proxy-Require/Unsupported (one list per header type). */
struct sipd_tokens {
	unsigned count;
	struct sipd_str *items;
};

struct sipd_msg_ops;

/*
 * A message. Fields are read-only for modules: change a message only with
 * the edit functions below. Header values and slices point into buf, which
 * lives as long as the message.
 */
struct sipd_msg {
	const struct sipd_msg_ops *ops;
	const char *buf;
	size_t len;
	const struct sipd_rcvinfo *rcv;

	bool is_request;
	/* request line */
	struct sipd_str method;
	enum sipd_method method_id;
	struct sipd_str ruri; /* raw Request-URI */
	struct sipd_str version;
	/* status line */
	int status;
	struct sipd_str reason;

	struct sipd_hdr *hdrs;
	unsigned hdr_count;
	/* first header of the most used kinds; NULL when absent */
	struct sipd_hdr *h_via, *h_from, *h_to, *h_call_id, *h_cseq, *h_contact, *h_max_forwards, *h_expires,
	    *h_content_length, *h_content_type, *h_route, *h_record_route, *h_authorization,
	    *h_proxy_authorization, *h_session_expires, *h_min_se, *h_supported, *h_require, *h_user_agent;
	struct sipd_str call_id; /* trimmed value of Call-ID */
	struct sipd_str body;
};

/* What the parser module provides; messages carry a pointer to it. */
struct sipd_msg_ops {
	/*
	 * Parses h (of its type) on first use; *out points at the typed form:
	 * Via: struct sipd_via; From, To, Refer-To: struct sipd_nameaddr;
	 * Contact, Route, Record-Route, Path: struct sipd_nameaddr list (all
	 * lines of the type linked through ->next); CSeq: struct sipd_cseq;
	 * Authorization, Proxy-Authorization, WWW-/Proxy-Authenticate: struct
	 * sipd_auth; Session-Expires: struct sipd_session_expires; Supported,
	 * Require, Proxy-Require, Unsupported, Allow: struct sipd_tokens (one
	 * list of all lines of the type); Max-Forwards, Expires, Min-Expires,
	 * Content-Length, Min-SE: uint32_t; Content-Type: struct sipd_str
	 * ("type/subtype"); Call-ID and every other header: struct sipd_str
	 * (the trimmed value). EBADMSG if the header is malformed.
	 */
	int (*hdr_parsed)(struct sipd_msg *m, struct sipd_hdr *h, const void **out);
	/* Parsed Request-URI (requests only). */
	int (*ruri_parsed)(struct sipd_msg *m, const struct sipd_uri **out);
	/* Allocates from the message's arena (freed with the message). */
	void *(*alloc)(struct sipd_msg *m, size_t size);

	/* Edits; applied when the message is serialized, original bytes untouched. */
	int (*hdr_append)(struct sipd_msg *m, struct sipd_str name, struct sipd_str value);
	int (*hdr_remove)(struct sipd_msg *m, struct sipd_hdr *h);
	int (*hdr_replace)(struct sipd_msg *m, struct sipd_hdr *h, struct sipd_str value);
	int (*set_ruri)(struct sipd_msg *m, struct sipd_str uri);
	int (*via_push)(struct sipd_msg *m, struct sipd_str via_value);
	int (*set_body)(struct sipd_msg *m, struct sipd_str content_type, struct sipd_str body);
	/* Current (edited) Request-URI. */
	struct sipd_str (*current_ruri)(struct sipd_msg *m);
	/* Writes the edited message into a new buffer from the arena. */
	int (*serialize)(struct sipd_msg *m, struct sipd_str *out);

	/*
	 * Builds a response to request m per RFC 3261 8.2.6: Via list, From,
	 * To (a To-tag added when missing, stable for retransmissions),
	 * Call-ID, CSeq, Server, then extra_headers (CRLF-terminated lines or
	 * empty) and body. The result lives in m's arena.
	 */
	int (*reply_build)(struct sipd_msg *m, int code, struct sipd_str reason,
			   struct sipd_str extra_headers, struct sipd_str content_type, struct sipd_str body,
			   struct sipd_str *out);

	/* A deep copy with its own buffer and arena (for transactions). */
	int (*clone)(struct sipd_msg **out, const struct sipd_msg *m);
	void (*free)(struct sipd_msg *m);

	/*
	 * RFC 3261 18.2.1 / RFC 3581 on a received request: records an edit
	 * adding received=<source ip> (when it differs from the Via host) and
	 * filling rport=<source port> (when rport was asked) on the top Via,
	 * so relayed requests and responses carry them. reply_build applies it
	 * by itself. Idempotent.
	 */
	int (*via_mark_received)(struct sipd_msg *m);
};

/* The parser service ("parser", version 1), used by the core and transports. */
struct sipd_parser_api {
	/*
	 * Parses buf[len] into a new message (buf borrowed for the message's
	 * lifetime). Returns 0, EMSGSIZE (over a limit), EBADMSG (not SIP);
	 * on EBADMSG *why names the problem (static string).
	 */
	int (*parse)(struct sipd_msg **out, const char *buf, size_t len, const struct sipd_rcvinfo *rcv,
		     const char **why);
	void (*free)(struct sipd_msg *m);
	/* For stream transports: length of the complete message at buf, 0 if more bytes are needed, -1 if
	 * invalid. */
	long (*frame_length)(const char *buf, size_t len, size_t max_size, const char **why);
	/*
	 * RFC 3261 checks of a request before anything else looks at it (what
	 * sanity() enforces): 0 when fine, else the status to answer (400, 420,
	 * 505) with *reason saying what was wrong, and *unsupported the first
	 * Require option tag no loaded module supports (for 420). Returns -1
	 * when no response can be routed (no usable Via): drop it.
	 */
	int (*check_request)(struct sipd_msg *m, const char **reason, struct sipd_str *unsupported);
	/*
	 * Parses a sip:, sips: or tel: URI held in s (slices of *out point
	 * into s). Returns 0, EPROTONOSUPPORT for another scheme, EBADMSG.
	 */
	int (*uri_parse)(struct sipd_uri *out, struct sipd_str s);
};
#define SIPD_PARSER_SERVICE "parser"
#define SIPD_PARSER_VERSION 1

/* Convenience accessors (0 or errno: ENOENT absent, EBADMSG unparseable). */

static inline int sipd_msg_hdr(struct sipd_msg *m, struct sipd_hdr *h, const void **out)
{
	return h ? m->ops->hdr_parsed(m, h, out) : 2 /* ENOENT */;
}
static inline int sipd_msg_via(struct sipd_msg *m, const struct sipd_via **out)
{
	return sipd_msg_hdr(m, m->h_via, (const void **)out);
}
static inline int sipd_msg_from(struct sipd_msg *m, const struct sipd_nameaddr **out)
{
	return sipd_msg_hdr(m, m->h_from, (const void **)out);
}
static inline int sipd_msg_to(struct sipd_msg *m, const struct sipd_nameaddr **out)
{
	return sipd_msg_hdr(m, m->h_to, (const void **)out);
}
static inline int sipd_msg_cseq(struct sipd_msg *m, const struct sipd_cseq **out)
{
	return sipd_msg_hdr(m, m->h_cseq, (const void **)out);
}
static inline int sipd_msg_contact(struct sipd_msg *m, const struct sipd_nameaddr **out)
{
	return sipd_msg_hdr(m, m->h_contact, (const void **)out);
}
static inline int sipd_msg_ruri(struct sipd_msg *m, const struct sipd_uri **out)
{
	return m->ops->ruri_parsed(m, out);
}
static inline void *sipd_msg_alloc(struct sipd_msg *m, size_t size)
{
	return m->ops->alloc(m, size);
}

/* Next header of the same type after h, or NULL. */
SIPD_API struct sipd_hdr *sipd_msg_hdr_next(struct sipd_msg *m, struct sipd_hdr *h);
/* First header with that name (full or compact form, case-insensitive), or NULL. */
SIPD_API struct sipd_hdr *sipd_msg_hdr_find(struct sipd_msg *m, struct sipd_str name);
/* Header type for a name (full or compact), SIPD_HDR_OTHER if not known. */
SIPD_API enum sipd_hdr_type sipd_hdr_type_of(struct sipd_str name);
/* Method id for a method token (case-sensitive per RFC 3261). */
SIPD_API enum sipd_method sipd_method_of(struct sipd_str method);

/*
 * Stateless reply to the request in ctx: builds it with the parser and sends
 * it to the top Via per RFC 3261 18.2.2 and RFC 3581 (received/rport; the
 * same connection for stream transports). extra_headers: CRLF-terminated
 * lines or NULL. OPTIONS 2xx and 405 answers get Allow/Accept/Supported.
 * Sets ctx->replied. Returns 0 or errno.
 */
SIPD_API int sipd_reply(struct sipd_ctx *ctx, int code, const char *reason, const char *extra_headers);

/*
 * A final reply built while its request is at hand and sent once the request
 * is gone: the registrar answers a REGISTER after the commit of its bindings,
 * when the receive buffer was long reused. It keeps the bytes and the
 * destination only, not the request.
 */
struct sipd_reply_later;

/*
 * Builds and addresses now what sipd_reply(ctx, code, reason, extra_headers)
 * would send, for a final code without Allow (not 405, not a 2xx to
 * OPTIONS). *out is freed with sipd_reply_later_free. Returns 0 or errno.
 */
SIPD_API int sipd_reply_later(struct sipd_reply_later **out, struct sipd_ctx *ctx, int code,
			      const char *reason, const char *extra_headers);
/*
 * Sends r; with code non-zero, the same reply but with that final status,
 * reason (NULL: the standard one) and extra headers in place of the
 * prepared ones (a late failure). r stays the caller's. Returns 0 or errno.
 */
SIPD_API int sipd_reply_later_send(const struct sipd_reply_later *r, int code, const char *reason,
				   const char *extra_headers);
SIPD_API void sipd_reply_later_free(struct sipd_reply_later *r);

/*
 * Writes a whole "Warning: 399 <agent> \"<text>\"\r\n" line (RFC 3261 20.43)
 * into buf: the agent is the address rcv arrived on (or "sipd" for a
 * wildcard listener), text is quoted with '"' and '\\' escaped. Returns the
 * length written, or -1 (nothing usable) when buf is too small.
 */
SIPD_API int sipd_warning_header(char *buf, size_t size, const struct sipd_rcvinfo *rcv, const char *text);

/* Where a response to request m must go (RFC 3261 18.2.2 / RFC 3581). */
struct sipd_dest;
SIPD_API int sipd_response_dest(struct sipd_dest *out, struct sipd_msg *m);

#endif
