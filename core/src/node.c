/* This node's identity in a cluster sharing one database: its id, the address other nodes use, its heartbeat.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/rpc.h>

#include "internal.h"

#define MAX_PEERS 64
#define CHANNEL   "sipd_nodes"

static char node_id[128], node_address[256];
static int dead_after_s = 10;
static struct sipd_db_stmt *st_beat, *st_upsert, *st_list, *st_peers;
/* Set (under the database lock) once this node said it stopped: later heartbeats must not say "up". */
static bool left;
/* The IP addresses of the other live nodes, refreshed with each heartbeat. */
static pthread_rwlock_t peers_lock = PTHREAD_RWLOCK_INITIALIZER;
static union sipd_sockaddr peers[MAX_PEERS];
static unsigned peer_count;

static const struct sipd_db_migration migrations[] = {
    {1, "CREATE TABLE nodes("
	" node_id TEXT PRIMARY KEY, address TEXT NOT NULL,"
	" started BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
	" state TEXT NOT NULL DEFAULT 'up')"},
};

const char *sipd_node_id(void)
{
	return node_id;
}

const char *sipd_node_address(void)
{
	return node_address;
}

int sipd_node_dead_after(void)
{
	return dead_after_s;
}

/* How well a listen entry suits the node address: UDP first, then TCP, then any other non-wildcard one. */
static int address_rank(const struct sipd_listen *l)
{
	if (strcmp(l->host, "0.0.0.0") == 0 || strcmp(l->host, "::") == 0)
		return 0;
	return l->proto == SIPD_PROTO_UDP ? 3 : l->proto == SIPD_PROTO_TCP ? 2 : 1;
}

/* "sip:HOST:PORT[;transport=P]" of the best listen entry that is not a wildcard, or "" when none is. */
static void default_address(char *buf, size_t size)
{
	const struct sipd_listen *best = NULL;
	bool v6;

	buf[0] = '\0';
	for (unsigned i = 0; i < sipd_listen_count(); i++) {
		const struct sipd_listen *l = sipd_listen_get(i);

		if (address_rank(l) > (best ? address_rank(best) : 0))
			best = l;
	}
	if (!best)
		return;
	v6 = strchr(best->host, ':') != NULL;
	snprintf(buf, size, "sip:%s%s%s:%u%s%s", v6 ? "[" : "", best->host, v6 ? "]" : "", best->port,
		 best->proto == SIPD_PROTO_UDP ? "" : ";transport=",
		 best->proto == SIPD_PROTO_UDP ? "" : sipd_proto_name(best->proto));
}

int node_configure(const char *id, const char *address, int dead_after, char *err, size_t errlen)
{
	if (id && *id) {
		snprintf(node_id, sizeof(node_id), "%s", id);
	} else if (gethostname(node_id, sizeof(node_id) - 1) != 0 || !node_id[0]) {
		snprintf(err, errlen, "core.node_id is not set and the host name cannot be read: %s",
			 strerror(errno));
		return EINVAL;
	}
	if (address && *address)
		snprintf(node_address, sizeof(node_address), "%s", address);
	else
		default_address(node_address, sizeof(node_address));
	dead_after_s = dead_after > 0 ? dead_after : 10;
	return 0;
}

static int read_peers(void *arg);

static int upsert(void *arg)
{
	struct sipd_db_stmt *st = st_upsert;
	int64_t now = sipd_db_now();
	int err;

	(void)arg;
	if (!(err = sipd_db_bind_str(st, 1, sipd_str_c(node_id))) &&
	    !(err = sipd_db_bind_str(st, 2, sipd_str_c(node_address))) &&
	    !(err = sipd_db_bind_int(st, 3, now)) && !(err = sipd_db_bind_int(st, 4, now)))
		err = sipd_db_step(st, NULL);
	sipd_db_reset(st);
	/* The others learn of us now rather than at their next heartbeat. */
	return err ? err : sipd_db_notify(CHANNEL, node_id);
}

/* DB thread: a node joined; read the list of peers again. */
static void on_node_joined(void *arg, const char *channel, const char *payload)
{
	(void)arg;
	(void)channel;
	if (strcmp(payload, node_id) != 0)
		sipd_db_transaction(read_peers, NULL);
}

