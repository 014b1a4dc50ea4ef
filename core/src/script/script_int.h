/* Internal structures shared by the routing-script compiler, interpreter and reloader. */
#ifndef SIPD_SCRIPT_INT_H
#define SIPD_SCRIPT_INT_H

#include <regex.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <sipd/msg.h>
#include <sipd/script.h>

/* route() nesting allowed at run time before the message fails with ERROR. */
#define SCRIPT_MAX_DEPTH 100
/* Distinct $var(name) names one script may use (per-message storage is a fixed array). */
#define SCRIPT_MAX_VARS 64
/* Longest string an expression may expand to (format strings, values compared). */
#define SCRIPT_VALUE_MAX 2048

/*
 * Route ids are interned names that stay stable across reloads, so a module
 * holding an id from an SIPD_ARG_ROUTE argument finds the route of the same
 * name in whatever script runs later. The two unnamed routes have fixed ids.
 */
#define SCRIPT_ROUTE_ID_REQUEST 0
#define SCRIPT_ROUTE_ID_REPLY   1

/* ---- arena.c: all of a compiled script lives in one arena ---- */
struct script_arena {
	struct script_arena_block *head;
};
void *script_arena_alloc(struct script_arena *a, size_t size);
char *script_arena_strndup(struct script_arena *a, const char *s, size_t len);
void script_arena_free(struct script_arena *a);

/* ---- source text and error reporting ---- */
struct script_src {
	const char *file;
	const char *text;
	size_t len;
};
/* Writes "file:line:col: message", the source line and a caret line to err. */
void script_errorf(const struct script_src *src, int line, int col, char *err, size_t errlen, const char *fmt,
		   ...) SIPD_PRINTF(6, 7);

/* ---- lexer.c ---- */
enum script_tok {
	TOK_EOF = 0,
	TOK_IDENT,
	TOK_STRING,
	TOK_INT,
	TOK_PV,
	TOK_LBRACE,
	TOK_RBRACE,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_SEMI,
	TOK_COMMA,
	TOK_ASSIGN,
	TOK_EQ,
	TOK_NE,
	TOK_LT,
	TOK_GT,
	TOK_LE,
	TOK_GE,
	TOK_MATCH,
	TOK_NOMATCH,
	TOK_NOT,
	TOK_AND,
	TOK_OR,
};

struct script_token {
	enum script_tok type;
	int line, col;
	int end_line, end_col;             /* just after the token, for "missing ;" */
	struct sipd_str text;              /* raw source text */
	struct sipd_str str;               /* TOK_STRING: decoded, NUL-terminated in the arena */
	long i;                            /* TOK_INT */
	struct sipd_str pv_name, pv_param; /* TOK_PV: name without '$', param without () */
	bool pv_has_param;
};

struct script_lexer {
	const struct script_src *src;
	struct script_arena *arena;
	size_t pos;
	int line;
	size_t line_start;
	char *err;
	size_t errlen;
};

void script_lex_init(struct script_lexer *lx, const struct script_src *src, struct script_arena *arena,
		     char *err, size_t errlen);
/* Returns 0 or EINVAL with the error in lx->err. */
int script_lex_next(struct script_lexer *lx, struct script_token *t);
/* Short printable name of a token kind, for "expected X" messages. */
const char *script_tok_name(enum script_tok t);

/* ---- registry.c: script functions and pseudo-variables ---- */
struct script_fn_entry {
	const char *owner;
	const struct sipd_script_fn *fn;
};
/* Finds a function by name; NULL if unknown. */
const struct script_fn_entry *script_fn_lookup(struct sipd_str name);
/* Finds a pseudo-variable; 0 or ENOENT. */
int script_pv_lookup(struct sipd_str name, bool *takes_param, sipd_pv_get_fn *get);
/* Interns a route name and returns its stable id (>= 2), or -1 on ENOMEM. */
int script_route_intern(struct sipd_str name);
/* Forgets every registration (tests, and a daemon that restarts in-process). */
void script_registry_reset(void);

/* ---- pseudo-variable references and format strings (pv.c, fmt.c) ---- */
struct script_pv {
	sipd_pv_get_fn get;    /* NULL for $var(name) */
	struct sipd_str param; /* lives in the script's arena */
	int var;               /* $var slot, -1 otherwise */
	const char *name;
};

struct script_fmt_seg {
	bool is_pv;
	struct sipd_str lit;
	struct script_pv pv;
};

struct sipd_fmt {
	unsigned count;
	bool constant;        /* no pseudo-variable: text is the whole value */
	struct sipd_str text; /* the decoded literal (for constant formats and messages) */
	struct script_fmt_seg seg[];
};

/* Reads a pseudo-variable for the current message; ENOENT when absent. */
int script_pv_get(struct sipd_ctx *ctx, const struct script_pv *pv, struct sipd_pv_value *out);
/* The standard pseudo-variables ($rm, $ru, ...), registered by script_core_register. */
int script_pv_register_core(void);

/* Parts of a sip:/sips:/tel: URI string, used for $rU/$rd/$rp reads and rewrites. */
struct script_uri_parts {
	struct sipd_str scheme;        /* "sip" */
	struct sipd_str user;          /* empty if none */
	struct sipd_str host;          /* with brackets for IPv6, as written */
	struct sipd_str port;          /* digits, empty if none */
	struct sipd_str rest;          /* ";params?headers" as written */
	struct sipd_str userinfo_rest; /* ":password" after the user, as written */
};
int script_uri_split(struct sipd_str uri, struct script_uri_parts *out);

