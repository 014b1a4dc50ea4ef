/* Taking over a dead node's sessions: claimed in the shared database (one claimer wins each row), then run
 * here.
 */
#include <errno.h>
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

static struct sipd_db_stmt *st_claim;
static struct sipd_timer tick;
static bool ticking;
/* Loop 0 only (its timer and the job's completion): one claim at a time. */
static bool in_flight;

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
		struct st_dialog_info i;
		struct claimed *k;
		int64_t expires, started;

		st_persist_row(st_claim, &i, &expires, &started);
		if (!(k = calloc(1, sizeof(*k) + st_info_strings_len(&i)))) {
			err = ENOMEM;
			break;
		}
		st_info_copy(&k->info, &i, k->strings);
		k->expires_ms = expires;
		k->started = started;
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

int st_takeover_start(void)
{
	const char *engine = sipd_db_engine();
	int err;

	/* One SQLite file has one node: it adopted everything at start. */
	if (!engine || strcmp(engine, "postgresql") != 0 || !sipd_loop_count())
		return 0;
	if ((err = sipd_db_prepare(&st_claim,
				   "UPDATE st_dialogs SET node = ? WHERE node IN (SELECT node_id FROM "
				   "nodes WHERE node_id <> ? AND (state <> 'up' OR last_seen < ?)) "
				   "RETURNING " ST_COLUMNS)))
		return err;
	sipd_timer_init(&tick, on_tick, NULL);
	sipd_timer_start(&tick, sipd_loop_get(0), ST_TAKEOVER_EVERY_MS);
	ticking = true;
	return 0;
}

void st_takeover_stop(void)
{
	if (ticking)
		sipd_timer_stop(&tick);
	ticking = false;
}
