/* Durable dialogs: every change of a session is written by a DB job; the table is loaded back at start. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/log.h>

#include "st.h"

static const struct sipd_db_migration migrations[] = {
    {1, "CREATE TABLE st_dialogs("
	" call_id TEXT NOT NULL, caller_tag TEXT NOT NULL, callee_tag TEXT NOT NULL,"
	" caller TEXT NOT NULL, callee TEXT NOT NULL, caller_contact TEXT NOT NULL, callee_contact TEXT NOT "
	"NULL,"
	" route_caller TEXT NOT NULL, route_callee TEXT NOT NULL,"
	" caller_proto INTEGER NOT NULL, caller_ip TEXT NOT NULL, caller_port INTEGER NOT NULL,"
	" callee_proto INTEGER NOT NULL, callee_ip TEXT NOT NULL, callee_port INTEGER NOT NULL,"
	" caller_cseq BIGINT NOT NULL, callee_cseq BIGINT NOT NULL, interval_s INTEGER NOT NULL,"
	" refresher INTEGER NOT NULL, expires_ms BIGINT NOT NULL, started BIGINT NOT NULL,"
	" PRIMARY KEY (call_id, caller_tag, callee_tag))"},
    /* The node that holds each session and runs its expiry ('' for rows of older versions). */
    {2, "ALTER TABLE st_dialogs ADD COLUMN node TEXT NOT NULL DEFAULT '';"
	"CREATE INDEX st_dialogs_node ON st_dialogs(node)"},
};

static struct sipd_db_stmt *st_load, *st_adopt, *st_delete, *st_insert, *st_owner, *st_count, *st_holder,
    *st_others;
static bool enabled;

enum st_job_kind {
	ST_JOB_SAVE,   /* the row as the dialog is now */
	ST_JOB_DELETE, /* the row goes */
	ST_JOB_EXPIRE, /* ran out here: the row goes and BYEs follow, unless another node holds it */
};

/* Work queued for the DB thread about one dialog. */
struct st_job {
	struct sipd_db_job job;
	enum st_job_kind kind;
	bool foreign;   /* expire: the row names another node (filled by run) */
	char owner[64]; /* that node */
	int64_t expires_ms, started;
	struct st_dialog_info info; /* slices point into strings */
	char strings[];
};

int st_persist_init(void)
{
	int err;

	if ((err = sipd_db_migrate("session_timer", migrations, sizeof(migrations) / sizeof(migrations[0]))))
		return err == ENODEV ? 0 : err;
	st_adopt = NULL;
	if ((err = sipd_db_prepare(&st_load, "SELECT " ST_COLUMNS " FROM st_dialogs WHERE node = ?")) ||
	    (err = sipd_db_prepare(&st_count, "SELECT node, COUNT(*) FROM st_dialogs GROUP BY node")) ||
	    (err = sipd_db_prepare(&st_holder,
				   "SELECT node FROM st_dialogs WHERE call_id = ? AND node <> ''")) ||
	    (err = sipd_db_prepare(&st_owner,
				   "SELECT node FROM st_dialogs WHERE call_id = ? AND caller_tag = ? "
				   "AND callee_tag = ?")) ||
	    (err = sipd_db_prepare(
		 &st_delete,
		 "DELETE FROM st_dialogs WHERE call_id = ? AND caller_tag = ? AND callee_tag = ?")) ||
	    (err = sipd_db_prepare(&st_insert,
				   "INSERT INTO st_dialogs(" ST_COLUMNS ", node) VALUES(?, ?, ?, ?, ?, ?, "
				   "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")))
		return err;
	/* Other nodes' rows are theirs to list only when nodes share the database. */
	if (st_shared() && (err = sipd_db_prepare(&st_others, "SELECT " ST_COLUMNS ", node FROM st_dialogs "
							      "WHERE node <> ? ORDER BY started")))
		return err;
	enabled = true;
	return 0;
}

int64_t st_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int bind_dest(struct sipd_db_stmt *s, int idx, const struct sipd_dest *d)
{
	char ip[INET6_ADDRSTRLEN];

	sipd_sockaddr_ip(&d->addr, ip, sizeof(ip));
	return sipd_db_bind_int(s, idx, d->proto) ?: sipd_db_bind_str(s, idx + 1, sipd_str_c(ip))
							 ?: sipd_db_bind_int(s, idx + 2, sipd_sockaddr_port(&d->addr));
}

