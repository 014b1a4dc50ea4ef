/* The `sessions` RPC method (sipctl sessions, the web admin's live view): the tracked dialogs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sipd/core.h>

#include "st.h"

struct listing {
	json_t *list;
	int err;
};

static void add_one(const struct st_dialog_info *d, uint64_t started_wall, uint64_t expires_in_ms, void *arg)
{
	struct listing *l = arg;
	json_t *o;

	if (l->err)
		return;
	o = st_session_json(d, started_wall, expires_in_ms);
	if (!o || json_array_append_new(l->list, o))
		l->err = ENOMEM;
}

/* Call-ids of the listed sessions, as keys: another node's row of one of them is not listed again. */
static json_t *call_ids(json_t *list)
{
	json_t *ids = json_object(), *s;
	size_t i;

	json_array_foreach(list, i, s)
	{
		if (!ids ||
		    json_object_set(ids, json_string_value(json_object_get(s, "call_id")), json_true())) {
			json_decref(ids);
			return NULL;
		}
	}
	return ids;
}

/* This node's sessions, then (nodes sharing the database) those the other nodes hold, from st_dialogs. */
static int rpc_sessions(json_t *params, json_t **result)
{
	struct listing l = {.list = json_array()};
	json_t *out, *ids;
	int err;

	(void)params;
	if (!l.list)
		return ENOMEM;
	st_dialog_foreach(add_one, &l);
	if (!l.err && !(ids = call_ids(l.list)))
		l.err = ENOMEM;
	if (!l.err) {
		err = st_persist_others(l.list, ids);
		json_decref(ids);
		if (err && err != ENODEV) {
			json_decref(l.list);
			return sipd_rpc_fail(result, err, "sessions of the other nodes not read: %s",
					     strerror(err));
		}
	}
	if (l.err) {
		json_decref(l.list);
		return sipd_rpc_fail(result, l.err, "out of memory while listing sessions");
	}
	out = json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(l.list), "sessions", l.list);
	if (!out)
		return ENOMEM;
	*result = out;
	return 0;
}

static int rpc_end(json_t *params, json_t **result)
{
	json_t *v = json_is_array(params) ? json_array_get(params, 0) : json_object_get(params, "call_id");
	int err;

	if (!json_is_string(v) || !json_string_length(v))
		return sipd_rpc_fail(result, EINVAL, "a Call-ID (string) is required");
	struct sipd_str call_id = {json_string_value(v), json_string_length(v)};
	if ((err = st_dialog_end(call_id)) == ENOENT) {
		char node[128];

		/* Held by another node (sharing the database): that node's sipctl or web admin ends it. */
		if (st_persist_holder(call_id, node, sizeof(node)) == 0 && strcmp(node, sipd_node_id()) != 0)
			return sipd_rpc_fail(result, ENOENT, "session %s is held by node %s: end it there",
					     json_string_value(v), node);
		return sipd_rpc_fail(result, ENOENT, "no session with Call-ID %s", json_string_value(v));
	}
	if (err)
		return sipd_rpc_fail(result, err, "session %s not ended: %s", json_string_value(v),
				     strerror(err));
	*result = json_pack("{s:O, s:b}", "call_id", v, "ended", 1);
	return *result ? 0 : ENOMEM;
}

static int rpc_stats(json_t *params, json_t **result)
{
	(void)params;
	*result = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "active",
			    (json_int_t)st_dialog_count(), "dialog_bytes", (json_int_t)st_dialog_bytes(),
			    "created", (json_int_t)sipd_stat_read(st_st.created), "refreshed",
			    (json_int_t)sipd_stat_read(st_st.refreshed), "expired",
			    (json_int_t)sipd_stat_read(st_st.expired), "ended_by_bye",
			    (json_int_t)sipd_stat_read(st_st.ended), "refresh_failed",
			    (json_int_t)sipd_stat_read(st_st.refresh_failed), "untracked",
			    (json_int_t)sipd_stat_read(st_st.untracked), "rejected_400",
			    (json_int_t)sipd_stat_read(st_st.rej_400), "rejected_421",
			    (json_int_t)sipd_stat_read(st_st.rej_421), "rejected_422",
			    (json_int_t)sipd_stat_read(st_st.rej_422), "byes_sent",
			    (json_int_t)sipd_stat_read(st_st.byes_sent), "bye_failures",
			    (json_int_t)sipd_stat_read(st_st.bye_failures), "untimed_dropped",
			    (json_int_t)sipd_stat_read(st_st.untimed_dropped));
	return *result ? 0 : ENOMEM;
}

/* {node: sessions it holds}: from the database when sessions are persisted (every node's), else this node's.
 */
static int rpc_by_node(json_t *params, json_t **result)
{
	json_t *counts = json_object();
	int err;

	(void)params;
	if (!counts)
		return ENOMEM;
	if ((err = st_persist_count(counts)) == ENODEV)
		err = json_object_set_new(counts, sipd_node_id(), json_integer((json_int_t)st_dialog_count()))
			  ? ENOMEM
			  : 0;
	if (err) {
		json_decref(counts);
		return sipd_rpc_fail(result, err, "sessions per node not counted: %s", strerror(err));
	}
	*result = counts;
	return 0;
}

const struct sipd_rpc_method st_rpc_methods[] = {
    {.name = "sessions",
     .fn = rpc_sessions,
     .usage = "",
     .help = "Active sessions tracked by session_timer: Call-ID, caller, callee, start (UTC), negotiated "
	     "interval, refresher, seconds until expiry (null when no timer was negotiated), the node that "
	     "holds it and local (held here). Nodes sharing a database list every node's sessions."},
    {.name = "sessions.list", .fn = rpc_sessions, .usage = "", .help = "same as sessions"},
    {.name = "sessions.end",
     .fn = rpc_end,
     .usage = "CALL_ID",
     .help = "Ends a session: BYE to both parties (as when its timer expires), then forgets it."},
    {.name = "sessions.by_node",
     .fn = rpc_by_node,
     .usage = "",
     .help = "sessions per node that holds them (runs their expiry): {node: count}"},
    {.name = "sessions.stats",
     .fn = rpc_stats,
     .usage = "",
     .help = "session_timer counters: active (and the heap bytes they hold), created, refreshed, expired, "
	     "rejections, BYEs sent, untimed sessions dropped."},
    {.name = NULL},
};
