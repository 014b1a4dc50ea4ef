/* The ratelimit module: src_limit() per source address (as Kamailio's pike) and load_limit() for the whole
 * server, both answering floods before they cost a transaction. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/loop.h>
#include <sipd/module.h>
#include <sipd/msg.h>
#include <sipd/script.h>

#include "rl.h"

struct rl_cfg rl_cfg = {
    .src_rate = 100,
    .src_burst = 200,
    .src_table = 65536,
    .src_action = "drop",
    .load_rate = 0,
    .load_drops = false,
    .retry_after = 5,
    .log_interval = 10,
};
struct rl_stats rl_st;

static bool src_reply; /* src_action = "reply" */
static char retry_hdr[40];
/* Reports: when the last went, and what happened since (atomics). */
static uint64_t src_logged_ms, load_logged_ms, src_since, load_since;

static void addr_text(const union sipd_sockaddr *a, char *buf, size_t size)
{
	const void *p =
	    a->sa.sa_family == AF_INET6 ? (const void *)&a->sin6.sin6_addr : (const void *)&a->sin.sin_addr;

	if (!inet_ntop(a->sa.sa_family, p, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

static enum sipd_result src_limit(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	uint64_t now = ctx->rcv && ctx->rcv->time_ms ? ctx->rcv->time_ms : sipd_now_ms(), n;
	char who[INET6_ADDRSTRLEN];

	(void)args;
	if (!ctx->rcv || rl_src_take(&ctx->rcv->src, now))
		return SIPD_TRUE;
	n = __atomic_add_fetch(&src_since, 1, __ATOMIC_RELAXED);
	if (rl_log_due(&src_logged_ms, now)) {
		__atomic_sub_fetch(&src_since, n, __ATOMIC_RELAXED);
		addr_text(&ctx->rcv->src, who, sizeof(who));
		SIPD_WARN("%s sends past src_rate %d/s (burst %d): %llu request(s) %s since the last report "
			  "(next report in %d s at the earliest)",
			  who, rl_cfg.src_rate, rl_cfg.src_burst, (unsigned long long)n,
			  src_reply ? "answered 503" : "dropped", rl_cfg.log_interval);
	}
	/* An ACK has no answer; a flood of answers would only feed the flood. */
	if (src_reply && ctx->msg->method_id != SIPD_METHOD_ACK) {
		sipd_stat_inc(rl_st.src_rejected);
		sipd_reply(ctx, 503, "Service Unavailable", retry_hdr);
	} else {
		sipd_stat_inc(rl_st.src_dropped);
		ctx->dropped = true;
	}
	return SIPD_STOP;
}

/* Requests inside a dialog end calls and free what they hold: only new work is turned away. */
static bool initial_request(struct sipd_msg *m)
{
	const struct sipd_nameaddr *to;

	if (m->method_id == SIPD_METHOD_ACK || m->method_id == SIPD_METHOD_CANCEL)
		return false;
	return sipd_msg_to(m, &to) != 0 || to->tag.len == 0;
}

static enum sipd_result load_limit(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	uint64_t now = sipd_now_ms(), n;

	(void)args;
	if (!initial_request(ctx->msg) || !rl_load_over(now))
		return SIPD_TRUE;
	sipd_stat_inc(rl_st.load_rejected);
	n = __atomic_add_fetch(&load_since, 1, __ATOMIC_RELAXED);
	if (rl_log_due(&load_logged_ms, now)) {
		__atomic_sub_fetch(&load_since, n, __ATOMIC_RELAXED);
		SIPD_WARN("overloaded (%s): %llu new request(s) answered 503 since the last report",
			  rl_cfg.load_rate > 0 ? "past load_rate, or the kernel dropping datagrams"
					       : "the kernel drops datagrams",
			  (unsigned long long)n);
	}
	sipd_reply(ctx, 503, "Service Unavailable", retry_hdr);
	return SIPD_STOP;
}

static int rl_init(void)
{
	if (!strcmp(rl_cfg.src_action, "reply")) {
		src_reply = true;
	} else if (strcmp(rl_cfg.src_action, "drop")) {
		SIPD_ERR("src_action \"%s\": use drop or reply", rl_cfg.src_action);
		return EINVAL;
	}
	if (rl_cfg.src_burst < 1) {
		SIPD_ERR("src_burst must be at least 1");
		return EINVAL;
	}
	snprintf(retry_hdr, sizeof(retry_hdr), "Retry-After: %d\r\n", rl_cfg.retry_after);
	rl_st.src_dropped =
	    sipd_stat_register("ratelimit", "src_dropped", "requests dropped: source past src_rate");
	rl_st.src_rejected =
	    sipd_stat_register("ratelimit", "src_rejected", "requests answered 503: source past src_rate");
	rl_st.load_rejected =
	    sipd_stat_register("ratelimit", "load_rejected", "new requests answered 503: server overloaded");
	/* The udp module's counter (the same name gives the same counter, whoever registers first). */
	rl_st.udp_drops = sipd_stat_register("udp", "rx_dropped_kernel",
					     "datagrams the kernel dropped: receive buffer full (overload)");
	if (!rl_st.src_dropped || !rl_st.src_rejected || !rl_st.load_rejected || !rl_st.udp_drops)
		return ENOMEM;
	rl_load_init();
	return rl_src_init((unsigned)rl_cfg.src_table);
}

static void rl_stop(void)
{
	rl_src_destroy();
}

static const struct sipd_param_def rl_params[] = {
    {.name = "src_rate",
     .type = SIPD_PARAM_INT,
     .var = &rl_cfg.src_rate,
     .min = 1,
     .max = 10000000,
     .help = "requests per second one source address may send, sustained (src_limit())"},
    {.name = "src_burst",
     .type = SIPD_PARAM_INT,
     .var = &rl_cfg.src_burst,
     .min = 1,
     .max = 10000000,
     .help = "requests one source address may send at once (src_limit())"},
    {.name = "src_table",
     .type = SIPD_PARAM_INT,
     .var = &rl_cfg.src_table,
     .min = 64,
     .max = 8388608,
     .help = "source addresses tracked; the stalest is forgotten when full"},
    {.name = "src_action",
     .type = SIPD_PARAM_STR,
     .var = &rl_cfg.src_action,
     .help = "what src_limit() does past the rate: drop (silently) or reply (503 with Retry-After)"},
    {.name = "load_rate",
     .type = SIPD_PARAM_INT,
     .var = &rl_cfg.load_rate,
     .min = 0,
     .max = 100000000,
     .help = "new requests per second over all sources before load_limit() answers 503; 0: no fixed limit"},
    {.name = "load_drops",
     .type = SIPD_PARAM_BOOL,
     .var = &rl_cfg.load_drops,
     .help = "load_limit() also answers 503 for 1 s after the kernel dropped UDP datagrams"},
    {.name = "retry_after",
     .type = SIPD_PARAM_INT,
     .var = &rl_cfg.retry_after,
     .min = 0,
     .max = 86400,
     .help = "seconds in the Retry-After of the 503s"},
    {.name = "log_interval",
     .type = SIPD_PARAM_INT,
     .var = &rl_cfg.log_interval,
     .min = 1,
     .max = 86400,
     .help = "seconds between two warnings of the same kind"},
    {.name = NULL},
};

static const struct sipd_script_fn rl_functions[] = {
    {.name = "src_limit",
     .fn = src_limit,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "true while the request's source address stays within src_rate/src_burst; past them the "
	     "request is dropped (src_action drop) or answered 503 with Retry-After (reply) and the "
	     "route stops. Call it first in request_route."},
    {.name = "load_limit",
     .fn = load_limit,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "true unless the server is overloaded (past load_rate new requests per second, or "
	     "kernel UDP drops in the last second with load_drops); then a new request (no To tag, not "
	     "ACK/CANCEL) is answered 503 with Retry-After and the route stops."},
    {.name = NULL},
};

static const char *const rl_requires[] = {"parser", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "ratelimit",
    .version = "1.0",
    .description = "per-source request rates (src_limit) and the global load limit (load_limit)",
    .requires = rl_requires,
    .params = rl_params,
    .functions = rl_functions,
    .init = rl_init,
    .stop = rl_stop,
};