static int bind_key(struct sipd_db_stmt *s, const struct st_dialog_info *i)
{
	return sipd_db_bind_str(s, 1, i->call_id) ?: sipd_db_bind_str(s, 2, i->caller_tag)
						  ?: sipd_db_bind_str(s, 3, i->callee_tag);
}

static int step_once(struct sipd_db_stmt *s, int err)
{
	if (!err)
		err = sipd_db_step(s, NULL);
	sipd_db_reset(s);
	return err;
}

/* DB thread: which node the row names; this node deletes it only when it is its own (or no node's). */
static int expire_run(struct st_job *j)
{
	struct sipd_str node;
	bool row;
	int err = bind_key(st_owner, &j->info);

	if (!err && !(err = sipd_db_step(st_owner, &row)) && row) {
		node = sipd_db_column_str(st_owner, 0);
		j->foreign = node.len && !sipd_str_eq(node, sipd_str_c(sipd_node_id()));
		snprintf(j->owner, sizeof(j->owner), "%.*s", SIPD_STR_FMT(node));
	}
	sipd_db_reset(st_owner);
	if (err || j->foreign)
		return err;
	return step_once(st_delete, bind_key(st_delete, &j->info));
}

/* DB thread: the row replaces what was there (delete + insert is portable SQL), naming this node. */
static int job_run(struct sipd_db_job *job)
{
	struct st_job *j = (struct st_job *)job;
	const struct st_dialog_info *i = &j->info;
	int err;

	if (j->kind == ST_JOB_EXPIRE)
		return expire_run(j);
	if ((err = step_once(st_delete, bind_key(st_delete, i))) || j->kind == ST_JOB_DELETE)
		return err;
	err = bind_key(st_insert, i) ?: sipd_db_bind_str(st_insert, 4, i->caller)
	    ?: sipd_db_bind_str(st_insert, 5, i->callee) ?: sipd_db_bind_str(st_insert, 6, i->caller_contact)
	    ?: sipd_db_bind_str(st_insert, 7, i->callee_contact) ?: sipd_db_bind_str(st_insert, 8, i->route_caller)
	    ?: sipd_db_bind_str(st_insert, 9, i->route_callee) ?: bind_dest(st_insert, 10, &i->caller_dst)
	    ?: bind_dest(st_insert, 13, &i->callee_dst) ?: sipd_db_bind_int(st_insert, 16, i->caller_cseq)
	    ?: sipd_db_bind_int(st_insert, 17, i->callee_cseq) ?: sipd_db_bind_int(st_insert, 18, i->interval)
	    ?: sipd_db_bind_int(st_insert, 19, i->refresher) ?: sipd_db_bind_int(st_insert, 20, j->expires_ms)
	    ?: sipd_db_bind_int(st_insert, 21, j->started)
	    ?: sipd_db_bind_str(st_insert, 22, sipd_str_c(sipd_node_id()));
	return step_once(st_insert, err);
}

/* The end of an expired session, once the database said whose it is. */
static void expire_done(struct st_job *j, int err)
{
	if (!err && j->foreign) {
		SIPD_INFO("session %.*s ran out here but node %s holds it now: it ends there",
			  SIPD_STR_FMT(j->info.call_id), j->owner);
		return;
	}
	/* Unreachable database: a BYE too many (answered 481) beats a session nobody ends. */
	if (err)
		SIPD_WARN("session %.*s expired; its owner is unknown (%s): BYEs sent from here",
			  SIPD_STR_FMT(j->info.call_id), strerror(err));
	if (st_sys->expire)
		st_sys->expire(&j->info);
}

static void job_done(struct sipd_db_job *job, int err)
{
	struct st_job *j = (struct st_job *)job;

	if (j->kind == ST_JOB_EXPIRE)
		expire_done(j, err);
	else if (err)
		SIPD_WARN("session %.*s not %s on disk: %s", SIPD_STR_FMT(j->info.call_id),
			  j->kind == ST_JOB_SAVE ? "saved" : "removed", strerror(err));
	free(j);
}

