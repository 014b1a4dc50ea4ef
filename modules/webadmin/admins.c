/* Admin accounts: the webadmin_admins table, the admin.* RPC methods (sipctl admin ...) and the login check.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <sipd/db.h>
#include <sipd/log.h>
#include <sipd/rpc.h>

#include "webadmin.h"

#define GENERATED_PASSWORD_LEN 20

static const struct sipd_db_migration migrations[] = {
    {1, "CREATE TABLE webadmin_admins("
	" name TEXT PRIMARY KEY NOT NULL,"
	" hash TEXT NOT NULL,"
	" created INTEGER NOT NULL, updated INTEGER NOT NULL,"
	" last_login INTEGER)"},
};

static struct sipd_db_stmt *st_get, *st_insert, *st_passwd, *st_delete, *st_list, *st_count, *st_login;
/*
 * A hash checked for unknown names, so a wrong name costs as long as a wrong
 * password. Made at the first login rather than at start-up (one PBKDF2 less
 * before sipd is ready).
 */
static char dummy_hash[WA_HASH_MAX];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
	if (wa_password_hash(dummy_hash, sizeof(dummy_hash), "no such admin", wa_pbkdf2_iterations))
		SIPD_WARN("no dummy hash: a login with an unknown name answers faster than one with a wrong "
			  "password");
}

int wa_admins_init(void)
{
	int err;

	if ((err = sipd_db_migrate("webadmin", migrations, sizeof(migrations) / sizeof(migrations[0]))))
		return err;
	if ((err = sipd_db_prepare(&st_get, "SELECT hash FROM webadmin_admins WHERE name = ?")) ||
	    (err = sipd_db_prepare(&st_insert, "INSERT INTO webadmin_admins(name, hash, created, updated) "
					       "VALUES(?, ?, ?, ?)")) ||
	    (err = sipd_db_prepare(&st_passwd,
				   "UPDATE webadmin_admins SET hash = ?, updated = ? WHERE name = ?")) ||
	    (err = sipd_db_prepare(&st_delete, "DELETE FROM webadmin_admins WHERE name = ?")) ||
	    (err = sipd_db_prepare(&st_list, "SELECT name, created, updated, last_login FROM webadmin_admins "
					     "ORDER BY name")) ||
	    (err = sipd_db_prepare(&st_count, "SELECT COUNT(*) FROM webadmin_admins")) ||
	    (err = sipd_db_prepare(&st_login, "UPDATE webadmin_admins SET last_login = ? WHERE name = ?")))
		return err;
	return 0;
}

static bool name_valid(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-' || ch == '@'))
			return false;
	}
	return true;
}

/* A transaction's work: one statement on the admin name (and hash). */
struct op {
	const char *name;
	const char *hash;
	char found_hash[WA_HASH_MAX];
	int64_t now, count;
	bool found;
	json_t *list;
};

static int op_get(void *arg)
{
	struct op *o = arg;
	bool row = false;
	int err = sipd_db_bind_str(st_get, 1, sipd_str_c(o->name));

	if (!err)
		err = sipd_db_step(st_get, &row);
	if (!err && row) {
		struct sipd_str h = sipd_db_column_str(st_get, 0);
		o->found = h.len < sizeof(o->found_hash);
		snprintf(o->found_hash, sizeof(o->found_hash), "%.*s", (int)h.len, h.p);
	}
	sipd_db_reset(st_get);
	return err;
}

static int op_insert(void *arg)
{
	struct op *o = arg;
	int err = op_get(o);

	if (!err && o->found)
		return EEXIST;
	if (!err)
		err = sipd_db_bind_str(st_insert, 1, sipd_str_c(o->name)) ?:
		      sipd_db_bind_str(st_insert, 2, sipd_str_c(o->hash)) ?: sipd_db_bind_int(st_insert, 3, o->now) ?:
		      sipd_db_bind_int(st_insert, 4, o->now) ?: sipd_db_step(st_insert, NULL);
	sipd_db_reset(st_insert);
	return err;
}

static int op_passwd(void *arg)
{
	struct op *o = arg;
	int err = op_get(o);

	if (!err && !o->found)
		return ENOENT;
	if (!err)
		err = sipd_db_bind_str(st_passwd, 1, sipd_str_c(o->hash)) ?: sipd_db_bind_int(st_passwd, 2, o->now) ?:
		      sipd_db_bind_str(st_passwd, 3, sipd_str_c(o->name)) ?: sipd_db_step(st_passwd, NULL);
	sipd_db_reset(st_passwd);
	return err;
}

