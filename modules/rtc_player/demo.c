/* The demo: a shipped greeting assigned to a demo user at first start, so a new install has a number to call.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "audio.h"

static struct sipd_db_stmt *st_seen, *st_mark;

struct demo_row {
	const char *user;
	bool seen;
};

static int seen_row(void *arg)
{
	struct demo_row *d = arg;
	int err;

	if ((err = sipd_db_bind_str(st_seen, 1, sipd_str_c(d->user))) == 0)
		err = sipd_db_step(st_seen, &d->seen);
	sipd_db_reset(st_seen);
	return err;
}

static int mark_row(void *arg)
{
	struct demo_row *d = arg;
	int err;

	if ((err = sipd_db_bind_str(st_mark, 1, sipd_str_c(d->user))) == 0 &&
	    (err = sipd_db_bind_int(st_mark, 2, sipd_db_now())) == 0)
		err = sipd_db_step(st_mark, NULL);
	sipd_db_reset(st_mark);
	return err;
}

/*
 * Once per demo user (remembered in rtc_player_demo, so an admin who later
 * unassigns or deletes it is not overruled at the next start): adds
 * library_dir/file as audio NAME (the file name without its extension) and
 * assigns it to user, looped. A missing file is a warning, not an error.
 */
int rp_demo_setup(const char *user, const char *file, const char *library_dir)
{
	struct demo_row d = {.user = user};
	char name[RP_NAME_MAX + 1], path[PATH_MAX], msg[RP_ERRMSG_MAX];
	struct rp_audio *a;
	char *dot;
	int err;

	if (!user[0] || !file[0])
		return 0;
	if ((err = sipd_db_prepare(&st_seen, "SELECT 1 FROM rtc_player_demo WHERE username = ?")) ||
	    (err =
		 sipd_db_prepare(&st_mark, "INSERT INTO rtc_player_demo(username, created) VALUES(?, ?)")) ||
	    (err = sipd_db_transaction(seen_row, &d)))
		return err;
	if (d.seen)
		return 0;
	snprintf(name, sizeof(name), "%s", file);
	if ((dot = strrchr(name, '.')) && dot != name)
		*dot = '\0';
	snprintf(path, sizeof(path), "%s/%s", library_dir, file);
	if (!(a = rp_audio_get(name))) {
		if (access(path, R_OK)) {
			SIPD_WARN("demo audio %s is missing (scripts/setup.sh makes it): no demo user yet",
				  path);
			return 0;
		}
		if ((err = rp_store_add(name, path, true, msg, sizeof(msg)))) {
			SIPD_WARN("demo audio %s not added: %s", path, msg);
			return 0;
		}
	}
	rp_audio_unref(a);
	if (!rp_assign_lookup(user, strlen(user), NULL, NULL) &&
	    (err = rp_assign_set(user, name, RP_MODE_LOOP)))
		return err;
	SIPD_NOTICE("demo: calls to user '%s' hear '%s'", user, name);
	return sipd_db_transaction(mark_row, &d);
}
