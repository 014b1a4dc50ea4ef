/* A session as JSON (the sessions listing) and the session.started/refreshed/ended events (sipd/event.h). */
#include <string.h>
#include <time.h>

#include <sipd/core.h>
#include <sipd/event.h>

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

static json_t *expires_json(uint64_t expires_in_ms)
{
	return expires_in_ms == UINT64_MAX ? json_null() : json_real((double)expires_in_ms / 1000.0);
}

json_t *st_session_json(const struct st_dialog_info *d, uint64_t started_wall, uint64_t expires_in_ms)
{
	char started[32];
	time_t t = (time_t)started_wall;
	struct tm tm;

	strftime(started, sizeof(started), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	/* The node: this one, which holds the session and runs its expiry. */
	return json_pack("{s:s%,s:o,s:o,s:s%,s:s%,s:s,s:I,s:s,s:o,s:s,s:b}", "call_id", d->call_id.p,
			 d->call_id.len, "caller", uri_json(d->caller), "callee", uri_json(d->callee),
			 "caller_tag", d->caller_tag.p, d->caller_tag.len, "callee_tag", d->callee_tag.p,
			 d->callee_tag.len, "started", started, "interval", (json_int_t)d->interval,
			 "refresher", party_name(d->refresher), "expires_in", expires_json(expires_in_ms),
			 "node", sipd_node_id(), "local", 1);
}

void st_event_started(const struct st_dialog_info *d, uint64_t started_wall, uint64_t expires_in_ms)
{
	if (sipd_event_wanted())
		sipd_event_publish("session.started", st_session_json(d, started_wall, expires_in_ms));
}

void st_event_refreshed(const struct st_dialog_info *d, uint64_t expires_in_ms)
{
	if (sipd_event_wanted())
		sipd_event_publish("session.refreshed",
				   json_pack("{s:s%,s:I,s:s,s:o}", "call_id", d->call_id.p, d->call_id.len,
					     "interval", (json_int_t)d->interval, "refresher",
					     party_name(d->refresher), "expires_in",
					     expires_json(expires_in_ms)));
}

void st_event_ended(struct sipd_str call_id, const char *reason)
{
	if (sipd_event_wanted())
		sipd_event_publish("session.ended", json_pack("{s:s%,s:s}", "call_id", call_id.p, call_id.len,
							      "reason", reason));
}