static int op_delete(void *arg)
{
	struct op *o = arg;
	int err = op_get(o);

	if (!err && !o->found)
		return ENOENT;
	if (!err)
		err = sipd_db_bind_str(st_delete, 1, sipd_str_c(o->name)) ?: sipd_db_step(st_delete, NULL);
	sipd_db_reset(st_delete);
	return err;
}

static int op_list(void *arg)
{
	struct op *o = arg;
	bool row;
	int err;

	while (!(err = sipd_db_step(st_list, &row)) && row) {
		struct sipd_str n = sipd_db_column_str(st_list, 0);
		json_t *a =
		    json_pack("{s:s%, s:I, s:I, s:o}", "name", n.p, n.len, "created",
			      (json_int_t)sipd_db_column_int(st_list, 1), "updated",
			      (json_int_t)sipd_db_column_int(st_list, 2), "last_login",
			      sipd_db_column_null(st_list, 3) ? json_null()
							      : json_integer(sipd_db_column_int(st_list, 3)));
		if (!a || json_array_append_new(o->list, a)) {
			err = ENOMEM;
			break;
		}
	}
	sipd_db_reset(st_list);
	return err;
}

static int op_count(void *arg)
{
	struct op *o = arg;
	bool row = false;
	int err = sipd_db_step(st_count, &row);

	if (!err && row)
		o->count = sipd_db_column_int(st_count, 0);
	sipd_db_reset(st_count);
	return err;
}

static int op_login(void *arg)
{
	struct op *o = arg;
	int err = sipd_db_bind_int(st_login, 1, o->now) ?: sipd_db_bind_str(st_login, 2, sipd_str_c(o->name)) ?:
		  sipd_db_step(st_login, NULL);

	sipd_db_reset(st_login);
	return err;
}

json_t *wa_admins_list(void)
{
	struct op o = {.list = json_array()};

	if (!o.list || sipd_db_transaction(op_list, &o)) {
		json_decref(o.list);
		return NULL;
	}
	return o.list;
}

int wa_admin_check(const char *name, const char *password)
{
	struct op o = {.name = name};
	int err = name_valid(name) ? sipd_db_transaction(op_get, &o) : 0;
	bool ok;

	if (err)
		return EIO;
	pthread_once(&dummy_once, make_dummy);
	/* The slow part runs without the database lock, on the caller's (civetweb) thread. */
	ok = wa_password_verify(o.found ? o.found_hash : dummy_hash, password) && o.found;
	OPENSSL_cleanse(o.found_hash, sizeof(o.found_hash));
	if (!ok)
		return EACCES;
	o.now = sipd_db_now();
	if (sipd_db_transaction(op_login, &o))
		SIPD_WARN("last login time of admin %s not stored", name);
	return 0;
}

