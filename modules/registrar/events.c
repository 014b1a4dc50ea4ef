/* registration.added / registration.removed events: what a REGISTER, an expiry or an admin changed. */
#include <stdio.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/event.h>

#include "registrar.h"

json_t *reg_events_before(const struct reg_aor *aor)
{
	json_t *uris;

	if (!aor || !sipd_event_wanted() || !(uris = json_array()))
		return NULL;
	for (const struct reg_contact *c = aor->contacts; c; c = c->next)
		json_array_append_new(uris, json_string(c->uri));
	return uris;
}

static json_t *added(const struct reg_aor *aor, const struct reg_contact *c, int64_t now, bool fresh)
{
	char rcv[96];

	sipd_peer_format(rcv, sizeof(rcv), c->proto, &c->src);
	return json_pack("[s, {s:s, s:s, s:I, s:s, s:s, s:s, s:b, s:s}]", "registration.added", "aor",
			 aor->aor, "contact", c->uri, "expires_in", (json_int_t)(c->expires - now),
			 "transport", sipd_proto_name(c->proto), "received", rcv, "user_agent",
			 c->user_agent ? c->user_agent : "", "new", fresh, "node",
			 c->node ? c->node : sipd_node_id());
}

json_t *reg_event_removed(const char *aor, const char *contact, const char *reason)
{
	return json_pack("[s, {s:s, s:s, s:s}]", "registration.removed", "aor", aor, "contact", contact,
			 "reason", reason);
}

json_t *reg_events_diff(json_t *before, const struct reg_aor *aor, int64_t now, uint32_t cseq,
			const char *call_id)
{
	json_t *events = json_array(), *v;
	size_t i;

	if (!before || !events) {
		json_decref(events);
		return NULL;
	}
	for (const struct reg_contact *c = aor->contacts; c; c = c->next) {
		bool known = false;
		json_array_foreach(before, i, v) known = known || strcmp(json_string_value(v), c->uri) == 0;
		/* Bindings this REGISTER did not touch are neither added nor refreshed. */
		if (!known || (c->cseq == cseq && strcmp(c->call_id, call_id) == 0))
			json_array_append_new(events, added(aor, c, now, !known));
	}
	json_array_foreach(before, i, v)
	{
		bool kept = false;
		for (const struct reg_contact *c = aor->contacts; c && !kept; c = c->next)
			kept = strcmp(json_string_value(v), c->uri) == 0;
		if (!kept)
			json_array_append_new(
			    events, reg_event_removed(aor->aor, json_string_value(v), "unregistered"));
	}
	return events;
}

void reg_events_publish(json_t *events)
{
	json_t *e;
	size_t i;

	json_array_foreach(events, i, e)
	    sipd_event_publish(json_string_value(json_array_get(e, 0)), json_incref(json_array_get(e, 1)));
	json_decref(events);
}
