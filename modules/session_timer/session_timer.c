/* The session_timer module: RFC 4028 session timers made mandatory, checked by session_timer_check(). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/service.h>

#include "st.h"

static const char *param_policy = "required";
static const char *param_expiry = "bye";
static int param_min_se = ST_RFC_MIN_SE;
static int param_session_expires = 1800;
static int param_max_se = 7200;
static int param_buckets = 16384;
static bool param_test_intervals = false;
static bool param_persist = true;
static int param_untimed_lifetime = 43200;

static const struct sipd_param_def st_params[] = {
    {.name = "policy",
     .type = SIPD_PARAM_STR,
     .var = &param_policy,
     .help = "required (421 without timer support), supported (timers when the UAC has them) or off"},
    {.name = "min_se",
     .type = SIPD_PARAM_INT,
     .var = &param_min_se,
     .min = 1,
     .max = 86400,
     .help = "smallest session interval accepted, seconds (RFC 4028: at least 90); 422 below it"},
    {.name = "session_expires",
     .type = SIPD_PARAM_INT,
     .var = &param_session_expires,
     .min = 1,
     .max = 86400,
     .help = "interval inserted when the UAC supports timers but asks for none, seconds"},
    {.name = "max_se",
     .type = SIPD_PARAM_INT,
     .var = &param_max_se,
     .min = 1,
     .max = 604800,
     .help = "larger requested intervals are lowered to this (never below the request's Min-SE)"},
    {.name = "expiry",
     .type = SIPD_PARAM_STR,
     .var = &param_expiry,
     .help = "what to do with a session nobody refreshed: bye (BYE to both parties) or forget"},
    {.name = "buckets",
     .type = SIPD_PARAM_INT,
     .var = &param_buckets,
     .min = 16,
     .max = 16777216,
     .help = "hash buckets of the dialog table (rounded up to a power of two)"},
    {.name = "persist",
     .type = SIPD_PARAM_BOOL,
     .var = &param_persist,
     .help = "keep sessions in the database so that they survive a restart (st_dialogs)"},
    {.name = "untimed_lifetime",
     .type = SIPD_PARAM_INT,
     .var = &param_untimed_lifetime,
     .min = 0,
     .max = 604800,
     .help = "seconds a session without a negotiated timer is kept with no refresh and no BYE, then "
	     "dropped without a BYE; 0 keeps it until its BYE"},
    {.name = "test_intervals",
     .type = SIPD_PARAM_BOOL,
     .var = &param_test_intervals,
     .help = "allow min_se below 90 s (tests only: RFC 4028 forbids it in production)"},
    {.name = NULL},
};

static enum sipd_result reject(struct sipd_ctx *ctx, const struct st_decision *d)
{
	char extra[256];
	int err;

	switch (d->status) {
	case 421:
		sipd_stat_inc(st_st.rej_421);
		snprintf(extra, sizeof(extra), "Require: timer\r\n");
		break;
	case 422:
		sipd_stat_inc(st_st.rej_422);
		snprintf(extra, sizeof(extra), "Min-SE: %u\r\n", d->min_se);
		break;
	default:
		sipd_stat_inc(st_st.rej_400);
		if (sipd_warning_header(extra, sizeof(extra), ctx->rcv, d->warning) < 0)
			extra[0] = '\0';
		break;
	}
	/* Statefully: tm absorbs the retransmissions and the ACK of this answer. */
	err = st_tm->reply(ctx, d->status, d->reason, extra);
	if (err) {
		SIPD_DBG("%d \"%s\" not sent: %s", d->status, d->reason, strerror(err));
		ctx->dropped = true;
	}
	return SIPD_STOP;
}

static int set_header(struct sipd_msg *m, struct sipd_hdr *h, struct sipd_str name, struct sipd_str value)
{
	return h ? m->ops->hdr_replace(m, h, value) : m->ops->hdr_append(m, name, value);
}

/* The relayed request asks for d->se (keeping a refresher the UAC chose) and carries our Min-SE. */
static int edit_request(struct sipd_msg *m, const struct st_decision *d)
{
	const struct sipd_session_expires *se;
	char value[64];
	int n, err;

	if (d->se_edit != ST_SE_KEEP) {
		struct sipd_str refresher = SIPD_STR_NULL;

		if (d->se_edit == ST_SE_SET && sipd_msg_hdr(m, m->h_session_expires, (const void **)&se) == 0)
			refresher = se->refresher;
		n = snprintf(value, sizeof(value), "%u%s%.*s", d->se, refresher.len ? ";refresher=" : "",
			     SIPD_STR_FMT(refresher));
		err = set_header(m, d->se_edit == ST_SE_SET ? m->h_session_expires : NULL,
				 SIPD_STR("Session-Expires"), (struct sipd_str){value, (size_t)n});
		if (err)
			return err;
		sipd_stat_inc(d->se_edit == ST_SE_SET ? st_st.lowered : st_st.inserted);
	}
	if (d->min_se) {
		n = snprintf(value, sizeof(value), "%u", d->min_se);
		if ((err =
			 set_header(m, m->h_min_se, SIPD_STR("Min-SE"), (struct sipd_str){value, (size_t)n})))
			return err;
	}
	return 0;
}

