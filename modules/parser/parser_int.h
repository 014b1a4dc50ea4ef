/* Internal interfaces between the parser module's files (not installed). */
#ifndef PARSER_INT_H
#define PARSER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sipd/msg.h>
#include <sipd/transport.h>

/* ---- limits (module parameters) --------------------------------------- */

struct parser_limits {
	int max_message_size;
	int max_headers;
	int max_line_length;
	int max_uri_length;
};
extern struct parser_limits parser_limits;

/* ---- arena.c: per-message bump allocator ------------------------------ */

struct parser_chunk;

struct parser_arena {
	char *p, *end;              /* free space of the current chunk */
	struct parser_chunk *extra; /* malloc'ed chunks beyond the inline one */
	size_t used;                /* bytes handed out, so a clone can size its arena to fit */
};

void parser_arena_init(struct parser_arena *a, void *mem, size_t size);
void *parser_arena_alloc(struct parser_arena *a, size_t size);
void parser_arena_release(struct parser_arena *a);
/* Copies s into the arena; NULL slice on ENOMEM (len 0 copies to a valid empty slice). */
int parser_arena_dup(struct parser_arena *a, struct sipd_str *out, struct sipd_str s);

/* ---- msg.c: the private message ---------------------------------------- */

enum parser_edit_kind {
	PARSER_EDIT_INSERT = 1, /* appended header, pushed Via, terminator fix */
	PARSER_EDIT_HDR,        /* removed or replaced header line */
	PARSER_EDIT_RURI,
	PARSER_EDIT_BODY,
	PARSER_EDIT_VIA_RECV, /* received/rport on the top Via */
};

struct parser_edit {
	size_t off, del;     /* bytes [off, off+del) of buf are replaced by ins */
	struct sipd_str ins; /* lives in the arena */
	long order;          /* tie-break among edits at the same offset */
	enum parser_edit_kind kind;
	long hdr; /* header index for PARSER_EDIT_HDR, else -1 */
};

enum parser_ruri_state { PARSER_RURI_UNPARSED = 0, PARSER_RURI_OK, PARSER_RURI_FAILED };

struct parser_msg {
	struct sipd_msg pub; /* first: a struct sipd_msg * is a struct parser_msg * */
	struct parser_arena arena;
	size_t inline_size;      /* of the arena's first block, allocated with the message */
	struct sipd_rcvinfo rcv; /* own copy: the transport's is only borrowed */
	bool has_rcv;

	size_t hdrs_off; /* offset of the first header line (after the start line) */
	size_t hdr_end;  /* offset where the blank line starts (or len) */
	size_t body_off;
	/* 0: terminated; 1: blank line missing; 2: last line has no LF either */
	int term_missing;
	/* 1 + index of the first header with a NUL byte in its value (a request sanity() answers 400), or 0
	 */
	unsigned nul_hdr;
	/* the request line splits into its three parts but is not spaced as RFC 3261 7.1 says */
	bool loose_start_line;

	enum parser_ruri_state ruri_state;
	int ruri_err;
	struct sipd_uri ruri;

	struct parser_edit *edits;
	size_t edit_count, edit_cap;
	long order_next, push_next;
	long ruri_edit, body_edit, cl_edit, ct_edit; /* edit indexes or -1 */
	bool via_marked;
	char *owned_buf; /* clone's private copy of the buffer */
};

static inline struct parser_msg *parser_msg_of(struct sipd_msg *m)
{
	return (struct parser_msg *)m;
}

extern const struct sipd_msg_ops parser_msg_ops;

int parser_parse(struct sipd_msg **out, const char *buf, size_t len, const struct sipd_rcvinfo *rcv,
		 const char **why);
void parser_free(struct sipd_msg *m);
/* Frees the messages kept for reuse; later ones go back to malloc (module stop). */
void parser_msg_spares_free(void);
int parser_clone(struct sipd_msg **out, const struct sipd_msg *m);
void *parser_alloc(struct sipd_msg *m, size_t size);

/* ---- scan.c: first pass and stream framing ----------------------------- */

int parser_scan(struct parser_msg *pm, const char **why);
long parser_frame_length(const char *buf, size_t len, size_t max_size, const char **why);
/* Unsigned decimal with optional surrounding LWS; EBADMSG if not digits, ERANGE above max. */
int parser_uint(uint32_t *out, struct sipd_str s, uint32_t max);

/* ---- lex.c: character classes and a cursor ----------------------------- */

enum {
	PARSER_C_TOKEN = 1 << 0, /* RFC 3261 token */
	PARSER_C_ALNUM = 1 << 1,
	PARSER_C_DIGIT = 1 << 2,
	PARSER_C_HEX = 1 << 3,
	PARSER_C_UNRESERVED = 1 << 4, /* alphanum / mark */
	PARSER_C_USER = 1 << 5,       /* unreserved / user-unreserved */
	PARSER_C_PASSWD = 1 << 6,     /* unreserved / "&=+$," */
	PARSER_C_PARAM = 1 << 7,      /* unreserved / param-unreserved */
	PARSER_C_HNV = 1 << 8,        /* unreserved / hnv-unreserved */
	PARSER_C_WORD = 1 << 9,       /* Call-ID word */
	PARSER_C_WS = 1 << 10,        /* SP HT CR LF (LWS inside unfolded values) */
	PARSER_C_PVALUE = 1 << 11,    /* header param value: token / host (':' '[' ']') */
	PARSER_C_TEL = 1 << 12,       /* tel number: digits, hex, visual separators, * # + */
};
extern const uint16_t parser_ctab[256];

