/* The registrar module: parameters, start-up (table, stored bindings), the expiry timer, the export. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>
#include <sipd/loop.h>
#include <sipd/module.h>
#include <sipd/service.h>

#include "auth_db_api.h"
#include "registrar.h"
#include "ws_api.h"

struct reg_config reg_cfg = {
    .default_expires = 3600,
    .min_expires = 60,
    .max_expires = 7200,
    .max_contacts = 10,
};
bool reg_use_domain = false;
bool reg_nat_received = true;
int reg_timer_interval = 10;
int reg_max_pending = 4000;
static int hash_size = 16384;

const struct auth_db_api *reg_auth;
const struct ws_api *reg_ws;
const struct sipd_parser_api *reg_parser;

static struct sipd_timer expiry_timer;
/* Loop 0 only: a round's keys were not all deleted, so the next round sweeps every expired row. */
static bool sweep_owed;

struct expiry_job {
	struct sipd_db_job job;
	struct reg_expired gone;
	int64_t now;
};

static int expiry_run(struct sipd_db_job *job)
{
	struct expiry_job *j = (struct expiry_job *)job;

	return reg_store_delete_expired(&j->gone, j->now);
}

static void expiry_done(struct sipd_db_job *job, int err)
{
	struct expiry_job *j = (struct expiry_job *)job;

	if (err) {
		SIPD_WARN("expired bindings not deleted from the database: %s (retried next round)",
			  strerror(err));
		sweep_owed = true;
	}
	reg_expired_free(&j->gone);
	free(j);
}

/* On loop 0: expired bindings leave memory at once and the database, by key, in the next batch. */
static void expiry_tick(void *arg)
{
	int64_t now = sipd_db_now();
	struct expiry_job *j = calloc(1, sizeof(*j));
	unsigned gone;

	(void)arg;
	if (j)
		j->gone.lost = sweep_owed;
	gone = reg_table_expire(now, j ? &j->gone : NULL);
	if (gone)
		SIPD_DBG("%u bindings expired", gone);
	if (!j) {
		sweep_owed = sweep_owed || gone;
	} else if (gone || j->gone.lost) {
		sweep_owed = false;
		j->job.run = expiry_run;
		j->job.done = expiry_done;
		j->now = now;
		if (sipd_db_submit(&j->job) != 0)
			expiry_done(&j->job, EAGAIN);
	} else {
		reg_expired_free(&j->gone);
		free(j);
	}
	sipd_timer_start(&expiry_timer, sipd_loop_get(0), (uint64_t)reg_timer_interval * 1000u);
}

/* RFC 3261 19.1.4, the parts that decide whether two contacts are one binding. */
static bool uri_equal(struct sipd_str a, struct sipd_str b)
{
	struct sipd_uri ua, ub;

	/* The same text is the same URI: a phone refreshing its binding sends it unchanged. */
	if (sipd_str_eq(a, b))
		return true;
	if (reg_parser->uri_parse(&ua, a) != 0 || reg_parser->uri_parse(&ub, b) != 0)
		return sipd_str_eq(a, b);
	return ua.scheme == ub.scheme && sipd_str_eq(ua.user, ub.user) &&
	       sipd_str_eq(ua.password, ub.password) && sipd_str_caseeq(ua.host, ub.host) &&
	       ua.port == ub.port && sipd_str_caseeq(ua.transport, ub.transport) &&
	       sipd_str_caseeq(ua.maddr, ub.maddr) && sipd_str_caseeq(ua.user_param, ub.user_param);
}

static void registrar_stop(void)
{
	sipd_timer_stop(&expiry_timer);
	reg_table_fini();
}

static int registrar_init(void)
{
	int err;

	if (reg_cfg.min_expires > reg_cfg.max_expires || reg_cfg.default_expires < reg_cfg.min_expires ||
	    reg_cfg.default_expires > reg_cfg.max_expires) {
		SIPD_ERR("expiry settings out of order: need min_expires <= default_expires <= max_expires "
			 "(%d, %d, %d)",
			 reg_cfg.min_expires, reg_cfg.default_expires, reg_cfg.max_expires);
		return EINVAL;
	}
	if ((err = reg_save_init()) || (err = reg_lookup_init()) ||
	    (err = reg_table_init((unsigned)hash_size)))
		return err;
	if ((err = reg_store_init()) || (err = reg_store_load(sipd_db_now())) || (err = reg_cluster_init()) ||
	    (err = reg_resync_init())) {
		SIPD_ERR("the registrar cannot use the database: %s", strerror(err));
		reg_table_fini();
		return err;
	}
	if ((err = sipd_allow_method("REGISTER")) || (err = sipd_support_option("path")))
		return err;
	sipd_timer_init(&expiry_timer, expiry_tick, NULL);
	return 0;
}