int node_register(void)
{
	int err;

	if (!sipd_db_engine())
		return 0;
	left = false;
	/* Prepared here: a statement cannot be prepared inside a transaction (the lock is held). */
	if ((err = sipd_db_migrate("core_nodes", migrations, 1)) ||
	    (err =
		 sipd_db_prepare(&st_beat, "UPDATE nodes SET last_seen = ?, state = ? WHERE node_id = ?")) ||
	    (err =
		 sipd_db_prepare(&st_upsert, "INSERT INTO nodes(node_id, address, started, last_seen, state) "
					     "VALUES(?, ?, ?, ?, 'up') ON CONFLICT(node_id) DO UPDATE SET "
					     "address = excluded.address, started = excluded.started, "
					     "last_seen = excluded.last_seen, state = 'up'")) ||
	    (err = sipd_db_prepare(&st_list, "SELECT node_id, address, started, last_seen, state FROM nodes "
					     "ORDER BY node_id")) ||
	    (err = sipd_db_prepare(&st_peers, "SELECT address FROM nodes WHERE node_id <> ? AND state = 'up' "
					      "AND last_seen >= ?")) ||
	    (err = sipd_db_listen(CHANNEL, on_node_joined, NULL)) ||
	    (err = sipd_db_transaction(upsert, NULL)) || (err = sipd_db_transaction(read_peers, NULL)))
		return err;
	SIPD_INFO("node %s (reached at %s) registered in the database", node_id,
		  node_address[0] ? node_address : "no fixed address");
	return 0;
}

static int beat(void *arg)
{
	int err;

	if (left)
		return 0;
	left = strcmp(arg, "stopped") == 0;
	if (!(err = sipd_db_bind_int(st_beat, 1, sipd_db_now())) &&
	    !(err = sipd_db_bind_str(st_beat, 2, sipd_str_c(arg))) &&
	    !(err = sipd_db_bind_str(st_beat, 3, sipd_str_c(node_id))))
		err = sipd_db_step(st_beat, NULL);
	sipd_db_reset(st_beat);
	return err;
}

/* The IP literal of a node's SIP URI ("sip:127.0.0.2:5060;transport=tcp"), or EINVAL. */
static int uri_ip(struct sipd_str uri, union sipd_sockaddr *out)
{
	char text[96];
	const char *h = memchr(uri.p, ':', uri.len), *end;
	size_t n;

	if (!h)
		return EINVAL;
	h++;
	if (*h == '[')
		end = memchr(h, ']', uri.len - (size_t)(h - uri.p));
	else
		for (end = h; end < uri.p + uri.len && *end != ':' && *end != ';' && *end != '>'; end++)
			;
	if (!end)
		return EINVAL;
	if (*h == '[')
		end++;
	n = (size_t)(end - h);
	/* Through the peer parser, with a placeholder port. */
	if (snprintf(text, sizeof(text), "udp:%.*s:1", (int)n, h) >= (int)sizeof(text))
		return EINVAL;
	return sipd_peer_parse(sipd_str_c(text), &(enum sipd_proto){0}, out);
}

static int read_peers(void *arg)
{
	union sipd_sockaddr found[MAX_PEERS];
	unsigned n = 0;
	bool row;
	int err;

	(void)arg;
	if ((err = sipd_db_bind_str(st_peers, 1, sipd_str_c(node_id))) ||
	    (err = sipd_db_bind_int(st_peers, 2, sipd_db_now() - dead_after_s))) {
		sipd_db_reset(st_peers);
		return err;
	}
	while (!(err = sipd_db_step(st_peers, &row)) && row && n < MAX_PEERS)
		if (uri_ip(sipd_db_column_str(st_peers, 0), &found[n]) == 0)
			n++;
	sipd_db_reset(st_peers);
	if (!err) {
		pthread_rwlock_wrlock(&peers_lock);
		memcpy(peers, found, n * sizeof(found[0]));
		peer_count = n;
		pthread_rwlock_unlock(&peers_lock);
	}
	return err;
}

