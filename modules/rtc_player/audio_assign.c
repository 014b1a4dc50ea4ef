/* Per-user audio assignments: rows in audio_assignments, mirrored in memory for the workers. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/db.h>
#include <sipd/log.h>

#include "audio.h"

#define BUCKETS 256

struct assignment {
	struct assignment *next;
	char *user;
	char audio[RP_NAME_MAX + 1];
	enum rp_mode mode;
	int64_t created;
};

/* Workers read under the read lock at each INVITE; the control thread writes after the row is stored. */
static struct {
	pthread_rwlock_t lock;
	struct assignment *bucket[BUCKETS];
	unsigned count;
	struct sipd_db_stmt *load, *upsert, *remove;
} tab = {.lock = PTHREAD_RWLOCK_INITIALIZER};

const char *rp_mode_name(enum rp_mode m)
{
	return m == RP_MODE_ONCE ? "once" : "loop";
}

int rp_mode_parse(const char *s)
{
	if (!s || !strcmp(s, "loop"))
		return RP_MODE_LOOP;
	if (!strcmp(s, "once"))
		return RP_MODE_ONCE;
	return -1;
}

static unsigned hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h % BUCKETS;
}

/* The entry for user (write or read lock held), or NULL. */
static struct assignment **find(const char *user, size_t len)
{
	struct assignment **p = &tab.bucket[hash(user, len)];

	for (; *p; p = &(*p)->next)
		if (strlen((*p)->user) == len && !memcmp((*p)->user, user, len))
			return p;
	return NULL;
}

/* Inserts or replaces (write lock held). */
static int put(const char *user, const char *audio, enum rp_mode mode, int64_t created)
{
	struct assignment **p = find(user, strlen(user)), *a;

	if (p) {
		a = *p;
	} else {
		if (!(a = calloc(1, sizeof(*a))) || !(a->user = strdup(user))) {
			free(a);
			return ENOMEM;
		}
		a->next = tab.bucket[hash(user, strlen(user))];
		tab.bucket[hash(user, strlen(user))] = a;
		tab.count++;
	}
	snprintf(a->audio, sizeof(a->audio), "%s", audio);
	a->mode = mode;
	a->created = created;
	return 0;
}

static void drop(struct assignment **p)
{
	struct assignment *a = *p;

	*p = a->next;
	free(a->user);
	free(a);
	tab.count--;
}

static int load_rows(void *arg)
{
	bool row;
	int err;

	(void)arg;
	pthread_rwlock_wrlock(&tab.lock);
	while ((err = sipd_db_step(tab.load, &row)) == 0 && row) {
		struct sipd_str u = sipd_db_column_str(tab.load, 0), au = sipd_db_column_str(tab.load, 1);
		struct sipd_str m = sipd_db_column_str(tab.load, 2);
		char user[256], audio[RP_NAME_MAX + 1];

		snprintf(user, sizeof(user), "%.*s", SIPD_STR_FMT(u));
		snprintf(audio, sizeof(audio), "%.*s", SIPD_STR_FMT(au));
		if ((err = put(user, audio, sipd_str_eq(m, SIPD_STR("once")) ? RP_MODE_ONCE : RP_MODE_LOOP,
			       sipd_db_column_int(tab.load, 3))))
			break;
	}
	pthread_rwlock_unlock(&tab.lock);
	sipd_db_reset(tab.load);
	return err;
}

int rp_assign_init(void)
{
	int err;

	if ((err = sipd_db_prepare(&tab.load,
				   "SELECT username, audio, mode, created FROM audio_assignments")) ||
	    (err = sipd_db_prepare(&tab.upsert,
				   "INSERT INTO audio_assignments(username, audio, mode, created) VALUES(?, ?, ?, ?) "
				   "ON CONFLICT(username) DO UPDATE SET audio = excluded.audio, mode = excluded.mode, "
				   "created = excluded.created")) ||
	    (err = sipd_db_prepare(&tab.remove, "DELETE FROM audio_assignments WHERE username = ?")))
		return err;
	if ((err = sipd_db_transaction(load_rows, NULL)))
		SIPD_ERR("cannot read audio_assignments: %s", strerror(err));
	return err;
}

void rp_assign_shutdown(void)
{
	pthread_rwlock_wrlock(&tab.lock);
	for (unsigned i = 0; i < BUCKETS; i++)
		while (tab.bucket[i])
			drop(&tab.bucket[i]);
	pthread_rwlock_unlock(&tab.lock);
}

