/* The users table (HA1 digests only) and its in-memory cache, so authentication never waits on the database.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <sipd/core.h>
#include <sipd/db.h>
#include <sipd/log.h>

#include "auth_db.h"

#define USER_BUCKETS 4096

struct user {
	char *name, *realm;
	char ha1[AUTH_ALGO_COUNT][AUTH_HEX_MAX];
	bool enabled;
	int64_t created, updated;
	struct user *next;
};

static const struct sipd_db_migration migrations[] = {
    {1, "CREATE TABLE users("
	" username TEXT NOT NULL, realm TEXT NOT NULL,"
	" ha1_md5 TEXT NOT NULL, ha1_sha256 TEXT NOT NULL,"
	" enabled INTEGER NOT NULL DEFAULT 1,"
	" created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" PRIMARY KEY (username, realm));"
	"CREATE TABLE auth_secret(id INTEGER PRIMARY KEY CHECK (id = 1), secret TEXT NOT NULL);"},
};

/* Readers (workers) share the lock; the control thread writes it when users change. */
static pthread_rwlock_t cache_lock = PTHREAD_RWLOCK_INITIALIZER;
/* Serializes changes (control thread, web admin) so the cache can be unlocked while the row is written. */
static pthread_mutex_t change_lock = PTHREAD_MUTEX_INITIALIZER;
static struct user *buckets[USER_BUCKETS];
static unsigned user_count;
static struct sipd_db_stmt *st_load, *st_load_one, *st_insert, *st_passwd, *st_enable, *st_delete,
    *st_secret_get, *st_secret_put;

/* Nodes sharing a PostgreSQL database tell each other of changed users on this channel. */
#define CHANNEL "sipd_users"

static unsigned hash(struct sipd_str user, struct sipd_str realm)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < user.len; i++)
		h = (h ^ (unsigned char)user.p[i]) * 16777619u;
	h = (h ^ '@') * 16777619u;
	for (size_t i = 0; i < realm.len; i++)
		h = (h ^ (unsigned char)realm.p[i]) * 16777619u;
	return h % USER_BUCKETS;
}

static struct user **find(struct sipd_str user, struct sipd_str realm)
{
	struct user **pp = &buckets[hash(user, realm)];

	for (; *pp; pp = &(*pp)->next)
		if (sipd_str_eq(sipd_str_c((*pp)->name), user) &&
		    sipd_str_eq(sipd_str_c((*pp)->realm), realm))
			return pp;
	return pp;
}

static void user_free(struct user *u)
{
	if (!u)
		return;
	free(u->name);
	free(u->realm);
	/* HA1s are password equivalents: do not leave them in freed memory. */
	memset(u->ha1, 0, sizeof(u->ha1));
	free(u);
}

static struct user *user_new(struct sipd_str name, struct sipd_str realm)
{
	struct user *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->name = strndup(name.p, name.len);
	u->realm = strndup(realm.p, realm.len);
	if (!u->name || !u->realm) {
		user_free(u);
		return NULL;
	}
	return u;
}

bool auth_name_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	/* RFC 3261 user unreserved characters plus '.', so names need no escaping anywhere. */
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("-_.!~*'()&=+$,;?/", *s)))
			return false;
	return true;
}

/* The user in the current row of st (columns as st_load), or NULL: skipped (malformed) or *err set. */
static struct user *row_user(struct sipd_db_stmt *st, int *err)
{
	struct sipd_str name = sipd_db_column_str(st, 0), realm = sipd_db_column_str(st, 1);
	struct sipd_str md5 = sipd_db_column_str(st, 2), sha = sipd_db_column_str(st, 3);
	struct user *u;

	if (md5.len != 32 || sha.len != 64) {
		SIPD_WARN("user %.*s@%.*s has a malformed HA1 in the database: skipped", SIPD_STR_FMT(name),
			  SIPD_STR_FMT(realm));
		return NULL;
	}
	if (!(u = user_new(name, realm))) {
		*err = ENOMEM;
		return NULL;
	}
	memcpy(u->ha1[AUTH_MD5], md5.p, 32);
	memcpy(u->ha1[AUTH_SHA256], sha.p, 64);
	u->enabled = sipd_db_column_int(st, 4) != 0;
	u->created = sipd_db_column_int(st, 5);
	u->updated = sipd_db_column_int(st, 6);
	return u;
}

/* A table of users being loaded: USER_BUCKETS chains and how many they hold. */
struct user_table {
	struct user **b;
	unsigned count;
};