static enum sipd_result st_check(struct sipd_ctx *ctx, const union sipd_arg *args)
{
	struct sipd_msg *m = ctx->msg;
	struct st_request r;
	struct st_decision d;
	int err;

	(void)args;
	if (m->method_id != SIPD_METHOD_INVITE && m->method_id != SIPD_METHOD_UPDATE)
		return SIPD_TRUE;
	st_request_read(&r, m);
	st_policy_decide(&d, &st_policy, &r);
	if (d.status)
		return reject(ctx, &d);
	if ((err = edit_request(m, &d))) {
		SIPD_ERR("cannot edit the session-timer headers: %s", strerror(err));
		return SIPD_ERROR;
	}
	return SIPD_TRUE;
}

static int st_init(void)
{
	int mode = st_mode_parse(param_policy);
	struct sipd_stat **all[] = {&st_st.active,    &st_st.created,   &st_st.refreshed,
				    &st_st.expired,   &st_st.ended,     &st_st.refresh_failed,
				    &st_st.untracked, &st_st.rej_400,   &st_st.rej_421,
				    &st_st.rej_422,   &st_st.byes_sent, &st_st.bye_failures,
				    &st_st.inserted,  &st_st.lowered,   &st_st.untimed_dropped};
	static const char *const names[] = {
	    "active",         "created",      "refreshed",    "expired",      "ended_by_bye",
	    "refresh_failed", "untracked",    "rejected_400", "rejected_421", "rejected_422",
	    "byes_sent",      "bye_failures", "inserted",     "lowered",      "untimed_dropped"};

	if (mode < 0) {
		SIPD_ERR("policy \"%s\": use required, supported or off", param_policy);
		return EINVAL;
	}
	if (strcmp(param_expiry, "bye") && strcmp(param_expiry, "forget")) {
		SIPD_ERR("expiry \"%s\": use bye or forget", param_expiry);
		return EINVAL;
	}
	if (param_min_se < ST_RFC_MIN_SE && !param_test_intervals) {
		SIPD_ERR("min_se %d is below RFC 4028's 90 s (test_intervals = true allows it in tests)",
			 param_min_se);
		return EINVAL;
	}
	if (param_session_expires < param_min_se || param_max_se < param_session_expires) {
		SIPD_ERR("need min_se (%d) <= session_expires (%d) <= max_se (%d)", param_min_se,
			 param_session_expires, param_max_se);
		return EINVAL;
	}
	st_policy = (struct st_policy){
	    .mode = (enum st_mode)mode,
	    .min_se = (uint32_t)param_min_se,
	    .session_expires = (uint32_t)param_session_expires,
	    .max_se = (uint32_t)param_max_se,
	};
	st_expiry_bye = !strcmp(param_expiry, "bye");
	st_untimed_lifetime = (uint32_t)param_untimed_lifetime;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!(*all[i] = sipd_stat_register("session_timer", names[i], names[i])))
			return ENOMEM;
	/* sanity() accepts Require: timer, and OPTIONS answers list it. */
	return sipd_support_option("timer") ?: st_table_init((unsigned)param_buckets) ?:
	       (param_persist ? st_persist_init() ?: st_takeover_init() : 0);
}

static int st_start(void)
{
	int err = sipd_service_require(TM_SERVICE, 2, (const void **)&st_tm);

	if (err) {
		SIPD_ERR("the tm service (version 2) is missing: %s", strerror(err));
		return err;
	}
	if ((err = st_tm->response_hook_add(st_on_response, NULL))) {
		SIPD_ERR("cannot watch tm's responses: %s", strerror(err));
		return err;
	}
	/*
	 * The sessions of the previous run, with their timers: an unrefreshed one still ends with BYEs. With
	 * persistence, a dead node's sessions are taken over too.
	 */
	if (!param_persist)
		return 0;
	return st_persist_load() ?: st_takeover_start();
}

static void st_stop(void)
{
	st_takeover_stop();
	st_table_destroy();
}

static const struct sipd_script_fn st_functions[] = {
    {.name = "session_timer_check",
     .fn = st_check,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "RFC 4028 for INVITE and UPDATE (other methods: true): 421 + Require: timer when the UAC "
	     "does not support timers (policy required), 422 + Min-SE when Session-Expires is below "
	     "min_se or the request's Min-SE, 400 when either is malformed (all stop the route); "
	     "otherwise inserts or lowers Session-Expires and Min-SE for the relay and returns true."},
    {.name = NULL},
};

static const char *const st_requires[] = {"parser", "tm", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "session_timer",
    .version = "1.0",
    .description = "RFC 4028 session timers: policy check, dialog tracking, expiry with BYE",
    .requires = st_requires,
    .params = st_params,
    .functions = st_functions,
    .rpc = st_rpc_methods,
    .init = st_init,
    .start = st_start,
    .stop = st_stop,
};