static inline bool parser_is(char c, unsigned cls)
{
	return (parser_ctab[(unsigned char)c] & cls) != 0;
}

struct parser_cur {
	const char *p, *e;
};

static inline struct parser_cur parser_cur_of(struct sipd_str s)
{
	struct parser_cur c = {s.p, s.p + s.len};
	return c;
}

static inline bool parser_at_end(const struct parser_cur *c)
{
	return c->p >= c->e;
}

void parser_skip_ws(struct parser_cur *c);
/* Skips LWS, then ch and LWS after it; false (nothing consumed but LWS) if ch is not next. */
bool parser_eat(struct parser_cur *c, char ch);
/* Longest run of class cls (maybe empty). */
struct sipd_str parser_take(struct parser_cur *c, unsigned cls);
/* At '"': the content without quotes (quoted-pairs kept as written); EBADMSG if unterminated. */
int parser_quoted(struct parser_cur *c, struct sipd_str *inner);
/* True if every byte is in cls or a valid %HH escape (escape=true) */
bool parser_valid(struct sipd_str s, unsigned cls, bool escape);
/* A NUL byte in v other than as a quoted-pair inside a quoted string (where RFC 3261 allows it). */
bool parser_nul_unquoted(struct sipd_str v);
/* Host: hostname / IPv4 / "[IPv6]" (or bare IPv6 when bare_ipv6); sets *ipv6. */
bool parser_valid_host(struct sipd_str host, bool bare_ipv6, bool *ipv6);
struct sipd_str parser_trim(struct sipd_str s);

/* ---- params.c: ;name[=value] lists ------------------------------------ */

/*
 * At optional LWS then ';': reads one parameter. 0 with *out set; ENOENT
 * when the next non-LWS byte is not ';' (cursor left at it); EBADMSG.
 */
int parser_param_next(struct parser_cur *c, struct sipd_param *out);
/* Iterates the raw list of a uri/header ("a=b;c"): returns 0, ENOENT at end, EBADMSG. */
int parser_uri_param_next(struct parser_cur *c, struct sipd_param *out);

/* ---- uri.c --------------------------------------------------------------- */

/* Parses a sip:/sips:/tel: URI; EPROTONOSUPPORT for another scheme, EBADMSG. */
int parser_uri_parse(struct sipd_uri *out, struct sipd_str s);

/* ---- nameaddr.c, via.c, fields.c, auth.c, session.c, tokens.c ---------- */

enum { PARSER_NA_LIST = 1, PARSER_NA_STAR = 2, PARSER_NA_CONTACT = 4 };
/* Parses a header value into a list of name-addrs (one unless PARSER_NA_LIST). */
int parser_nameaddr_list(struct parser_arena *a, struct sipd_nameaddr **head, struct sipd_nameaddr **tail,
			 struct sipd_str value, unsigned flags);
int parser_via_list(struct parser_arena *a, struct sipd_via **head, struct sipd_via **tail,
		    struct sipd_str value);
/* The first via-parm of a value, without allocating. */
int parser_via_first(struct sipd_via *out, struct sipd_str value);
int parser_cseq_parse(struct sipd_cseq *out, struct sipd_str value);
int parser_callid_valid(struct sipd_str value);
int parser_content_type(struct sipd_str *out, struct sipd_str value);
int parser_auth_parse(struct sipd_auth *out, struct sipd_str value);
int parser_session_expires(struct sipd_session_expires *out, struct sipd_str value);
/* Appends the option tags of value to t (items sized by the caller). */
int parser_tokens_add(struct sipd_tokens *t, unsigned cap, struct sipd_str value);

/* ---- lazy.c ------------------------------------------------------------- */

int parser_hdr_parsed(struct sipd_msg *m, struct sipd_hdr *h, const void **out);
int parser_ruri_parsed(struct sipd_msg *m, const struct sipd_uri **out);
/* The top via-parm, from the cache or parsed from the first Via line alone. */
int parser_via_top(struct parser_msg *pm, struct sipd_via *out);

/* ---- edit.c ------------------------------------------------------------- */

int parser_hdr_append(struct sipd_msg *m, struct sipd_str name, struct sipd_str value);
int parser_hdr_remove(struct sipd_msg *m, struct sipd_hdr *h);
int parser_hdr_replace(struct sipd_msg *m, struct sipd_hdr *h, struct sipd_str value);
int parser_set_ruri(struct sipd_msg *m, struct sipd_str uri);
int parser_via_push(struct sipd_msg *m, struct sipd_str via_value);
int parser_set_body(struct sipd_msg *m, struct sipd_str content_type, struct sipd_str body);
struct sipd_str parser_current_ruri(struct sipd_msg *m);
int parser_serialize(struct sipd_msg *m, struct sipd_str *out);
/* Records an edit (ins copied into the arena); *idx gets its index when not NULL. */
int parser_edit_add(struct parser_msg *pm, enum parser_edit_kind kind, size_t off, size_t del,
		    struct sipd_str ins, long order, long hdr, long *idx);
/* Writes buf[start, end) with the edits of kind applied (NULL dst: just measures). */
size_t parser_render_range(struct parser_msg *pm, size_t start, size_t end, enum parser_edit_kind kind,
			   char *dst);

/* ---- received.c, reply.c, check.c -------------------------------------- */

int parser_via_mark_received(struct sipd_msg *m);
int parser_reply_build(struct sipd_msg *m, int code, struct sipd_str reason, struct sipd_str extra_headers,
		       struct sipd_str content_type, struct sipd_str body, struct sipd_str *out);
const char *parser_reason_phrase(int code);
int parser_check_request(struct sipd_msg *m, const char **reason, struct sipd_str *unsupported);

#endif
