/* Durable dialogs: every change of a session is written by a DB job; the table is loaded back at start. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
};

#define COLUMNS                                                                                              \
	"call_id, caller_tag, callee_tag, caller, callee, caller_contact, callee_contact, route_caller, "    \
	"route_callee, caller_proto, caller_ip, caller_port, callee_proto, callee_ip, callee_port, "         \
	"caller_cseq, callee_cseq, interval_s, refresher, expires_ms, started"

static struct sipd_db_stmt *st_load, *st_delete, *st_insert;
static bool enabled;

/* A write queued for the DB thread: the dialog's row as it is now (save) or its key alone (delete). */
struct st_job {
	struct sipd_db_job job;
	bool save;
	int64_t expires_ms, started;
	struct st_dialog_info info; /* slices point into strings */
	char strings[];
};

int st_persist_init(void)
{
	int err;

	if ((err = sipd_db_migrate("session_timer", migrations, sizeof(migrations) / sizeof(migrations[0]))))
		return err == ENODEV ? 0 : err;
	if ((err = sipd_db_prepare(&st_load, "SELECT " COLUMNS " FROM st_dialogs")) ||
	    (err = sipd_db_prepare(
		 &st_delete,
		 "DELETE FROM st_dialogs WHERE call_id = ? AND caller_tag = ? AND callee_tag = ?")) ||
	    (err = sipd_db_prepare(&st_insert,
				   "INSERT INTO st_dialogs(" COLUMNS ") VALUES(?, ?, ?, ?, ?, ?, ?, "
				   "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")))
		return err;
	enabled = true;
	return 0;
}

static int64_t wall_ms(void)
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

/* DB thread: the row replaces what was there (delete + insert is portable SQL). */
static int job_run(struct sipd_db_job *job)
{
	struct st_job *j = (struct st_job *)job;
	const struct st_dialog_info *i = &j->info;
	int err;

	if ((err = step_once(st_delete, bind_key(st_delete, i))) || !j->save)
		return err;
	err = bind_key(st_insert, i) ?: sipd_db_bind_str(st_insert, 4, i->caller)
	    ?: sipd_db_bind_str(st_insert, 5, i->callee) ?: sipd_db_bind_str(st_insert, 6, i->caller_contact)
	    ?: sipd_db_bind_str(st_insert, 7, i->callee_contact) ?: sipd_db_bind_str(st_insert, 8, i->route_caller)
	    ?: sipd_db_bind_str(st_insert, 9, i->route_callee) ?: bind_dest(st_insert, 10, &i->caller_dst)
	    ?: bind_dest(st_insert, 13, &i->callee_dst) ?: sipd_db_bind_int(st_insert, 16, i->caller_cseq)
	    ?: sipd_db_bind_int(st_insert, 17, i->callee_cseq) ?: sipd_db_bind_int(st_insert, 18, i->interval)
	    ?: sipd_db_bind_int(st_insert, 19, i->refresher) ?: sipd_db_bind_int(st_insert, 20, j->expires_ms)
	    ?: sipd_db_bind_int(st_insert, 21, j->started);
	return step_once(st_insert, err);
}

static void job_done(struct sipd_db_job *job, int err)
{
	struct st_job *j = (struct st_job *)job;

	if (err)
		SIPD_WARN("session %.*s not %s on disk: %s", SIPD_STR_FMT(j->info.call_id),
			  j->save ? "saved" : "removed", strerror(err));
	free(j);
}

void st_persist(const struct st_dialog_info *info, bool save, uint64_t expires_in_ms, uint64_t started_wall)
{
	struct st_job *j;
	int err;

	if (!enabled)
		return;
	if (!(j = calloc(1, sizeof(*j) + st_info_strings_len(info)))) {
		SIPD_WARN("session %.*s not persisted: out of memory", SIPD_STR_FMT(info->call_id));
		return;
	}
	st_info_copy(&j->info, info, j->strings);
	j->save = save;
	j->expires_ms = expires_in_ms == UINT64_MAX ? 0 : wall_ms() + (int64_t)expires_in_ms;
	j->started = (int64_t)started_wall;
	j->job.run = job_run;
	j->job.done = job_done;
	if ((err = sipd_db_submit(&j->job))) {
		SIPD_WARN("session %.*s not persisted: %s", SIPD_STR_FMT(info->call_id), strerror(err));
		free(j);
	}
}

static void column_dest(struct sipd_dest *d, int idx)
{
	struct sipd_str ip = sipd_db_column_str(st_load, idx + 1);
	uint16_t port = (uint16_t)sipd_db_column_int(st_load, idx + 2);
	char buf[INET6_ADDRSTRLEN];

	memset(d, 0, sizeof(*d));
	d->proto = (enum sipd_proto)sipd_db_column_int(st_load, idx);
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

static int load_rows(void *arg)
{
	int64_t now = wall_ms();
	unsigned *loaded = arg;
	bool row;
	int err;

	while ((err = sipd_db_step(st_load, &row)) == 0 && row) {
		struct st_dialog_info i = {0};
		int64_t expires;

		i.call_id = sipd_db_column_str(st_load, 0);
		i.caller_tag = sipd_db_column_str(st_load, 1);
		i.callee_tag = sipd_db_column_str(st_load, 2);
		i.caller = sipd_db_column_str(st_load, 3);
		i.callee = sipd_db_column_str(st_load, 4);
		i.caller_contact = sipd_db_column_str(st_load, 5);
		i.callee_contact = sipd_db_column_str(st_load, 6);
		i.route_caller = sipd_db_column_str(st_load, 7);
		i.route_callee = sipd_db_column_str(st_load, 8);
		column_dest(&i.caller_dst, 9);
		column_dest(&i.callee_dst, 12);
		i.caller_cseq = (uint32_t)sipd_db_column_int(st_load, 15);
		i.callee_cseq = (uint32_t)sipd_db_column_int(st_load, 16);
		i.interval = (uint32_t)sipd_db_column_int(st_load, 17);
		i.refresher = (enum st_party)sipd_db_column_int(st_load, 18);
		expires = sipd_db_column_int(st_load, 19);
		/*
		 * Sessions that ran out while we were down end now, with their BYEs; a
		 * short delay lets the transports come up first.
		 */
		if ((err = st_dialog_restore(&i,
					     !expires                            ? UINT64_MAX
					     : expires - now > ST_RESTORE_MIN_MS ? (uint64_t)(expires - now)
										 : ST_RESTORE_MIN_MS,
					     (uint64_t)sipd_db_column_int(st_load, 20))))
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
	if ((err = sipd_db_transaction(load_rows, &loaded)))
		SIPD_ERR("sessions not loaded: %s", strerror(err));
	else
		SIPD_INFO("%u sessions loaded", loaded);
	return err;
}