/* Positional [NAME, PASSWORD] or {"name", "password"}. */
static const char *arg(json_t *params, size_t idx, const char *key)
{
	json_t *v = json_is_array(params) ? json_array_get(params, idx) : json_object_get(params, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Hashes the given password, or a generated one (copied to generated). */
static int hash_for(char *hash, const char *password, char *generated, json_t **result)
{
	int err;

	if (!password) {
		if ((err = wa_password_random(generated, GENERATED_PASSWORD_LEN)))
			return sipd_rpc_fail(result, err, "no random bytes for a password");
		password = generated;
	} else if (!*password || strlen(password) > 1024) {
		return sipd_rpc_fail(result, EINVAL, "the password must be 1-1024 characters");
	}
	if ((err = wa_password_hash(hash, WA_HASH_MAX, password, wa_pbkdf2_iterations)))
		return sipd_rpc_fail(result, err, "cannot hash the password: %s", strerror(err));
	return 0;
}

static int check_name(const char *name, json_t **result)
{
	if (!name_valid(name))
		return sipd_rpc_fail(result, EINVAL, "an admin name is 1-64 letters, digits or ._-@");
	return 0;
}

static json_t *answer(const char *name, const char *generated)
{
	return json_pack("{s:s, s:s*}", "name", name, "password", generated[0] ? generated : NULL);
}

static int rpc_add(json_t *params, json_t **result)
{
	char hash[WA_HASH_MAX], generated[GENERATED_PASSWORD_LEN + 1] = "";
	struct op o = {.name = arg(params, 0, "name"), .hash = hash, .now = sipd_db_now()};
	int err = check_name(o.name, result) ?: hash_for(hash, arg(params, 1, "password"), generated, result);

	if (err)
		return err;
	if ((err = sipd_db_transaction(op_insert, &o)) == EEXIST)
		return sipd_rpc_fail(result, EEXIST, "admin %s already exists", o.name);
	if (err)
		return sipd_rpc_fail(result, EIO, "admin %s not stored: %s", o.name, strerror(err));
	SIPD_NOTICE("admin %s added", o.name);
	*result = answer(o.name, generated);
	return 0;
}

static int rpc_passwd(json_t *params, json_t **result)
{
	char hash[WA_HASH_MAX], generated[GENERATED_PASSWORD_LEN + 1] = "";
	struct op o = {.name = arg(params, 0, "name"), .hash = hash, .now = sipd_db_now()};
	int err = check_name(o.name, result) ?: hash_for(hash, arg(params, 1, "password"), generated, result);

	if (err)
		return err;
	if ((err = sipd_db_transaction(op_passwd, &o)) == ENOENT)
		return sipd_rpc_fail(result, ENOENT, "no admin %s", o.name);
	if (err)
		return sipd_rpc_fail(result, EIO, "password of admin %s not stored: %s", o.name,
				     strerror(err));
	/* Whoever logged in with the old password is out. */
	wa_session_end_admin(o.name);
	SIPD_NOTICE("admin %s: password changed", o.name);
	*result = answer(o.name, generated);
	return 0;
}

static int rpc_delete(json_t *params, json_t **result)
{
	struct op o = {.name = arg(params, 0, "name")};
	int err = check_name(o.name, result);

	if (err)
		return err;
	if ((err = sipd_db_transaction(op_delete, &o)) == ENOENT)
		return sipd_rpc_fail(result, ENOENT, "no admin %s", o.name);
	if (err)
		return sipd_rpc_fail(result, EIO, "admin %s not deleted: %s", o.name, strerror(err));
	wa_session_end_admin(o.name);
	SIPD_NOTICE("admin %s deleted", o.name);
	*result = json_pack("{s:s, s:b}", "name", o.name, "deleted", 1);
	return 0;
}

static int rpc_list(json_t *params, json_t **result)
{
	(void)params;
	if (!(*result = wa_admins_list()))
		return sipd_rpc_fail(result, EIO, "cannot read the admins table");
	return 0;
}

void wa_admins_bootstrap(void)
{
	char hash[WA_HASH_MAX], password[GENERATED_PASSWORD_LEN + 1];
	struct op o = {.name = "admin", .hash = hash};

	if (sipd_db_transaction(op_count, &o) || o.count > 0)
		return;
	if (wa_password_random(password, GENERATED_PASSWORD_LEN) ||
	    wa_password_hash(hash, sizeof(hash), password, wa_pbkdf2_iterations))
		return;
	o.now = sipd_db_now();
	if (sipd_db_transaction(op_insert, &o))
		return;
	/* The only time this password is shown: it is stored hashed. */
	SIPD_NOTICE("first start: created the web admin account 'admin' with password %s "
		    "(change it with: sipctl admin passwd admin)",
		    password);
	OPENSSL_cleanse(password, sizeof(password));
}

const struct sipd_rpc_method wa_rpc_methods[] = {
    {.name = "admin.add",
     .fn = rpc_add,
     .usage = "NAME [PASSWORD]",
     .help = "Adds a web admin account (a password is generated and shown when none is given)"},
    {.name = "admin.list", .fn = rpc_list, .usage = "", .help = "Lists the web admin accounts"},
    {.name = "admin.passwd",
     .fn = rpc_passwd,
     .usage = "NAME [PASSWORD]",
     .help = "Sets a new password (generated when none is given); ends the admin's sessions"},
    {.name = "admin.delete", .fn = rpc_delete, .usage = "NAME", .help = "Deletes a web admin account"},
    {.name = NULL},
};
