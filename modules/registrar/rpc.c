/* The registrations control method (sipctl registrations [AOR]): what is bound where, and for how long. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/rpc.h>

#include "registrar.h"

struct listing {
	json_t *arr;
	const char *only; /* one AOR, or NULL for all */
	int64_t now;
};

static void add_aor(struct reg_aor *a, void *arg)
{
	struct listing *l = arg;
	char rcv[96];

	if (l->only && strcmp(l->only, a->aor) != 0)
		return;
	for (const struct reg_contact *c = a->contacts; c; c = c->next) {
		if (c->expires <= l->now)
			continue;
		sipd_peer_format(rcv, sizeof(rcv), c->proto, &c->src);
		json_array_append_new(
		    l->arr, json_pack("{s:s, s:s, s:I, s:f, s:s, s:s, s:s, s:I, s:s, s:I, s:s?, s:s}", "aor",
				      a->aor, "contact", c->uri, "expires_in",
				      (json_int_t)(c->expires - l->now), "q", c->q < 0 ? 1.0 : c->q / 1000.0,
				      "received", rcv, "transport", sipd_proto_name(c->proto), "user_agent",
				      c->user_agent ? c->user_agent : "", "conn_id", (json_int_t)c->conn_id,
				      "call_id", c->call_id, "cseq", (json_int_t)c->cseq, "path", c->path,
				      "node", c->node ? c->node : sipd_node_id()));
	}
}

static int rpc_registrations(json_t *params, json_t **result)
{
	json_t *v = json_is_array(params) ? json_array_get(params, 0) : json_object_get(params, "aor");
	struct listing l = {.arr = json_array(), .now = sipd_db_now()};

	if (!l.arr)
		return ENOMEM;
	if (v && !json_is_string(v)) {
		json_decref(l.arr);
		return sipd_rpc_fail(result, EINVAL, "the AOR must be a string");
	}
	l.only = v ? json_string_value(v) : NULL;
	reg_table_each(add_aor, &l);
	*result = l.arr;
	return 0;
}

const struct sipd_rpc_method reg_rpc_methods[] = {
    {.name = "registrations",
     .fn = rpc_registrations,
     .usage = "[AOR]",
     .help = "current bindings: AOR, contact, seconds left, q, received address, transport, user agent"},
    {.name = NULL},
};
