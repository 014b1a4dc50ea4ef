/* The `sessions` RPC method (sipctl sessions, the web admin's live view): the tracked dialogs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "st.h"

static const char *party_name(enum st_party p)
{
	return p == ST_PARTY_CALLER ? "caller" : p == ST_PARTY_CALLEE ? "callee" : "none";
}

/* The URI of a From/To value, for display: what is inside <>, else the value up to ';'. */
static json_t *uri_json(struct sipd_str v)
{
	const char *lt = memchr(v.p, '<', v.len), *gt;

	if (lt && (gt = memchr(lt, '>', v.len - (size_t)(lt - v.p))))
		return json_stringn(lt + 1, (size_t)(gt - lt - 1));
	for (size_t i = 0; i < v.len; i++)
		if (v.p[i] == ';')
			return json_stringn(v.p, i);
	return json_stringn(v.p, v.len);
}

struct listing {
	json_t *list;
	int err;
};

static void add_one(const struct st_dialog_info *d, uint64_t started_wall, uint64_t expires_in_ms, void *arg)
{
	struct listing *l = arg;
	char started[32];
	time_t t = (time_t)started_wall;
	struct tm tm;
	json_t *o;

	if (l->err)
		return;
	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	o = json_pack("{s:s%,s:o,s:o,s:s%,s:s%,s:s,s:I,s:s,s:o}", "call_id", d->call_id.p, d->call_id.len,
		      "caller", uri_json(d->caller), "callee", uri_json(d->callee), "caller_tag",
		      d->caller_tag.p, d->caller_tag.len, "callee_tag", d->callee_tag.p, d->callee_tag.len,
		      "started", started, "interval", (json_int_t)d->interval, "refresher",
		      party_name(d->refresher), "expires_in",
		      expires_in_ms == UINT64_MAX ? json_null() : json_real((double)expires_in_ms / 1000.0));
	if (!o || json_array_append_new(l->list, o))
		l->err = ENOMEM;
}

static int rpc_sessions(json_t *params, json_t **result)
{
	struct listing l = {.list = json_array()};
	json_t *out;

	(void)params;
	if (!l.list)
		return ENOMEM;
	st_dialog_foreach(add_one, &l);
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

static int rpc_stats(json_t *params, json_t **result)
{
	(void)params;
	*result = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "active",
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
			    (json_int_t)sipd_stat_read(st_st.bye_failures));
	return *result ? 0 : ENOMEM;
}

const struct sipd_rpc_method st_rpc_methods[] = {
    {.name = "sessions",
     .fn = rpc_sessions,
     .usage = "",
     .help = "Active sessions tracked by session_timer: Call-ID, caller, callee, start (UTC), negotiated "
	     "interval, refresher and seconds until expiry (null when no timer was negotiated)."},
    {.name = "sessions.stats",
     .fn = rpc_stats,
     .usage = "",
     .help = "session_timer counters: active (and the heap bytes they hold), created, refreshed, expired, "
	     "rejections, BYEs sent."},
    {.name = NULL},
};