/* Queues a job about info; 0, or the error that kept it from the DB thread (logged). */
static int submit(const struct st_dialog_info *info, enum st_job_kind kind, uint64_t expires_in_ms,
		  uint64_t started_wall)
{
	struct st_job *j;
	int err;

	if (!(j = calloc(1, sizeof(*j) + st_info_strings_len(info)))) {
		SIPD_WARN("session %.*s not persisted: out of memory", SIPD_STR_FMT(info->call_id));
		return ENOMEM;
	}
	st_info_copy(&j->info, info, j->strings);
	j->kind = kind;
	j->expires_ms = expires_in_ms == UINT64_MAX ? 0 : st_wall_ms() + (int64_t)expires_in_ms;
	j->started = (int64_t)started_wall;
	j->job.run = job_run;
	j->job.done = job_done;
	if ((err = sipd_db_submit(&j->job))) {
		SIPD_WARN("session %.*s not persisted: %s", SIPD_STR_FMT(info->call_id), strerror(err));
		free(j);
	}
	return err;
}

void st_persist(const struct st_dialog_info *info, bool save, uint64_t expires_in_ms, uint64_t started_wall)
{
	if (enabled)
		submit(info, save ? ST_JOB_SAVE : ST_JOB_DELETE, expires_in_ms, started_wall);
}

void st_persist_expire(const struct st_dialog_info *info)
{
	if (!enabled || submit(info, ST_JOB_EXPIRE, 0, 0) != 0) {
		if (st_sys->expire)
			st_sys->expire(info);
	}
}

static void column_dest(struct sipd_db_stmt *s, struct sipd_dest *d, int idx)
{
	struct sipd_str ip = sipd_db_column_str(s, idx + 1);
	uint16_t port = (uint16_t)sipd_db_column_int(s, idx + 2);
	char buf[INET6_ADDRSTRLEN];

	memset(d, 0, sizeof(*d));
	d->proto = (enum sipd_proto)sipd_db_column_int(s, idx);
	if (ip.len >= sizeof(buf))
		return;
	memcpy(buf, ip.p, ip.len);
	buf[ip.len] = '\0';
	if (inet_pton(AF_INET, buf, &d->addr.sin.sin_addr) == 1) {
		d->addr.sin.sin_family = AF_INET;
		d->addr.sin.sin_port = htons(port);
	} else if (inet_pton(AF_INET6, buf, &d->addr.sin6.sin6_addr) == 1) {
		d->addr.sin6.sin6_family = AF_INET6;
		d->addr.sin6.sin6_port = htons(port);
	}
}

void st_persist_row(struct sipd_db_stmt *s, struct st_dialog_info *i, int64_t *expires_ms, int64_t *started)
{
	memset(i, 0, sizeof(*i));
	i->call_id = sipd_db_column_str(s, 0);
	i->caller_tag = sipd_db_column_str(s, 1);
	i->callee_tag = sipd_db_column_str(s, 2);
	i->caller = sipd_db_column_str(s, 3);
	i->callee = sipd_db_column_str(s, 4);
	i->caller_contact = sipd_db_column_str(s, 5);
	i->callee_contact = sipd_db_column_str(s, 6);
	i->route_caller = sipd_db_column_str(s, 7);
	i->route_callee = sipd_db_column_str(s, 8);
	column_dest(s, &i->caller_dst, 9);
	column_dest(s, &i->callee_dst, 12);
	i->caller_cseq = (uint32_t)sipd_db_column_int(s, 15);
	i->callee_cseq = (uint32_t)sipd_db_column_int(s, 16);
	i->interval = (uint32_t)sipd_db_column_int(s, 17);
	i->refresher = (enum st_party)sipd_db_column_int(s, 18);
	*expires_ms = sipd_db_column_int(s, 19);
	*started = sipd_db_column_int(s, 20);
}

uint64_t st_restore_in(int64_t expires_ms, int64_t now_ms)
{
	/* Sessions that ran out meanwhile end now, with their BYEs; a short delay lets the transports come
	 * up. */
	if (!expires_ms)
		return UINT64_MAX;
	return expires_ms - now_ms > ST_RESTORE_MIN_MS ? (uint64_t)(expires_ms - now_ms) : ST_RESTORE_MIN_MS;
}

/*
 * Start: this node adopts the rows no live node holds (a dead or stopped node's, or rows from before
 * nodes were recorded), then loads its own.
 */
