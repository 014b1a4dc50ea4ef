/* The receive path: parse, count, run request_route or hand a reply on, answer 500 on script errors. */
#include <errno.h>

#include <sipd/log.h>
#include <sipd/msg.h>
#include <sipd/script.h>
#include <sipd/service.h>
#include <sipd/stats.h>
#include <sipd/transport.h>

#include "internal.h"
#include "script/script_int.h"

/* Set once in receive_start, before any worker runs; read-only afterwards. */
static const struct sipd_parser_api *parser;
static const struct sipd_reply_handler_api *reply_handler;
static const struct sipd_request_handler_api *request_handler;
static struct sipd_stat *st_requests, *st_replies, *st_unparseable;

int receive_start(void)
{
	const void *api;
	int err;

	if ((err = sipd_service_require(SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION, &api))) {
		SIPD_ERR("receive: no parser service (%s v%d): is the parser module loaded?",
			 SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION);
		return err;
	}
	parser = api;
	/* Optional: without a reply owner, replies only run reply_route. */
	reply_handler =
	    sipd_service_require(SIPD_REPLY_HANDLER_SERVICE, SIPD_REPLY_HANDLER_VERSION, &api) == 0 ? api
												    : NULL;
	request_handler =
	    sipd_service_require(SIPD_REQUEST_HANDLER_SERVICE, SIPD_REQUEST_HANDLER_VERSION, &api) == 0
		? api
		: NULL;
	st_requests = sipd_stat_register("core", "rx_requests", "requests received and parsed");
	st_replies = sipd_stat_register("core", "rx_replies", "replies received and parsed");
	st_unparseable =
	    sipd_stat_register("core", "rx_unparseable", "messages dropped because they did not parse");
	if (!st_requests || !st_replies || !st_unparseable)
		return ENOMEM;
	return 0;
}

static void on_request(struct sipd_ctx *ctx)
{
	enum sipd_result res;

	if (request_handler && request_handler->on_request(ctx))
		return;
	res = sipd_script_run_route(ctx, SCRIPT_ROUTE_ID_REQUEST);

	/* An ACK is never answered (RFC 3261 17.1.1.3); neither is a dropped request. */
	if (res == SIPD_ERROR && !ctx->replied && !ctx->dropped && ctx->msg->method_id != SIPD_METHOD_ACK) {
		int err = sipd_reply(ctx, 500, "Server Internal Error", NULL);
		if (err)
			SIPD_DBG("receive: cannot send 500: %d", err);
	}
}

static void on_reply(struct sipd_ctx *ctx)
{
	if (reply_handler && reply_handler->on_reply(ctx))
		return;
	/* No transaction layer took it: run reply_route for logging/inspection, then drop. */
	sipd_script_run_route(ctx, SCRIPT_ROUTE_ID_REPLY);
}

SIPD_API void sipd_receive(const struct sipd_rcvinfo *ri, const char *buf, size_t len)
{
	struct sipd_msg *m = NULL;
	const char *why = NULL;
	int err;

	if (!parser || !ri || !buf)
		return;
	if ((err = parser->parse(&m, buf, len, ri, &why))) {
		sipd_stat_inc(st_unparseable);
		SIPD_DBG("receive: dropped %zu bytes from %s: %s", len, sipd_proto_name(ri->proto),
			 why ? why : (err == EMSGSIZE ? "message too large" : "unparseable"));
		return;
	}
	struct sipd_ctx ctx = {
	    .msg = m,
	    .rcv = ri,
	    .route = m->is_request ? SIPD_ROUTE_REQUEST : SIPD_ROUTE_REPLY,
	};
	if (m->is_request) {
		sipd_stat_inc(st_requests);
		on_request(&ctx);
	} else {
		sipd_stat_inc(st_replies);
		on_reply(&ctx);
	}
	parser->free(m);
}
