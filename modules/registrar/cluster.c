/* Bindings shared by the nodes of one database: change notifications, and reaching a flow another node holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/stats.h>

#include "registrar.h"

#define CHANNEL "sipd_contacts"

static struct sipd_stat *st_reloads;

bool reg_cluster_shared(void)
{
	const char *engine = sipd_db_engine();

	return engine && strcmp(engine, "postgresql") == 0;
}

/*
 * DB thread: other nodes changed AORs ("node\naor" each, all that arrived
 * together); their bindings are read again in one statement, not one
 * transaction each.
 */
static void on_changes(void *arg, const char *channel, const char *const *payloads, unsigned n)
{
	const char **keys = malloc(n * sizeof(*keys));
	size_t id_len = strlen(sipd_node_id());
	unsigned k = 0;
	int err;

	(void)arg;
	(void)channel;
	if (!keys) {
		SIPD_WARN("bindings of %u AORs changed on other nodes, not read again: out of memory", n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *nl = strchr(payloads[i], '\n');

		/* This node's own changes come back too: memory has them already. */
		if (!nl || !nl[1] ||
		    ((size_t)(nl - payloads[i]) == id_len &&
		     memcmp(payloads[i], sipd_node_id(), id_len) == 0))
			continue;
		keys[k++] = nl + 1;
	}
	sipd_stat_add(st_reloads, k);
	if (k && (err = reg_store_reload_aors(keys, k)) != 0)
		SIPD_WARN("bindings of %u AORs changed on other nodes, not read again: %s", k, strerror(err));
	free(keys);
}

int reg_cluster_init(void)
{
	st_reloads = sipd_stat_register("registrar", "cluster_reloads",
					"AORs read again because another node changed their bindings");
	if (!st_reloads)
		return ENOMEM;
	return reg_cluster_shared() ? sipd_db_listen_many(CHANNEL, on_changes, NULL) : 0;
}

int reg_cluster_changed(const char *aor)
{
	char payload[640];

	if (!reg_cluster_shared())
		return 0;
	if (snprintf(payload, sizeof(payload), "%s\n%s", sipd_node_id(), aor) >= (int)sizeof(payload))
		return EINVAL;
	return sipd_db_notify(CHANNEL, payload);
}

struct sipd_str reg_cluster_hop(struct sipd_msg *m, const struct reg_contact *c)
{
	char rcv[96], *buf;
	int n;

	if (!c->node || !c->node_uri || !c->conn_id || c->path ||
	    (c->proto != SIPD_PROTO_TCP && c->proto != SIPD_PROTO_TLS && c->proto != SIPD_PROTO_WS &&
	     c->proto != SIPD_PROTO_WSS))
		return SIPD_STR_NULL;
	sipd_peer_format(rcv, sizeof(rcv), c->proto, &c->src);
	if (!rcv[0])
		return SIPD_STR_NULL;
	/* The owning node takes its own Route entry off and sends over the flow it names (tm loose_route). */
	n = snprintf(NULL, 0, "<%s;lr;sipd-flow=%s~%llu>", c->node_uri, rcv, (unsigned long long)c->conn_id);
	if (n <= 0 || !(buf = sipd_msg_alloc(m, (size_t)n + 1)))
		return SIPD_STR_NULL;
	snprintf(buf, (size_t)n + 1, "<%s;lr;sipd-flow=%s~%llu>", c->node_uri, rcv,
		 (unsigned long long)c->conn_id);
	return (struct sipd_str){buf, (size_t)n};
}