static int load_rows(void *arg)
{
	struct user_table *t = arg;
	bool row;
	int err;

	while ((err = sipd_db_step(st_load, &row)) == 0 && row) {
		struct user *u = row_user(st_load, &err);
		unsigned h;

		if (!u) {
			if (err)
				break;
			continue;
		}
		h = hash(sipd_str_c(u->name), sipd_str_c(u->realm));
		u->next = t->b[h];
		t->b[h] = u;
		t->count++;
	}
	sipd_db_reset(st_load);
	return err;
}

struct reload {
	const char *user, *realm;
	struct user *found; /* the row as it is now; NULL: deleted */
};

/* Another node changed user@realm: reads its row (DB lock held; the cache is swapped after). */
static int read_one(void *arg)
{
	struct reload *r = arg;
	bool row;
	int err;

	if ((err = sipd_db_bind_str(st_load_one, 1, sipd_str_c(r->user))) ||
	    (err = sipd_db_bind_str(st_load_one, 2, sipd_str_c(r->realm)))) {
		sipd_db_reset(st_load_one);
		return err;
	}
	if ((err = sipd_db_step(st_load_one, &row)) == 0 && row)
		r->found = row_user(st_load_one, &err);
	sipd_db_reset(st_load_one);
	return err;
}

/* The cache takes r->found in place of the cached user (or drops it). Not under the DB lock: apply() takes
 * change_lock before the DB lock. */
static void swap_in(struct reload *r)
{
	struct user **pp, *old;

	pthread_mutex_lock(&change_lock);
	pthread_rwlock_wrlock(&cache_lock);
	pp = find(sipd_str_c(r->user), sipd_str_c(r->realm));
	old = *pp;
	if (r->found) {
		r->found->next = old ? old->next : NULL;
		*pp = r->found;
		user_count += old ? 0 : 1;
	} else if (old) {
		*pp = old->next;
		user_count--;
	}
	pthread_rwlock_unlock(&cache_lock);
	pthread_mutex_unlock(&change_lock);
	user_free(old);
}

static bool shared_database(void)
{
	return sipd_db_engine() && strcmp(sipd_db_engine(), "postgresql") == 0;
}

/* DB thread: "node\nuser\nrealm" from a node that changed a user. */
static void on_user_changed(void *arg, const char *channel, const char *payload)
{
	char copy[600], *user, *realm;
	struct reload r = {0};
	int err;

	(void)arg;
	(void)channel;
	if (snprintf(copy, sizeof(copy), "%s", payload) >= (int)sizeof(copy) || !(user = strchr(copy, '\n')))
		return;
	*user++ = '\0';
	if (strcmp(copy, sipd_node_id()) == 0 || !(realm = strchr(user, '\n')))
		return;
	*realm++ = '\0';
	r.user = user;
	r.realm = realm;
	if ((err = sipd_db_transaction(read_one, &r)) != 0) {
		user_free(r.found);
		SIPD_WARN("user %s@%s changed on node %s, not read again: %s", user, realm, copy,
			  strerror(err));
		return;
	}
	swap_in(&r);
	SIPD_INFO("user %s@%s changed on node %s: read again", user, realm, copy);
}

/*
 * DB thread: the connection came back. Changes other nodes told while it was down were missed, so the
 * whole cache is read again and swapped in (changes from here wait on change_lock meanwhile).
 */
static void on_reconnected(void *arg, const char *channel, const char *payload)
{
	struct user_table t = {calloc(USER_BUCKETS, sizeof(struct user *)), 0};
	int err = t.b ? 0 : ENOMEM;

	(void)arg;
	(void)channel;
	(void)payload;
	pthread_mutex_lock(&change_lock);
	if (!err && !(err = sipd_db_transaction(load_rows, &t))) {
		pthread_rwlock_wrlock(&cache_lock);
		for (unsigned i = 0; i < USER_BUCKETS; i++) {
			struct user *old = buckets[i];

			buckets[i] = t.b[i];
			t.b[i] = old;
		}
		user_count = t.count;
		pthread_rwlock_unlock(&cache_lock);
	}
	pthread_mutex_unlock(&change_lock);
	/* The old cache (or a partial load) goes. */
	for (unsigned i = 0; t.b && i < USER_BUCKETS; i++)
		while (t.b[i]) {
			struct user *u = t.b[i];

			t.b[i] = u->next;
			user_free(u);
		}
	free(t.b);
	if (err)
		SIPD_WARN("users not read again after the database came back: %s", strerror(err));
	else
		SIPD_NOTICE("database back: %u users read again", t.count);
}

