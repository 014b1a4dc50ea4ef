/* Taking over sessions in a shared database: a dead node's (one claimer wins each row), or one refreshed
 * here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/log.h>

#include "st.h"

/* A claimed session, copied out of the result before the statement moves on. */
struct claimed {
	struct claimed *next;
	int64_t expires_ms, started;
	struct st_dialog_info info; /* slices point into strings */
	char strings[];
};

struct claim_job {
	struct sipd_db_job job;
	struct claimed *list;
	unsigned count;
};

/* A refresh this node relayed for a session another node holds: the session moves here, then is refreshed. */
struct refresh_job {
	struct sipd_db_job job;
	struct claimed *row; /* the session as stored; NULL when no node has it */
	uint32_t interval, cseq;
	enum st_ref ref;
	struct sipd_str call_id, from_tag, to_tag; /* point into keys */
	char keys[];
};

/* "node\ncall_id\ncaller_tag\ncallee_tag": that node holds the session now; the others forget theirs. */
#define CHANNEL "sipd_sessions"

static struct sipd_db_stmt *st_claim, *st_claim_one;
static struct sipd_timer tick;
static bool ticking;
/* Loop 0 only (its timer and the job's completion): one claim at a time. */
static bool in_flight;

/* A copy of the current row of s, or NULL (ENOMEM in *err). */
static struct claimed *copy_row(struct sipd_db_stmt *s, int *err)
{
	struct st_dialog_info i;
	struct claimed *k;
	int64_t expires, started;

	st_persist_row(s, &i, &expires, &started);
	if (!(k = calloc(1, sizeof(*k) + st_info_strings_len(&i)))) {
		*err = ENOMEM;
		return NULL;
	}
	st_info_copy(&k->info, &i, k->strings);
	k->expires_ms = expires;
	k->started = started;
	return k;
}

/*
 * DB thread: every row of a node that is stopped or missed its heartbeats for node_dead_after passes
 * to this node in one UPDATE. The row lock makes a second claimer re-check "node = the dead one" against
 * the committed row, which names the winner by then: it skips the row.
 */
static int claim_run(struct sipd_db_job *job)
{
	struct claim_job *c = (struct claim_job *)job;
	struct sipd_str me = sipd_str_c(sipd_node_id());
	bool row;
	int err;

	err = sipd_db_bind_str(st_claim, 1, me) ?: sipd_db_bind_str(st_claim, 2, me)
	    ?: sipd_db_bind_int(st_claim, 3, sipd_db_now() - sipd_node_dead_after());
	while (!err && (err = sipd_db_step(st_claim, &row)) == 0 && row) {
		struct claimed *k = copy_row(st_claim, &err);

		if (!k)
			break;
		k->next = c->list;
		c->list = k;
		c->count++;
	}
	sipd_db_reset(st_claim);
	return err;
}

/* Loop 0: the claimed sessions join the table with their stored expiry (the overdue ones end at once). */
static void claim_done(struct sipd_db_job *job, int err)
{
	struct claim_job *c = (struct claim_job *)job;
	int64_t now = st_wall_ms();
	unsigned restored = 0;

	in_flight = false;
	while (c->list) {
		struct claimed *k = c->list;

		c->list = k->next;
		/* A rolled-back claim left the rows with their dead node: the next tick tries again. */
		if (!err &&
		    st_dialog_restore(&k->info, st_restore_in(k->expires_ms, now), (uint64_t)k->started) == 0)
			restored++;
		free(k);
	}
	if (err)
		SIPD_WARN("sessions of dead nodes not claimed: %s", strerror(err));
	else if (c->count)
		SIPD_NOTICE("took over %u session%s of dead or stopped nodes (%u restored here)", c->count,
			    c->count == 1 ? "" : "s", restored);
	free(c);
}

static void on_tick(void *arg)
{
	struct claim_job *c;

	(void)arg;
	if (!in_flight && sipd_db_available() && (c = calloc(1, sizeof(*c)))) {
		c->job.run = claim_run;
		c->job.done = claim_done;
		if (sipd_db_submit(&c->job) == 0)
			in_flight = true;
		else
			free(c);
	}
	sipd_timer_start(&tick, sipd_loop_get(0), ST_TAKEOVER_EVERY_MS);
}

/* Inside the claim's transaction: the node that held the session drops its copy once this commits. */
static int tell_moved(const struct st_dialog_info *i)
{
	char payload[1024];
	int n = snprintf(payload, sizeof(payload), "%s\n%.*s\n%.*s\n%.*s", sipd_node_id(),
			 SIPD_STR_FMT(i->call_id), SIPD_STR_FMT(i->caller_tag), SIPD_STR_FMT(i->callee_tag));

	/* Too long to tell: the old holder finds the row is not its own when its timer fires. */
	return n < 0 || n >= (int)sizeof(payload) ? 0 : sipd_db_notify(CHANNEL, payload);
}