/* ---- interp.c: per-message run state ---- */
struct script;
struct script_var {
	struct sipd_pv_value v;
	bool set;
};
struct script_run {
	struct sipd_ctx *ctx;
	const struct script *script;
	unsigned depth;
	struct script_var vars[SCRIPT_MAX_VARS];
};
/* The run of the calling thread, or NULL outside the interpreter ($var reads need it). */
struct script_run *script_run_current(void);

/* ---- the compiled script (compile.c builds it, interp.c runs it) ---- */
enum script_op {
	S_BLOCK,
	S_IF,
	S_CALL,
	S_ROUTE,
	S_RETURN,
	S_EXIT,
	S_DROP,
	S_ASSIGN,
	S_NOP,
	E_AND,
	E_OR,
	E_NOT,
	E_EQ,
	E_NE,
	E_LT,
	E_GT,
	E_LE,
	E_GE,
	E_MATCH,
	E_NOMATCH,
	E_INT,
	E_STR,
	E_PV,
	E_CALL,
	E_ROUTE,
};

enum script_assign_target { ASSIGN_RURI, ASSIGN_RURI_USER, ASSIGN_RURI_HOST, ASSIGN_VAR };

struct script_route;

struct script_call {
	struct script_token name; /* resolve.c reports errors at it */
	const struct script_fn_entry *entry;
	union sipd_arg args[SIPD_SCRIPT_MAX_ARGS];
	unsigned nargs; /* given at the call site */
	struct script_token argt[SIPD_SCRIPT_MAX_ARGS];
	struct script_call *next_fixed; /* list of calls whose free_fixup must run */
};

struct script_node {
	enum script_op op;
	int line, col;
	struct script_node *next; /* next statement of a block */
	union {
		struct script_node *first; /* S_BLOCK */
		struct {
			struct script_node *cond, *then, *els;
		} cif;
		struct script_call *call; /* S_CALL, E_CALL */
		struct {
			struct script_token name;
			struct script_route *target;
		} route; /* S_ROUTE, E_ROUTE */
		struct {
			long value;
			bool has_value;
		} ret; /* S_RETURN */
		struct {
			enum script_assign_target target;
			int var;
			struct script_node *value;
		} assign;
		struct {
			struct script_node *l, *r;
		} bin;
		struct {
			struct script_node *l;
			regex_t *re;
		} match;
		long ival;                  /* E_INT */
		const struct sipd_fmt *fmt; /* E_STR */
		struct script_pv pv;        /* E_PV */
	} u;
};

/* Kinds of top-level routes; a plain `route` is 0. */
struct script_route {
	const char *name; /* NULL for request_route and the unnamed reply_route */
	unsigned kind;    /* SIPD_ROUTE_REQUEST/REPLY/FAILURE, 0 for `route NAME` */
	unsigned reach;   /* route kinds that can run it (computed) */
	int id;
	int line, col;
	struct script_node *body;
};

struct script_regex {
	regex_t re;
	struct script_regex *next;
};
/*
 * regex.c: regcomp(re, pattern, flags) after refusing the patterns glibc
 * would compile into gigabytes (stacked repetition operators, nested bounded
 * repetitions). 0, or EINVAL with the reason in why.
 */
int script_regex_compile(regex_t *re, const char *pattern, int flags, char *why, size_t whylen);

struct script {
	struct script_arena arena;
	char *path;
	struct script_route *routes;
	unsigned nroutes;
	struct script_route **by_id; /* indexed by route id; NULL where this script has none */
	unsigned nids;
	const char *vars[SCRIPT_MAX_VARS];
	unsigned nvars;
	struct script_call *fixed;    /* calls with a fixup to undo */
	struct script_regex *regexes; /* compiled regexes to free */
};

/* compile.c: parses and checks path; *out is a new script or err holds the first error. */
int script_compile(struct script **out, const char *path, char *err, size_t errlen);
/* Same from a string (file is the name used in messages). */
int script_compile_text(struct script **out, const char *file, const char *text, size_t len, char *err,
			size_t errlen);
void script_free(struct script *s);

/* parse.c: builds the route bodies; resolve.c: names, arguments, fixups, route kinds. */
struct script_comp {
	struct script *s;
	struct script_src src;
	struct script_lexer lx;
	struct script_token tok;  /* current token */
	struct script_token prev; /* last consumed token */
	char *err;
	size_t errlen;
	unsigned route_cap;
	unsigned depth;      /* blocks open while parsing */
	unsigned expr_depth; /* parentheses and '!' open while parsing */
};
int script_parse(struct script_comp *c);
int script_resolve(struct script_comp *c);
/* Compiles a format string token (pvs resolved, $var slots allocated). */
int script_fmt_compile(struct script_comp *c, const struct script_token *t, const struct sipd_fmt **out);
/* Resolves a $name / $name(param) token to a pv reference. */
int script_pv_resolve(struct script_comp *c, const struct script_token *t, struct script_pv *out);
int script_var_slot(struct script_comp *c, const struct script_token *t, struct sipd_str name);

/* interp.c: runs route r of script s on ctx. */
enum sipd_result script_exec(const struct script *s, const struct script_route *r, struct sipd_ctx *ctx);

/* reload.c: the running script for the calling thread's slot. */
enum sipd_result script_run_id(struct sipd_ctx *ctx, int id);

#endif