int auth_users_init(void)
{
	struct user_table t = {buckets, 0};
	int err;

	if ((err = sipd_db_migrate("auth_db", migrations, sizeof(migrations) / sizeof(migrations[0]))))
		return err;
	if ((err = sipd_db_prepare(&st_load, "SELECT username, realm, ha1_md5, ha1_sha256, enabled, created, "
					     "updated FROM users")) ||
	    (err = sipd_db_prepare(&st_load_one,
				   "SELECT username, realm, ha1_md5, ha1_sha256, enabled, "
				   "created, updated FROM users WHERE username = ? AND realm = ?")) ||
	    (err = sipd_db_prepare(&st_insert, "INSERT INTO users(username, realm, ha1_md5, ha1_sha256, "
					       "enabled, created, updated) VALUES(?, ?, ?, ?, 1, ?, ?)")) ||
	    (err = sipd_db_prepare(&st_passwd, "UPDATE users SET ha1_md5 = ?, ha1_sha256 = ?, updated = ? "
					       "WHERE username = ? AND realm = ?")) ||
	    (err = sipd_db_prepare(
		 &st_enable, "UPDATE users SET enabled = ?, updated = ? WHERE username = ? AND realm = ?")) ||
	    (err = sipd_db_prepare(&st_delete, "DELETE FROM users WHERE username = ? AND realm = ?")) ||
	    (err = sipd_db_prepare(&st_secret_get, "SELECT secret FROM auth_secret WHERE id = 1")) ||
	    (err = sipd_db_prepare(&st_secret_put, "INSERT INTO auth_secret(id, secret) VALUES(1, ?)")))
		return err;
	if ((err = sipd_db_transaction(load_rows, &t)))
		return err;
	user_count = t.count;
	if (shared_database() && ((err = sipd_db_listen(CHANNEL, on_user_changed, NULL)) ||
				  (err = sipd_db_listen(SIPD_DB_RECONNECTED, on_reconnected, NULL))))
		return err;
	SIPD_INFO("%u users loaded", user_count);
	return 0;
}

void auth_users_fini(void)
{
	pthread_rwlock_wrlock(&cache_lock);
	for (unsigned i = 0; i < USER_BUCKETS; i++)
		while (buckets[i]) {
			struct user *u = buckets[i];

			buckets[i] = u->next;
			user_free(u);
		}
	user_count = 0;
	pthread_rwlock_unlock(&cache_lock);
}

struct secret_ctx {
	unsigned char *secret;
	size_t len;
};

static int hexbyte(const char *p)
{
	int v = 0;

	for (int i = 0; i < 2; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else
			return -1;
	}
	return v;
}

static int secret_rows(void *arg)
{
	struct secret_ctx *c = arg;
	char hex[2 * 64 + 1];
	bool row;
	int err;

	if ((err = sipd_db_step(st_secret_get, &row)))
		goto out;
	if (row) {
		struct sipd_str s = sipd_db_column_str(st_secret_get, 0);

		if (s.len != 2 * c->len) {
			SIPD_ERR("the stored nonce secret is malformed (%zu characters)", s.len);
			err = EINVAL;
			goto out;
		}
		for (size_t i = 0; i < c->len; i++) {
			int v = hexbyte(s.p + 2 * i);

			if (v < 0) {
				err = EINVAL;
				goto out;
			}
			c->secret[i] = (unsigned char)v;
		}
		goto out;
	}
	if (RAND_bytes(c->secret, (int)c->len) != 1) {
		err = EIO;
		goto out;
	}
	for (size_t i = 0; i < c->len; i++)
		snprintf(hex + 2 * i, 3, "%02x", c->secret[i]);
	sipd_db_reset(st_secret_get);
	if ((err = sipd_db_bind_str(st_secret_put, 1, (struct sipd_str){hex, 2 * c->len})) == 0)
		err = sipd_db_step(st_secret_put, NULL);
	sipd_db_reset(st_secret_put);
	if (!err)
		SIPD_INFO("a new nonce secret was generated and stored");
out:
	sipd_db_reset(st_secret_get);
	return err;
}

int auth_secret_load(unsigned char *secret, size_t len)
{
	struct secret_ctx c = {secret, len};

	if (len > 64)
		return EINVAL;
	return sipd_db_transaction(secret_rows, &c);
}

