/* tm statistics: counters and per-state gauges, and the tm.stats RPC (`sipctl tm stats`). */
#include <errno.h>
#include <stdio.h>

#include <sipd/rpc.h>

#include "tm_int.h"

struct tm_stats tm_st;

int tm_stats_init(void)
{
	static const char *const state_help[TM_STATE_COUNT] = {
	    [TM_TRYING] = "transactions in state trying",
	    [TM_CALLING] = "transactions in state calling",
	    [TM_PROCEEDING] = "transactions in state proceeding",
	    [TM_COMPLETED] = "transactions in state completed",
	    [TM_CONFIRMED] = "transactions in state confirmed",
	    [TM_ACCEPTED] = "transactions in state accepted",
	    [TM_TERMINATED] = "transactions terminated (always 0: they are freed)",
	};
	char name[32];

	tm_st.current = sipd_stat_register("tm", "current", "server transactions alive");
	tm_st.total = sipd_stat_register("tm", "total", "server transactions created");
	tm_st.uac_total = sipd_stat_register("tm", "uac_total", "client transactions started");
	tm_st.retrans_sent =
	    sipd_stat_register("tm", "retransmissions", "requests and responses retransmitted");
	tm_st.retrans_absorbed =
	    sipd_stat_register("tm", "absorbed", "request retransmissions absorbed by a server transaction");
	tm_st.timeouts = sipd_stat_register("tm", "timeouts", "timers B, F, H and C that fired");
	tm_st.transport_errors =
	    sipd_stat_register("tm", "transport_errors", "client transactions failed by the transport");
	tm_st.cancels = sipd_stat_register("tm", "cancels", "CANCEL requests sent downstream");
	tm_st.loops = sipd_stat_register("tm", "loops", "requests answered 482 Loop Detected");
	tm_st.stateless_forwarded = sipd_stat_register(
	    "tm", "stateless_forwarded", "responses without a transaction forwarded per their next Via");
	tm_st.stateless_dropped =
	    sipd_stat_register("tm", "stateless_dropped",
			       "responses without a transaction dropped (not our Via, or no next hop)");
	for (int s = 0; s < TM_STATE_COUNT; s++) {
		snprintf(name, sizeof(name), "state_%s", tm_state_name((enum tm_state)s));
		if (!(tm_st.by_state[s] = sipd_stat_register("tm", name, state_help[s])))
			return ENOMEM;
	}
	if (!tm_st.current || !tm_st.total || !tm_st.uac_total || !tm_st.retrans_sent ||
	    !tm_st.retrans_absorbed || !tm_st.timeouts || !tm_st.transport_errors || !tm_st.cancels ||
	    !tm_st.loops || !tm_st.stateless_forwarded || !tm_st.stateless_dropped)
		return ENOMEM;
	return 0;
}

void tm_state_set(enum tm_state *field, enum tm_state to)
{
	if (*field == to)
		return;
	/* Terminated is not counted: a gauge of what is alive. */
	if (*field != TM_TERMINATED)
		sipd_stat_add(tm_st.by_state[*field], -1);
	if (to != TM_TERMINATED)
		sipd_stat_add(tm_st.by_state[to], 1);
	*field = to;
}

static int rpc_stats(json_t *params, json_t **result)
{
	json_t *o = json_object(), *states = json_object();

	(void)params;
	if (!o || !states) {
		json_decref(o);
		json_decref(states);
		return ENOMEM;
	}
	for (int s = 0; s < TM_STATE_COUNT; s++)
		if (s != TM_TERMINATED)
			json_object_set_new(states, tm_state_name((enum tm_state)s),
					    json_integer(sipd_stat_read(tm_st.by_state[s])));
	json_object_set_new(o, "current", json_integer(sipd_stat_read(tm_st.current)));
	json_object_set_new(o, "total", json_integer(sipd_stat_read(tm_st.total)));
	json_object_set_new(o, "cells", json_integer((json_int_t)tm_cell_count()));
	json_object_set_new(o, "client_total", json_integer(sipd_stat_read(tm_st.uac_total)));
	json_object_set_new(o, "retransmissions", json_integer(sipd_stat_read(tm_st.retrans_sent)));
	json_object_set_new(o, "absorbed", json_integer(sipd_stat_read(tm_st.retrans_absorbed)));
	json_object_set_new(o, "timeouts", json_integer(sipd_stat_read(tm_st.timeouts)));
	json_object_set_new(o, "transport_errors", json_integer(sipd_stat_read(tm_st.transport_errors)));
	json_object_set_new(o, "by_state", states);
	*result = o;
	return 0;
}

const struct sipd_rpc_method tm_rpc_methods[] = {
    {.name = "tm.stats",
     .fn = rpc_stats,
     .usage = "",
     .help = "transactions: current, total, by state, retransmissions"},
    {.name = NULL},
};