struct upsert {
	const char *user, *audio;
	enum rp_mode mode;
	int64_t now;
};

static int upsert_row(void *arg)
{
	struct upsert *u = arg;
	int err;

	if ((err = sipd_db_bind_str(tab.upsert, 1, sipd_str_c(u->user))) == 0 &&
	    (err = sipd_db_bind_str(tab.upsert, 2, sipd_str_c(u->audio))) == 0 &&
	    (err = sipd_db_bind_str(tab.upsert, 3, sipd_str_c(rp_mode_name(u->mode)))) == 0 &&
	    (err = sipd_db_bind_int(tab.upsert, 4, u->now)) == 0)
		err = sipd_db_step(tab.upsert, NULL);
	sipd_db_reset(tab.upsert);
	return err;
}

int rp_assign_set(const char *user, const char *audio, enum rp_mode mode)
{
	struct upsert u = {.user = user, .audio = audio, .mode = mode, .now = sipd_db_now()};
	struct rp_audio *a = rp_audio_get(audio);
	int err;

	if (!a)
		return ENOENT;
	rp_audio_unref(a);
	if ((err = sipd_db_transaction(upsert_row, &u)))
		return EIO;
	pthread_rwlock_wrlock(&tab.lock);
	err = put(user, audio, mode, u.now);
	pthread_rwlock_unlock(&tab.lock);
	return err;
}

static int remove_row(void *arg)
{
	int err;

	if ((err = sipd_db_bind_str(tab.remove, 1, sipd_str_c(arg))) == 0)
		err = sipd_db_step(tab.remove, NULL);
	sipd_db_reset(tab.remove);
	return err;
}

int rp_assign_remove(const char *user)
{
	struct assignment **p;
	bool had;

	pthread_rwlock_rdlock(&tab.lock);
	had = find(user, strlen(user)) != NULL;
	pthread_rwlock_unlock(&tab.lock);
	if (!had)
		return ENOENT;
	if (sipd_db_transaction(remove_row, (void *)user))
		return EIO;
	pthread_rwlock_wrlock(&tab.lock);
	if ((p = find(user, strlen(user))))
		drop(p);
	pthread_rwlock_unlock(&tab.lock);
	return 0;
}

void rp_assign_forget_audio(const char *audio)
{
	pthread_rwlock_wrlock(&tab.lock);
	for (unsigned i = 0; i < BUCKETS; i++)
		for (struct assignment **p = &tab.bucket[i]; *p;)
			if (!strcmp((*p)->audio, audio))
				drop(p);
			else
				p = &(*p)->next;
	pthread_rwlock_unlock(&tab.lock);
}

unsigned rp_assign_count(const char *audio)
{
	unsigned n = 0;

	pthread_rwlock_rdlock(&tab.lock);
	for (unsigned i = 0; i < BUCKETS; i++)
		for (struct assignment *a = tab.bucket[i]; a; a = a->next)
			n += !strcmp(a->audio, audio);
	pthread_rwlock_unlock(&tab.lock);
	return n;
}

json_t *rp_assign_list(void)
{
	json_t *list = json_array(), *o;

	if (!list)
		return NULL;
	pthread_rwlock_rdlock(&tab.lock);
	for (unsigned i = 0; i < BUCKETS && list; i++)
		for (struct assignment *a = tab.bucket[i]; a; a = a->next) {
			o = json_pack("{s:s,s:s,s:s,s:I}", "user", a->user, "audio", a->audio, "mode",
				      rp_mode_name(a->mode), "created", (json_int_t)a->created);
			if (!o || json_array_append_new(list, o)) {
				json_decref(list);
				list = NULL;
				break;
			}
		}
	pthread_rwlock_unlock(&tab.lock);
	return list;
}

bool rp_assign_lookup(const char *user, size_t len, struct rp_audio **audio, enum rp_mode *mode)
{
	struct assignment **p;
	bool found = false;

	pthread_rwlock_rdlock(&tab.lock);
	if ((p = find(user, len))) {
		found = true;
		if (mode)
			*mode = (*p)->mode;
		if (audio && !(*audio = rp_audio_get((*p)->audio)))
			found = false;
	}
	pthread_rwlock_unlock(&tab.lock);
	return found;
}