int auth_users_ha1(char *out, struct sipd_str user, struct sipd_str realm, enum auth_algo a)
{
	struct user *u;
	int err = 0;

	pthread_rwlock_rdlock(&cache_lock);
	u = *find(user, realm);
	if (!u)
		err = ENOENT;
	else if (!u->enabled)
		err = EACCES;
	else
		memcpy(out, u->ha1[a], AUTH_HEX_MAX);
	pthread_rwlock_unlock(&cache_lock);
	return err;
}

bool auth_users_exists(struct sipd_str user, struct sipd_str realm)
{
	struct user *u;
	bool yes;

	pthread_rwlock_rdlock(&cache_lock);
	u = *find(user, realm);
	yes = u && u->enabled;
	pthread_rwlock_unlock(&cache_lock);
	return yes;
}

/* One management change: the row is written first, the cache follows only when it committed. */
struct change {
	enum { CH_ADD, CH_PASSWD, CH_ENABLE, CH_DELETE } kind;
	const char *user, *realm;
	char ha1[AUTH_ALGO_COUNT][AUTH_HEX_MAX];
	bool enabled;
	int64_t now;
};

static int change_rows(void *arg)
{
	struct change *c = arg;
	struct sipd_str user = sipd_str_c(c->user), realm = sipd_str_c(c->realm);
	struct sipd_str md5 = sipd_str_c(c->ha1[AUTH_MD5]), sha = sipd_str_c(c->ha1[AUTH_SHA256]);
	struct sipd_db_stmt *s;
	int err;

	switch (c->kind) {
	case CH_ADD:
		s = st_insert;
		err = sipd_db_bind_str(s, 1, user) || sipd_db_bind_str(s, 2, realm) ||
		      sipd_db_bind_str(s, 3, md5) || sipd_db_bind_str(s, 4, sha) ||
		      sipd_db_bind_int(s, 5, c->now) || sipd_db_bind_int(s, 6, c->now);
		break;
	case CH_PASSWD:
		s = st_passwd;
		err = sipd_db_bind_str(s, 1, md5) || sipd_db_bind_str(s, 2, sha) ||
		      sipd_db_bind_int(s, 3, c->now) || sipd_db_bind_str(s, 4, user) ||
		      sipd_db_bind_str(s, 5, realm);
		break;
	case CH_ENABLE:
		s = st_enable;
		err = sipd_db_bind_int(s, 1, c->enabled) || sipd_db_bind_int(s, 2, c->now) ||
		      sipd_db_bind_str(s, 3, user) || sipd_db_bind_str(s, 4, realm);
		break;
	default:
		s = st_delete;
		err = sipd_db_bind_str(s, 1, user) || sipd_db_bind_str(s, 2, realm);
		break;
	}
	if (err)
		err = ENOMEM;
	else
		err = sipd_db_step(s, NULL);
	sipd_db_reset(s);
	if (!err && shared_database()) {
		char payload[600];

		snprintf(payload, sizeof(payload), "%s\n%s\n%s", sipd_node_id(), c->user, c->realm);
		err = sipd_db_notify(CHANNEL, payload);
	}
	return err;
}

static int apply(struct change *c)
{
	struct sipd_str user = sipd_str_c(c->user), realm = sipd_str_c(c->realm);
	struct user **pp, *u = NULL;
	bool exists;
	int err;

	c->now = sipd_db_now();
	pthread_mutex_lock(&change_lock);
	pthread_rwlock_rdlock(&cache_lock);
	exists = *find(user, realm) != NULL;
	pthread_rwlock_unlock(&cache_lock);
	if (c->kind == CH_ADD ? exists : !exists) {
		err = c->kind == CH_ADD ? EEXIST : ENOENT;
		goto out;
	}
	if (c->kind == CH_ADD && !(u = user_new(user, realm))) {
		err = ENOMEM;
		goto out;
	}
	/* Workers keep authenticating from the cache while the row is written. */
	if ((err = sipd_db_transaction(change_rows, c))) {
		user_free(u);
		goto out;
	}
	pthread_rwlock_wrlock(&cache_lock);
	pp = find(user, realm);
	switch (c->kind) {
	case CH_ADD:
		u->enabled = true;
		u->created = c->now;
		u->next = NULL;
		*pp = u;
		user_count++;
		/* The new user takes the digests like a password change. */
		__attribute__((fallthrough));
	case CH_PASSWD:
		memcpy((*pp)->ha1, c->ha1, sizeof(c->ha1));
		(*pp)->updated = c->now;
		break;
	case CH_ENABLE:
		(*pp)->enabled = c->enabled;
		(*pp)->updated = c->now;
		break;
	case CH_DELETE:
		u = *pp;
		*pp = u->next;
		user_free(u);
		user_count--;
		break;
	}
	pthread_rwlock_unlock(&cache_lock);
out:
	pthread_mutex_unlock(&change_lock);
	OPENSSL_cleanse(c->ha1, sizeof(c->ha1));
	return err;
}

