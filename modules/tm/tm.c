/* The tm module: RFC 3261 transactions and the stateful proxy; hooks into the receive path and transports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/service.h>

#include "tm_int.h"

/* Before request_route: retransmissions, ACKs of our non-2xx answers and CANCELs end here (16.10). */
static bool on_request(struct sipd_ctx *ctx)
{
	struct sipd_msg *m = ctx->msg;
	struct tm_cell *c, *inv;
	bool absorbed;

	if ((c = tm_match_request(m, false))) {
		tm_cell_lock(c);
		absorbed = tm_uas_on_request(c, m);
		tm_cell_check_done(c);
		tm_cell_unlock(c);
		tm_cell_unref(c);
		return absorbed;
	}
	if (m->method_id != SIPD_METHOD_CANCEL || !(inv = tm_match_request(m, true)))
		return false;
	/* Unmatched CANCELs go to the script (which may relay them statelessly-alike). */
	if (tm_uas_create(&c, ctx) == 0) {
		tm_uas_reply(c, 200, "Canceling", NULL, NULL, NULL);
		tm_cell_check_done(c);
		tm_cell_unlock(c);
		tm_cell_unref(c);
	}
	tm_cell_lock(inv);
	if (inv->proxy)
		tm_proxy_cancel(inv);
	else if (inv->uas.status < 200)
		tm_uas_reply(inv, 487, "Request Terminated", NULL, NULL, NULL);
	tm_cell_check_done(inv);
	tm_cell_unlock(inv);
	tm_cell_unref(inv);
	return true;
}

static bool on_reply(struct sipd_ctx *ctx)
{
	struct tm_uac *u;
	struct tm_cell *c = tm_match_response(ctx->msg, &u);

	if (!c)
		return tm_stateless_response(ctx);
	tm_cell_lock(c);
	tm_uac_on_response(u, ctx->msg);
	tm_cell_check_done(c);
	tm_cell_unlock(c);
	tm_cell_unref(c);
	return true;
}

static const struct sipd_request_handler_api request_handler = {.on_request = on_request};
static const struct sipd_reply_handler_api reply_handler = {.on_reply = on_reply};

static const char *const proxied_methods[] = {"INVITE", "ACK",     "BYE",       "CANCEL", "UPDATE", "PRACK",
					      "INFO",   "MESSAGE", "SUBSCRIBE", "NOTIFY", "REFER"};

static int tm_init(void)
{
	int err;

	if (tm_cfg.t2 < tm_cfg.t1) {
		SIPD_ERR("t2 (%d ms) must not be below t1 (%d ms)", tm_cfg.t2, tm_cfg.t1);
		return EINVAL;
	}
	if ((err = tm_dns_servers_check(tm_cfg.dns_servers)))
		return err;
	if ((err = tm_stats_init()) || (err = tm_flow_init()) ||
	    (err = tm_table_init((unsigned)tm_cfg.buckets)))
		return err;
	if ((err = sipd_service_provide(TM_SERVICE, TM_SERVICE_VERSION, &tm_api_table)) ||
	    (err = sipd_service_provide(SIPD_REQUEST_HANDLER_SERVICE, SIPD_REQUEST_HANDLER_VERSION,
					&request_handler)) ||
	    (err = sipd_service_provide(SIPD_REPLY_HANDLER_SERVICE, SIPD_REPLY_HANDLER_VERSION,
					&reply_handler)) ||
	    (err = sipd_transport_on_error(tm_on_transport_error))) {
		SIPD_ERR("cannot register the tm services: %s", strerror(err));
		return err;
	}
	/* A stateful proxy carries these (RFC 3261 and the usual extensions): say so in Allow. */
	for (unsigned i = 0; i < sizeof(proxied_methods) / sizeof(proxied_methods[0]); i++)
		if ((err = sipd_allow_method(proxied_methods[i])))
			return err;
	return 0;
}

static int tm_start(void)
{
	int err;

	if ((err =
		 sipd_service_require(SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION, (const void **)&tm_parser))) {
		SIPD_ERR("the parser service is missing: %s", strerror(err));
		return err;
	}
	if ((err = tm_resolver_start())) {
		/* Servers named in the configuration are a promise to use them, not a hint. */
		if (tm_cfg.dns_servers && *tm_cfg.dns_servers)
			return err;
		SIPD_WARN("no DNS resolver (%s): only IP addresses can be relayed to", strerror(err));
	}
	return 0;
}

static void tm_stop(void)
{
	/* First: its queued lookups give back their cell references. */
	tm_resolver_stop();
	tm_table_destroy();
}

static const struct sipd_param_def tm_params[] = {
    {.name = "t1",
     .type = SIPD_PARAM_INT,
     .var = &tm_cfg.t1,
     .min = 10,
     .max = 60000,
     .help = "T1, the round-trip estimate, in ms (RFC 3261: 500)"},
    {.name = "t2",
     .type = SIPD_PARAM_INT,
     .var = &tm_cfg.t2,
     .min = 10,
     .max = 600000,
     .help =
	 "T2, the longest retransmit interval for non-INVITE requests and INVITE responses, in ms (4000)"},
    {.name = "t4",
     .type = SIPD_PARAM_INT,
     .var = &tm_cfg.t4,
     .min = 0,
     .max = 600000,
     .help = "T4, how long a message may stay in the network, in ms (5000)"},
    {.name = "timer_c",
     .type = SIPD_PARAM_INT,
     .var = &tm_cfg.timer_c,
     .min = 100,
     .max = 3600000,
     .help = "proxy Timer C for INVITE branches, in ms (RFC 3261: more than 3 minutes; 180000)"},
    {.name = "buckets",
     .type = SIPD_PARAM_INT,
     .var = &tm_cfg.buckets,
     .min = 16,
     .max = 16777216,
     .help = "hash buckets of the transaction table (rounded up to a power of two)"},
    {.name = "dns_servers",
     .type = SIPD_PARAM_STR,
     .var = &tm_cfg.dns_servers,
     .help = "DNS servers for next-hop names, \"ip[:port][,ip[:port]...]\" (IPv6 as [addr]:port); "
	     "empty: the system's (/etc/resolv.conf)"},
    {.name = NULL},
};

static const char *const tm_requires[] = {"parser", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "tm",
    .version = "1.0",
    .description = "RFC 3261 transactions and stateful proxying (relay, record_route, loose_route, forking)",
    .requires = tm_requires,
    .params = tm_params,
    .functions = tm_functions,
    .rpc = tm_rpc_methods,
    .init = tm_init,
    .start = tm_start,
    .stop = tm_stop,
};
