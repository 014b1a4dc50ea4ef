/* The tm script functions: relay, t_reply, record_route, loose_route, t_on_failure, t_on_reply,
 * append_branch. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

static enum sipd_result fn_relay(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	(void)args;
	return tm_proxy_relay(ctx);
}

static enum sipd_result fn_t_reply(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct tm_cell *c = ctx->owner;
	char tmp[256], reason[256];
	struct sipd_str r;
	int code = (int)args[0].i, err;

	if (!ctx->msg->is_request)
		return SIPD_ERROR;
	if (ctx->msg->method_id == SIPD_METHOD_ACK) {
		ctx->dropped = true;
		return SIPD_STOP;
	}
	if (sipd_fmt_eval(ctx, args[1].fmt, tmp, sizeof(tmp), &r))
		r = SIPD_STR("Reason Too Long");
	snprintf(reason, sizeof(reason), "%.*s", SIPD_STR_FMT(r));
	for (char *p = reason; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	if (c) {
		/* A failure route: the cell is ours, unlocked while the script runs. */
		tm_cell_lock(c);
		err = tm_uas_reply(c, code, reason, NULL, NULL, NULL);
		tm_cell_unlock(c);
	} else {
		if ((err = tm_uas_create(&c, ctx)))
			goto out;
		err = tm_uas_reply(c, code, reason, NULL, NULL, NULL);
		tm_cell_check_done(c);
		tm_cell_unlock(c);
		tm_cell_unref(c);
	}
out:
	if (err) {
		SIPD_WARN("t_reply(%d): %s", code, strerror(err));
		return SIPD_ERROR;
	}
	if (code < 200)
		return SIPD_TRUE;
	ctx->replied = true;
	return SIPD_STOP;
}

static int fixup_t_reply(union sipd_arg *args, char *err, size_t errlen)
{
	if (args[0].i < 100 || args[0].i > 699) {
		snprintf(err, errlen, "t_reply(): status %ld is not between 100 and 699", args[0].i);
		return EINVAL;
	}
	return 0;
}

static enum sipd_result fn_record_route(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	(void)args;
	return tm_record_route(ctx);
}

static enum sipd_result fn_loose_route(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	(void)args;
	return tm_loose_route(ctx);
}

static enum sipd_result fn_t_on_failure(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	tm_routes_set(ctx, args[0].route, -1);
	return SIPD_TRUE;
}

static enum sipd_result fn_t_on_reply(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	tm_routes_set(ctx, -1, args[0].route);
	return SIPD_TRUE;
}

static enum sipd_result fn_append_branch(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	char buf[1024];
	struct sipd_branch b = {.q = -1};
	struct sipd_uri u;
	int err;

	if (sipd_fmt_eval(ctx, args[0].fmt, buf, sizeof(buf), &b.uri) || tm_parser->uri_parse(&u, b.uri)) {
		SIPD_WARN("append_branch(): not a usable URI");
		return SIPD_FALSE;
	}
	if ((err = sipd_branch_add(ctx, &b))) {
		SIPD_WARN("append_branch(): %s", strerror(err));
		return SIPD_FALSE;
	}
	return SIPD_TRUE;
}

const struct sipd_script_fn tm_functions[] = {
    {.name = "relay",
     .fn = fn_relay,
     .routes = SIPD_ROUTE_REQUEST | SIPD_ROUTE_FAILURE,
     .help =
	 "Forwards the request statefully to the branches lookup()/append_branch() added (parallel "
	 "forking) or to the Request-URI; next hop from the Route set (RFC 3261 16.6, RFC 3263). "
	 "INVITE gets 100 Trying at once; loops get 482. An ACK is forwarded statelessly. Stops the route."},
    {.name = "t_reply",
     .fn = fn_t_reply,
     .args = {SIPD_ARG_INT, SIPD_ARG_FMT},
     .routes = SIPD_ROUTE_REQUEST | SIPD_ROUTE_FAILURE,
     .fixup = fixup_t_reply,
     .help = "t_reply(code, reason): answers on the server transaction (created when needed), so "
	     "retransmissions get the same answer. A final answer stops the route."},
    {.name = "record_route",
     .fn = fn_record_route,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "Adds Record-Route <sip:address;lr> of the socket the request came on (transport= for "
	     "TCP); relay() adds a second one when the request leaves on another socket."},
    {.name = "loose_route",
     .fn = fn_loose_route,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "RFC 3261 16.4: removes the Route entries naming us (and repairs a strict router's "
	     "Request-URI); true when the request carried a Route set."},
    {.name = "t_on_failure",
     .fn = fn_t_on_failure,
     .args = {SIPD_ARG_ROUTE | SIPD_ARG_ROUTE_FAILURE},
     .routes = SIPD_ROUTE_REQUEST | SIPD_ROUTE_FAILURE,
     .help = "t_on_failure(NAME): runs failure_route NAME when every branch failed (before the final "
	     "answer goes upstream); it may append_branch()/relay() again or t_reply()."},
    {.name = "t_on_reply",
     .fn = fn_t_on_reply,
     .args = {SIPD_ARG_ROUTE | SIPD_ARG_ROUTE_REPLY},
     .routes = SIPD_ROUTE_REQUEST | SIPD_ROUTE_FAILURE,
     .help = "t_on_reply(NAME): runs reply_route NAME for each response of the transaction; drop "
	     "there keeps a provisional from going upstream."},
    {.name = "append_branch",
     .fn = fn_append_branch,
     .args = {SIPD_ARG_FMT},
     .routes = SIPD_ROUTE_REQUEST | SIPD_ROUTE_FAILURE,
     .help = "append_branch(uri): adds a target; relay() forks to all targets added (lookup() adds "
	     "them too). False when the URI is unusable or the set is full."},
    {.name = NULL},
};