static int digests(struct change *c, const char *password)
{
	int err;

	if (!password || !*password || strpbrk(password, "\r\n") || strlen(password) > 256)
		return EINVAL;
	if ((err = auth_ha1(c->ha1[AUTH_MD5], AUTH_MD5, c->user, c->realm, password)) ||
	    (err = auth_ha1(c->ha1[AUTH_SHA256], AUTH_SHA256, c->user, c->realm, password)))
		return err;
	return 0;
}

int auth_users_add(const char *user, const char *realm, const char *password)
{
	struct change c = {.kind = CH_ADD, .user = user, .realm = realm};
	int err = digests(&c, password);

	return err ? err : apply(&c);
}

int auth_users_passwd(const char *user, const char *realm, const char *password)
{
	struct change c = {.kind = CH_PASSWD, .user = user, .realm = realm};
	int err = digests(&c, password);

	return err ? err : apply(&c);
}

int auth_users_enable(const char *user, const char *realm, bool enabled)
{
	struct change c = {.kind = CH_ENABLE, .user = user, .realm = realm, .enabled = enabled};

	return apply(&c);
}

int auth_users_delete(const char *user, const char *realm)
{
	struct change c = {.kind = CH_DELETE, .user = user, .realm = realm};

	return apply(&c);
}

static json_t *user_json(const struct user *u)
{
	return json_pack("{s:s, s:s, s:b, s:I, s:I}", "username", u->name, "realm", u->realm, "enabled",
			 u->enabled, "created", (json_int_t)u->created, "updated", (json_int_t)u->updated);
}

json_t *auth_users_list(const char *realm)
{
	json_t *arr = json_array();

	if (!arr)
		return NULL;
	pthread_rwlock_rdlock(&cache_lock);
	for (unsigned i = 0; i < USER_BUCKETS; i++)
		for (struct user *u = buckets[i]; u; u = u->next)
			if (!realm || strcmp(realm, u->realm) == 0)
				json_array_append_new(arr, user_json(u));
	pthread_rwlock_unlock(&cache_lock);
	return arr;
}

static int cmp_user(const void *a, const void *b)
{
	const struct user *x = *(const struct user *const *)a, *y = *(const struct user *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->realm, y->realm);
}

json_t *auth_users_find(const char *realm, const char *q, size_t offset, size_t limit)
{
	struct user **match = NULL;
	size_t n = 0, cap = 0;
	json_t *items = json_array(), *out = NULL;

	if (!items)
		return NULL;
	pthread_rwlock_rdlock(&cache_lock);
	for (unsigned i = 0; i < USER_BUCKETS; i++)
		for (struct user *u = buckets[i]; u; u = u->next) {
			if ((realm && strcmp(realm, u->realm) != 0) || (q && *q && !strcasestr(u->name, q)))
				continue;
			if (n == cap) {
				size_t grown_cap = cap ? cap * 2 : 256;
				struct user **grown = realloc(match, grown_cap * sizeof(*grown));
				if (!grown)
					goto out;
				match = grown;
				cap = grown_cap;
			}
			match[n++] = u;
		}
	/* Only the page becomes JSON: a list of many users costs a sort of pointers, not n objects. */
	if (n) /* qsort takes no NULL array, even empty */
		qsort(match, n, sizeof(*match), cmp_user);
	for (size_t i = offset; i < n && i - offset < limit; i++)
		json_array_append_new(items, user_json(match[i]));
	out = json_pack("{s:O, s:I, s:I, s:I}", "items", items, "total", (json_int_t)n, "offset",
			(json_int_t)offset, "limit", (json_int_t)limit);
out:
	pthread_rwlock_unlock(&cache_lock);
	free(match);
	json_decref(items);
	return out;
}

json_t *auth_users_get(const char *user, const char *realm)
{
	struct user *u;
	json_t *j = NULL;

	pthread_rwlock_rdlock(&cache_lock);
	u = *find(sipd_str_c(user), sipd_str_c(realm));
	if (u)
		j = user_json(u);
	pthread_rwlock_unlock(&cache_lock);
	return j;
}
