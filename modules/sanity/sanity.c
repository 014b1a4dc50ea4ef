/* The sanity module: sanity() rejects malformed requests before anything else reads them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/msg.h>
#include <sipd/service.h>
#include <sipd/stats.h>
#include <sipd/transport.h>

static const struct sipd_parser_api *parser;

static struct sipd_stat *stat_400, *stat_420, *stat_505, *stat_other, *stat_no_via;

static void count(int status)
{
	if (status == 400)
		sipd_stat_inc(stat_400);
	else if (status == 420)
		sipd_stat_inc(stat_420);
	else if (status == 505)
		sipd_stat_inc(stat_505);
	else
		sipd_stat_inc(stat_other);
}

static enum sipd_result sanity(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	const char *reason = NULL;
	struct sipd_str unsupported = SIPD_STR_NULL;
	char extra[512];
	int status, n, err;

	status = parser->check_request(ctx->msg, &reason, &unsupported);
	if (status == 0)
		return SIPD_TRUE;
	if (status < 0) {
		/* Nowhere to send an answer: drop it silently. */
		sipd_stat_inc(stat_no_via);
		ctx->dropped = true;
		return SIPD_STOP;
	}
	if (!reason || !*reason)
		reason = "Bad Request";
	count(status);
	n = sipd_warning_header(extra, sizeof(extra), ctx->rcv, reason);
	if (n < 0) {
		n = 0;
		extra[0] = '\0';
	}
	/* The tag is capped so the header block always ends with its CRLF. */
	if (status == 420 && unsupported.len && (size_t)n < sizeof(extra))
		snprintf(extra + n, sizeof(extra) - (size_t)n, "Unsupported: %.*s\r\n",
			 (int)(unsupported.len < 128 ? unsupported.len : 128), unsupported.p);
	err = sipd_reply(ctx, status, reason, extra);
	if (err)
		SIPD_DBG("%d \"%s\" not sent: %s", status, reason, strerror(err));
	return SIPD_STOP;
}

static int sanity_init(void)
{
	stat_400 = sipd_stat_register("sanity", "rejected_400", "requests answered 400 Bad Request");
	stat_420 = sipd_stat_register("sanity", "rejected_420", "requests answered 420 Bad Extension");
	stat_505 =
	    sipd_stat_register("sanity", "rejected_505", "requests answered 505 Version Not Supported");
	stat_other = sipd_stat_register("sanity", "rejected_other", "requests answered another error status");
	stat_no_via = sipd_stat_register("sanity", "dropped_no_via", "requests dropped: no usable Via");
	if (!stat_400 || !stat_420 || !stat_505 || !stat_other || !stat_no_via)
		return ENOMEM;
	return 0;
}

static int sanity_start(void)
{
	int err = sipd_service_require(SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION, (const void **)&parser);

	if (err)
		SIPD_ERR("the parser service is missing: %s", strerror(err));
	return err;
}

static const struct sipd_script_fn sanity_functions[] = {
    {.name = "sanity",
     .fn = sanity,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "Checks a request per RFC 3261 (Via, CSeq, Call-ID, Content-Length, Max-Forwards, "
	     "version, Require); answers 400/420/505 with a Warning and stops, or drops it "
	     "when no Via can route an answer; true when the request is sound."},
    {.name = NULL},
};

static const char *const sanity_requires[] = {"parser", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "sanity",
    .version = "1.0",
    .description = "rejects malformed requests with the reason in a Warning header",
    .requires = sanity_requires,
    .functions = sanity_functions,
    .init = sanity_init,
    .start = sanity_start,
};