bool sipd_node_is_peer(const union sipd_sockaddr *src)
{
	bool found = false;

	pthread_rwlock_rdlock(&peers_lock);
	for (unsigned i = 0; i < peer_count && !found; i++) {
		const union sipd_sockaddr *p = &peers[i];

		if (p->sa.sa_family != src->sa.sa_family)
			continue;
		found = p->sa.sa_family == AF_INET
			    ? p->sin.sin_addr.s_addr == src->sin.sin_addr.s_addr
			    : memcmp(&p->sin6.sin6_addr, &src->sin6.sin6_addr, 16) == 0;
	}
	pthread_rwlock_unlock(&peers_lock);
	return found;
}

void node_heartbeat(void)
{
	/* node_register prepares st_beat first and st_peers last: the DB thread may beat in between. */
	if (!st_beat || !st_peers)
		return;
	sipd_db_transaction(beat, "up");
	sipd_db_transaction(read_peers, NULL);
}

void node_leave(void)
{
	/* The DB thread may be in a heartbeat now: beat() serializes on the database lock and sees left. */
	if (st_beat && sipd_db_transaction(beat, "stopped") == 0)
		SIPD_INFO("node %s marked stopped in the database", node_id);
}

struct listing {
	json_t *list;
};

static int list_nodes(void *arg)
{
	struct listing *l = arg;
	struct sipd_db_stmt *st = st_list;
	int64_t now = sipd_db_now();
	bool row;
	int err;

	while (!(err = sipd_db_step(st, &row)) && row) {
		struct sipd_str id = sipd_db_column_str(st, 0), addr = sipd_db_column_str(st, 1),
				state = sipd_db_column_str(st, 4);
		int64_t seen = sipd_db_column_int(st, 3);
		bool up = state.len == 2 && memcmp(state.p, "up", 2) == 0;

		json_array_append_new(l->list, json_pack("{s:s%, s:s%, s:I, s:I, s:I, s:s, s:b}", "node_id",
							 id.p, id.len, "address", addr.p, addr.len, "started",
							 (json_int_t)sipd_db_column_int(st, 2), "last_seen",
							 (json_int_t)seen, "seen_ago",
							 (json_int_t)(now - seen), "state",
							 !up                         ? "stopped"
							 : now - seen > dead_after_s ? "dead"
										     : "alive",
							 "self", sipd_str_eq(id, sipd_str_c(node_id))));
	}
	sipd_db_reset(st);
	return err;
}

/*
 * Sets field of each listed node from method's {node: count} answer (0 for a node it does not name), or
 * null when that module is not loaded.
 */
static void add_counts(json_t *list, const char *method, const char *field)
{
	json_t *counts = NULL, *params = json_array(), *node;
	int err = params ? sipd_rpc_call(method, params, &counts) : ENOMEM;
	size_t i;

	json_decref(params);
	json_array_foreach(list, i, node)
	{
		json_t *n =
		    err ? NULL : json_object_get(counts, json_string_value(json_object_get(node, "node_id")));

		json_object_set_new(node, field, err ? json_null() : json_integer(json_integer_value(n)));
	}
	json_decref(counts);
}

static int rpc_nodes(json_t *params, json_t **result)
{
	struct listing l = {json_array()};
	int err;

	(void)params;
	if (!st_list) {
		json_decref(l.list);
		return sipd_rpc_fail(result, ENODEV, "no database: this node is alone");
	}
	if ((err = sipd_db_transaction(list_nodes, &l)) != 0) {
		json_decref(l.list);
		return sipd_rpc_fail(result, err, "cannot read the nodes table: %s", strerror(err));
	}
	add_counts(l.list, "registrations.by_node", "bindings");
	add_counts(l.list, "sessions.by_node", "sessions");
	*result = l.list;
	return 0;
}

static const struct sipd_rpc_method node_methods[] = {
    {.name = "nodes",
     .fn = rpc_nodes,
     .usage = "",
     .help = "Lists the nodes sharing this database: id, address, started, last seen, alive/dead/stopped, "
	     "bindings and sessions each holds (null without registrar or session_timer)"},
    {.name = "nodes.list", .fn = rpc_nodes, .usage = "", .help = "same as nodes"},
    {.name = NULL},
};

int node_rpc_register(void)
{
	return sipd_rpc_register(node_methods);
}