/* DB thread: another node took a session over; a copy held here is dropped (no BYE, the row is theirs). */
static void on_moved(void *arg, const char *channel, const char *payload)
{
	const char *f[4] = {payload};
	size_t len[4];

	(void)arg;
	(void)channel;
	for (int i = 1; i < 4; i++)
		if (!(f[i] = strchr(f[i - 1], '\n')) || !*++f[i])
			return;
	for (int i = 0; i < 3; i++)
		len[i] = (size_t)(f[i + 1] - f[i] - 1);
	len[3] = strlen(f[3]);
	if (sipd_str_eq((struct sipd_str){f[0], len[0]}, sipd_str_c(sipd_node_id())))
		return;
	if (st_dialog_forget((struct sipd_str){f[1], len[1]}, (struct sipd_str){f[2], len[2]},
			     (struct sipd_str){f[3], len[3]}) == 0)
		SIPD_INFO("session %.*s moved to node %.*s", (int)len[1], f[1], (int)len[0], f[0]);
}

/* DB thread: the row (either tag order) names this node from now on. */
static int refresh_run(struct sipd_db_job *job)
{
	struct refresh_job *r = (struct refresh_job *)job;
	bool row;
	int err;

	err = sipd_db_bind_str(st_claim_one, 1, sipd_str_c(sipd_node_id()))
	    ?: sipd_db_bind_str(st_claim_one, 2, r->call_id) ?: sipd_db_bind_str(st_claim_one, 3, r->from_tag)
	    ?: sipd_db_bind_str(st_claim_one, 4, r->to_tag) ?: sipd_db_bind_str(st_claim_one, 5, r->to_tag)
	    ?: sipd_db_bind_str(st_claim_one, 6, r->from_tag);
	if (!err && (err = sipd_db_step(st_claim_one, &row)) == 0 && row)
		r->row = copy_row(st_claim_one, &err);
	sipd_db_reset(st_claim_one);
	return err || !r->row ? err : tell_moved(&r->row->info);
}

/* The worker that relayed the refresh: the session joins this node's table and takes the refresh. */
static void refresh_done(struct sipd_db_job *job, int err)
{
	struct refresh_job *r = (struct refresh_job *)job;
	struct claimed *k = r->row;

	if (!err && k &&
	    !(err = st_dialog_restore(&k->info, st_restore_in(k->expires_ms, st_wall_ms()),
				      (uint64_t)k->started)) &&
	    !(err = st_dialog_refresh(r->call_id, r->from_tag, r->to_tag, r->interval, r->ref, r->cseq)))
		SIPD_NOTICE("session %.*s refreshed through this node: held here from now on",
			    SIPD_STR_FMT(r->call_id));
	else if (err)
		SIPD_WARN("session %.*s refreshed through this node, not taken over: %s",
			  SIPD_STR_FMT(r->call_id), strerror(err));
	free(k);
	free(r);
}

/* A copy of v at *p (advanced past it). */
static struct sipd_str keep(char **p, struct sipd_str v)
{
	struct sipd_str out = {*p, v.len};

	if (v.len)
		memcpy(*p, v.p, v.len);
	*p += v.len;
	return out;
}

void st_takeover_refresh(struct sipd_str call_id, struct sipd_str from_tag, struct sipd_str to_tag,
			 uint32_t interval, enum st_ref ref, uint32_t cseq)
{
	struct refresh_job *r;
	char *p;

	if (!st_claim_one || !(r = calloc(1, sizeof(*r) + call_id.len + from_tag.len + to_tag.len)))
		return;
	p = r->keys;
	r->call_id = keep(&p, call_id);
	r->from_tag = keep(&p, from_tag);
	r->to_tag = keep(&p, to_tag);
	r->interval = interval;
	r->ref = ref;
	r->cseq = cseq;
	r->job.run = refresh_run;
	r->job.done = refresh_done;
	if (sipd_db_submit(&r->job) != 0)
		free(r);
}

bool st_shared(void)
{
	const char *engine = sipd_db_engine();

	return engine && strcmp(engine, "postgresql") == 0;
}

int st_takeover_init(void)
{
	return st_shared() ? sipd_db_listen(CHANNEL, on_moved, NULL) : 0;
}

int st_takeover_start(void)
{
	int err;

	/* One SQLite file has one node: it adopted everything at start. */
	if (!st_shared() || !sipd_loop_count())
		return 0;
	if ((err = sipd_db_prepare(&st_claim,
				   "UPDATE st_dialogs SET node = ? WHERE node IN (SELECT node_id FROM "
				   "nodes WHERE node_id <> ? AND (state <> 'up' OR last_seen < ?)) "
				   "RETURNING " ST_COLUMNS)) ||
	    (err =
		 sipd_db_prepare(&st_claim_one, "UPDATE st_dialogs SET node = ? WHERE call_id = ? AND "
						"((caller_tag = ? AND callee_tag = ?) OR (caller_tag = ? AND "
						"callee_tag = ?)) RETURNING " ST_COLUMNS)))
		return err;
	sipd_timer_init(&tick, on_tick, NULL);
	sipd_timer_start(&tick, sipd_loop_get(0), ST_TAKEOVER_EVERY_MS);
	ticking = true;
	return 0;
}

void st_takeover_stop(void)
{
	st_claim_one = NULL;
	if (ticking)
		sipd_timer_stop(&tick);
	ticking = false;
}