static int registrar_start(void)
{
	const void *api;
	int err;

	if ((err = sipd_service_require(SIPD_PARSER_SERVICE, SIPD_PARSER_VERSION, &api))) {
		SIPD_ERR("the parser service is missing: %s", strerror(err));
		return err;
	}
	reg_parser = api;
	reg_cfg.uri_equal = uri_equal;
	/* Optional: with auth_db, 404 means no such user and 480 a user without bindings. */
	reg_auth = sipd_service_require(AUTH_DB_SERVICE, AUTH_DB_VERSION, &api) == 0 ? api : NULL;
	/* Optional: with ws, lookup() skips browser bindings whose WebSocket is gone. */
	reg_ws = sipd_service_require(WS_SERVICE, WS_SERVICE_VERSION, &api) == 0 ? api : NULL;
	sipd_timer_start(&expiry_timer, sipd_loop_get(0), (uint64_t)reg_timer_interval * 1000u);
	return 0;
}

static const struct sipd_param_def registrar_params[] = {
    {.name = "default_expires",
     .type = SIPD_PARAM_INT,
     .var = &reg_cfg.default_expires,
     .min = 1,
     .max = 604800,
     .help = "seconds a binding lasts when neither the Contact nor Expires says"},
    {.name = "min_expires",
     .type = SIPD_PARAM_INT,
     .var = &reg_cfg.min_expires,
     .min = 1,
     .max = 604800,
     .help = "shorter non-zero requests get 423 Interval Too Brief with Min-Expires"},
    {.name = "max_expires",
     .type = SIPD_PARAM_INT,
     .var = &reg_cfg.max_expires,
     .min = 1,
     .max = 604800,
     .help = "longer requests are granted this much"},
    {.name = "max_contacts",
     .type = SIPD_PARAM_INT,
     .var = &reg_cfg.max_contacts,
     .min = 0,
     .max = 1000,
     .help = "bindings per AOR; a REGISTER that would exceed it gets 403 (0: no limit)"},
    {.name = "use_domain",
     .type = SIPD_PARAM_BOOL,
     .var = &reg_use_domain,
     .help = "AORs are user@domain instead of the user part alone"},
    {.name = "nat_received",
     .type = SIPD_PARAM_BOOL,
     .var = &reg_nat_received,
     .help = "send to the address a contact registered from when it differs from the Contact URI"},
    {.name = "timer_interval",
     .type = SIPD_PARAM_INT,
     .var = &reg_timer_interval,
     .min = 1,
     .max = 3600,
     .help = "seconds between sweeps that remove expired bindings"},
    {.name = "max_pending",
     .type = SIPD_PARAM_INT,
     .var = &reg_max_pending,
     .min = 16,
     .max = 10000000,
     .help = "REGISTERs waiting for their commit beyond which new ones get 503 with Retry-After"},
    {.name = "hash_size",
     .type = SIPD_PARAM_INT,
     .var = &hash_size,
     .min = 16,
     .max = 16777216,
     .help = "buckets of the binding table (each with its own lock)"},
    {.name = NULL},
};

const struct sipd_script_fn reg_functions[] = {
    {.name = "save",
     .fn = reg_save,
     .routes = SIPD_ROUTE_REQUEST,
     .help = "Processes a REGISTER per RFC 3261 10.3 and answers it (200 once the bindings are on disk, or "
	     "400/403/404/423/500); always stops."},
    {.name = "lookup",
     .fn = reg_lookup,
     .routes = SIPD_ROUTE_REQUEST | SIPD_ROUTE_FAILURE,
     .help = "Sets the destination set to the Request-URI user's contacts (best q first, $ru to the best); "
	     "answers 404 (no such user) or 480 (not registered) and stops; false for other domains."},
    {.name = NULL},
};

static const char *const registrar_requires[] = {"parser", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "registrar",
    .version = "1.0",
    .description = "RFC 3261 registrar with durable bindings (group commit) and lookup() for forking",
    .requires = registrar_requires,
    .params = registrar_params,
    .functions = reg_functions,
    .rpc = reg_rpc_methods,
    .init = registrar_init,
    .start = registrar_start,
    .stop = registrar_stop,
};
