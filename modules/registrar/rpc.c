/* The registrations control methods (sipctl registrations [AOR], registrations remove AOR CONTACT). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/rpc.h>
#include <sipd/stats.h>

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

/* A removal's write: the RPC thread waits for it, so the answer means the row is gone. */
struct remove_job {
	struct sipd_db_job job; /* first: the DB thread hands it back */
	struct reg_snapshot snap;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static int remove_run(struct sipd_db_job *job)
{
	return reg_store_write(&((struct remove_job *)job)->snap);
}

/* On the DB thread (the job was submitted off a worker loop). */
static void remove_done(struct sipd_db_job *job, int err)
{
	struct remove_job *rj = (struct remove_job *)job;

	pthread_mutex_lock(&rj->lock);
	rj->err = err;
	rj->done = true;
	pthread_cond_signal(&rj->cond);
	pthread_mutex_unlock(&rj->lock);
}

/* Unlinks the binding contact of a; returns false when a has none such. */
static bool unlink_contact(struct reg_aor *a, const char *contact)
{
	for (struct reg_contact **pp = &a->contacts; *pp; pp = &(*pp)->next) {
		struct reg_contact *c = *pp;
		if (strcmp(c->uri, contact) != 0)
			continue;
		*pp = c->next;
		reg_contact_free(c);
		a->count--;
		sipd_stat_add(reg_st_bindings, -1);
		return true;
	}
	return false;
}

/* A write that deletes one binding's row (and tells the other nodes, as any write does). */
static int removal_snapshot(struct reg_snapshot *snap, const char *aor, const char *contact)
{
	*snap = (struct reg_snapshot){.write = true, .n_removed = 1};
	snap->aor = strdup(aor);
	snap->removed = calloc(1, sizeof(*snap->removed));
	if (snap->removed)
		snap->removed[0] = strdup(contact);
	if (!snap->aor || !snap->removed || !snap->removed[0]) {
		reg_snapshot_free(snap);
		return ENOMEM;
	}
	return 0;
}

static int rpc_remove(json_t *params, json_t **result)
{
	json_t *va = json_is_array(params) ? json_array_get(params, 0) : json_object_get(params, "aor");
	json_t *vc = json_is_array(params) ? json_array_get(params, 1) : json_object_get(params, "contact");
	struct remove_job rj = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct reg_aor *a;
	int err;

	if (!json_is_string(va) || !json_is_string(vc))
		return sipd_rpc_fail(result, EINVAL, "an AOR and a contact URI (strings) are required");
	const char *aor = json_string_value(va), *contact = json_string_value(vc);
	a = reg_table_lock(aor, false);
	if (!a || !unlink_contact(a, contact)) {
		reg_table_unlock(aor);
		return sipd_rpc_fail(result, ENOENT, "no binding %s of %s", contact, aor);
	}
	/* Under the bucket lock, as save() does: the DB thread writes an AOR's snapshots in order. */
	err = removal_snapshot(&rj.snap, aor, contact);
	if (!err) {
		rj.job.run = remove_run;
		rj.job.done = remove_done;
		err = sipd_db_submit(&rj.job);
	}
	reg_table_unlock(aor);
	if (err) {
		reg_snapshot_free(&rj.snap);
		return sipd_rpc_fail(result, err, "binding removed from memory but not from the database: %s",
				     strerror(err));
	}
	pthread_mutex_lock(&rj.lock);
	while (!rj.done)
		pthread_cond_wait(&rj.cond, &rj.lock);
	pthread_mutex_unlock(&rj.lock);
	reg_snapshot_free(&rj.snap);
	if (rj.err)
		return sipd_rpc_fail(result, EIO, "binding removed from memory but not from the database: %s",
				     strerror(rj.err));
	reg_events_publish(json_pack("[o]", reg_event_removed(aor, contact, "removed")));
	*result = json_pack("{s:s, s:s, s:b}", "aor", aor, "contact", contact, "removed", 1);
	return 0;
}

struct by_node {
	json_t *counts;
	int64_t now;
};

static void count_aor(struct reg_aor *a, void *arg)
{
	struct by_node *b = arg;

	for (const struct reg_contact *c = a->contacts; c; c = c->next) {
		const char *node = c->node ? c->node : sipd_node_id();

		if (c->expires > b->now)
			json_object_set_new(
			    b->counts, node,
			    json_integer(json_integer_value(json_object_get(b->counts, node)) + 1));
	}
}

/* {node: live bindings it took} (nodes.list asks this of every node's table in memory). */
static int rpc_by_node(json_t *params, json_t **result)
{
	struct by_node b = {.counts = json_object(), .now = sipd_db_now()};

	(void)params;
	if (!b.counts)
		return ENOMEM;
	reg_table_each(count_aor, &b);
	*result = b.counts;
	return 0;
}

const struct sipd_rpc_method reg_rpc_methods[] = {
    {.name = "registrations",
     .fn = rpc_registrations,
     .usage = "[AOR]",
     .help = "current bindings: AOR, contact, seconds left, q, received address, transport, user agent"},
    {.name = "registrations.list",
     .fn = rpc_registrations,
     .usage = "[AOR]",
     .help = "same as registrations"},
    {.name = "registrations.remove",
     .fn = rpc_remove,
     .usage = "AOR CONTACT",
     .help = "removes one binding (from memory and the database) as listed by registrations"},
    {.name = "registrations.by_node",
     .fn = rpc_by_node,
     .usage = "",
     .help = "live bindings per node that took them: {node: count}"},
    {.name = NULL},
};