static int load_rows(void *arg)
{
	int64_t now = st_wall_ms();
	unsigned *loaded = arg;
	struct sipd_str me = sipd_str_c(sipd_node_id());
	bool row;
	int err;

	err = sipd_db_bind_str(st_adopt, 1, me) ?: sipd_db_bind_str(st_adopt, 2, me)
	    ?: sipd_db_bind_int(st_adopt, 3, sipd_db_now() - sipd_node_dead_after());
	if ((err = step_once(st_adopt, err)) || (err = sipd_db_bind_str(st_load, 1, me)))
		return err;
	while ((err = sipd_db_step(st_load, &row)) == 0 && row) {
		struct st_dialog_info i;
		int64_t expires, started;

		st_persist_row(st_load, &i, &expires, &started);
		if ((err = st_dialog_restore(&i, st_restore_in(expires, now), (uint64_t)started)))
			break;
		(*loaded)++;
	}
	sipd_db_reset(st_load);
	return err;
}

int st_persist_load(void)
{
	unsigned loaded = 0;
	int err;

	if (!enabled)
		return 0;
	/* Here, not in init: the nodes table is there once the node registered (not in a --check run). */
	if (!st_adopt &&
	    (err = sipd_db_prepare(&st_adopt, "UPDATE st_dialogs SET node = ? WHERE node <> ? AND "
					      "node NOT IN (SELECT node_id FROM nodes WHERE "
					      "state = 'up' AND last_seen >= ?)")))
		return err;
	if ((err = sipd_db_transaction(load_rows, &loaded)))
		SIPD_ERR("sessions not loaded: %s", strerror(err));
	else
		SIPD_INFO("%u sessions loaded", loaded);
	return err;
}

static int count_rows(void *arg)
{
	json_t *counts = arg;
	bool row;
	int err;

	while ((err = sipd_db_step(st_count, &row)) == 0 && row) {
		struct sipd_str node = sipd_db_column_str(st_count, 0);

		if (json_object_setn_new(counts, node.p, node.len,
					 json_integer(sipd_db_column_int(st_count, 1)))) {
			err = ENOMEM;
			break;
		}
	}
	sipd_db_reset(st_count);
	return err;
}

int st_persist_count(json_t *counts)
{
	return enabled ? sipd_db_transaction(count_rows, counts) : ENODEV;
}

struct holder {
	struct sipd_str call_id;
	char *node;
	size_t size;
};

static int read_holder(void *arg)
{
	struct holder *h = arg;
	bool row;
	int err = sipd_db_bind_str(st_holder, 1, h->call_id);

	if (!err && (err = sipd_db_step(st_holder, &row)) == 0 && row) {
		struct sipd_str node = sipd_db_column_str(st_holder, 0);

		snprintf(h->node, h->size, "%.*s", SIPD_STR_FMT(node));
	}
	sipd_db_reset(st_holder);
	return err;
}

int st_persist_holder(struct sipd_str call_id, char *node, size_t size)
{
	struct holder h = {call_id, node, size};
	int err;

	node[0] = '\0';
	if (!enabled)
		return ENODEV;
	if ((err = sipd_db_transaction(read_holder, &h)))
		return err;
	return node[0] ? 0 : ENOENT;
}

struct others {
	json_t *list, *skip;
};

/* The current row of st_others as a session of the node it names, not held here. */
static int other_json(struct others *o, int64_t now)
{
	struct st_dialog_info i;
	int64_t expires, started;
	struct sipd_str node = sipd_db_column_str(st_others, 21);
	json_t *s;

	st_persist_row(st_others, &i, &expires, &started);
	if (json_object_getn(o->skip, i.call_id.p, i.call_id.len))
		return 0; /* moved here a moment ago: listed as this node's */
	s = st_session_json(&i, (uint64_t)started,
			    !expires        ? UINT64_MAX
			    : expires > now ? (uint64_t)(expires - now)
					    : 0);
	if (!s || json_object_set_new(s, "node", json_stringn(node.p, node.len)) ||
	    json_object_set_new(s, "local", json_false()) || json_array_append_new(o->list, s))
		return ENOMEM;
	return 0;
}

static int read_others(void *arg)
{
	int64_t now = st_wall_ms();
	bool row;
	int err = sipd_db_bind_str(st_others, 1, sipd_str_c(sipd_node_id()));

	while (!err && (err = sipd_db_step(st_others, &row)) == 0 && row)
		err = other_json(arg, now);
	sipd_db_reset(st_others);
	return err;
}

int st_persist_others(json_t *list, json_t *skip)
{
	struct others o = {list, skip};

	return st_others ? sipd_db_read(read_others, &o) : ENODEV;
}
