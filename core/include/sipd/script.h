/* What a script function sees: the per-message context, typed arguments, results. */
#ifndef SIPD_SCRIPT_H
#define SIPD_SCRIPT_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include <sipd/api.h>
#include <sipd/str.h>

struct sipd_msg;
struct sipd_rcvinfo;

/* The closed set every script function returns (since ABI 1.0). */
enum sipd_result {
	SIPD_ERROR = -1,  /* failed: the core answers 500 if nothing was sent, and the route ends */
	SIPD_FALSE = 0,   /* a test that is false; the script goes on */
	SIPD_TRUE = 1,    /* success or a true test; the script goes on */
	SIPD_STOP = 2,    /* the request is finished (replied, relayed, dropped): the route ends */
	SIPD_SUSPEND = 3, /* async work started; the module resumes the message later */
};

/* Route kinds; a function lists those it may be used in (bit mask). */
enum sipd_route_type {
	SIPD_ROUTE_REQUEST = 1u << 0,
	SIPD_ROUTE_REPLY = 1u << 1,
	SIPD_ROUTE_FAILURE = 1u << 2,
	SIPD_ROUTE_ANY = (1u << 3) - 1,
};

/* Per-message state the interpreter passes to every function. */
struct sipd_ctx {
	struct sipd_msg *msg;
	const struct sipd_rcvinfo *rcv;
	enum sipd_route_type route;
	/* Set by sipd_reply() and by modules that send a final answer. */
	bool replied;
	/* Set by drop() and by the script statement drop. */
	bool dropped;
	/* Free for the module that owns the message's transaction (tm). */
	void *owner;
	/* Forking targets added by lookup() and the like (see branch.h); NULL when none. */
	struct sipd_branch_set *branches;
};

/* Argument types, checked and converted once when the script is compiled. */
enum sipd_arg_type {
	SIPD_ARG_NONE = 0,
	SIPD_ARG_INT,   /* integer literal: args[i].i */
	SIPD_ARG_STR,   /* string literal: args[i].s (NUL-terminated, lives as long as the script) */
	SIPD_ARG_FMT,   /* string with $pseudo-variables, expanded per message with sipd_fmt_eval() */
	SIPD_ARG_ROUTE, /* name of a `route NAME`, resolved to args[i].route (for sipd_script_run_route) */
	SIPD_ARG_REGEX, /* POSIX extended regex literal, compiled once: args[i].re */
};
/* Or'ed into an argument type: the argument may be left out (then args[i] is zeroed). */
#define SIPD_ARG_OPTIONAL 0x100u
/*
 * Or'ed into SIPD_ARG_ROUTE: the name must be a failure_route (for
 * t_on_failure-like functions) or a named reply_route. Without either, any
 * named route is accepted. args[i].route is an id that stays valid across
 * script reloads (it names the route; a reloaded script's route of that name runs).
 */
#define SIPD_ARG_ROUTE_FAILURE 0x200u
/* The id of the unnamed reply_route, for sipd_script_run_route (since ABI 1.0). */
#define SIPD_ROUTE_ID_REPLY  1
#define SIPD_ARG_ROUTE_REPLY 0x400u
#define SIPD_SCRIPT_MAX_ARGS 6

struct sipd_fmt; /* opaque compiled format string */

union sipd_arg {
	long i;
	struct sipd_str s;
	const struct sipd_fmt *fmt;
	int route;
	const regex_t *re;
	void *ptr; /* whatever a fixup put there */
};

/*
 * A script function. fn gets args already converted to the declared types.
 * fixup (optional) runs once at compile time after conversion and may
 * replace args[i].ptr with module data (freed by free_fixup); it writes a
 * message to err and returns an errno on bad arguments.
 */
struct sipd_script_fn {
	const char *name;
	enum sipd_result (*fn)(struct sipd_ctx *ctx, const union sipd_arg *args);
	unsigned args[SIPD_SCRIPT_MAX_ARGS]; /* sipd_arg_type (| OPTIONAL), 0-terminated */
	unsigned routes;                     /* enum sipd_route_type mask; 0 means all */
	int (*fixup)(union sipd_arg *args, char *err, size_t errlen);
	void (*free_fixup)(union sipd_arg *args);
	const char *help;
};

/* Registers functions the core or a module offers outside a module descriptor. */
SIPD_API int sipd_script_register(const char *owner, const struct sipd_script_fn *fns);

/* Expands a format argument into buf; out points into buf. Returns 0 or ENOSPC. */
SIPD_API int sipd_fmt_eval(struct sipd_ctx *ctx, const struct sipd_fmt *fmt, char *buf, size_t size,
			   struct sipd_str *out);

/* Runs a named route (from an SIPD_ARG_ROUTE argument) on ctx, e.g. for failure routes. */
SIPD_API enum sipd_result sipd_script_run_route(struct sipd_ctx *ctx, int route);

/*
 * Pseudo-variables. The core registers the standard ones ($rm, $ru, ...);
 * modules may add their own at init. A getter fills *out with a slice that
 * stays valid while the message lives (use sipd_msg_alloc for new text) or
 * returns ENOENT when the value does not exist for this message.
 */
struct sipd_pv_value {
	struct sipd_str s;
	long i;
	bool is_int;
};
typedef int (*sipd_pv_get_fn)(struct sipd_ctx *ctx, struct sipd_str param, struct sipd_pv_value *out);
/* name without '$'; takes_param: used as $name(param). */
SIPD_API int sipd_pv_register(const char *name, bool takes_param, sipd_pv_get_fn get);

#endif
