/* users.* control methods (sipctl users ..., the web admin): manage users without touching passwords at rest.
 */
#include <errno.h>
#include <string.h>

#include <sipd/rpc.h>

#include "auth_db.h"

/* Positional [a, b, c] or named {"username":..} arguments; NULL when absent or not a string. */
static const char *arg(json_t *params, size_t idx, const char *name)
{
	json_t *v = json_is_array(params) ? json_array_get(params, idx) : json_object_get(params, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int names(json_t *params, size_t realm_idx, const char **user, const char **realm, json_t **result)
{
	*user = arg(params, 0, "username");
	*realm = arg(params, realm_idx, "realm");
	if (!*realm)
		*realm = auth_realm;
	if (!*user)
		return sipd_rpc_fail(result, EINVAL, "a username is required");
	if (!auth_name_valid(*user, 64))
		return sipd_rpc_fail(result, EINVAL,
				     "invalid username: 1-64 letters, digits or -_.!~*'()&=+$,;?/");
	if (!auth_name_valid(*realm, 128))
		return sipd_rpc_fail(result, EINVAL, "invalid realm");
	return 0;
}

static int fail(json_t **result, int err, const char *user, const char *realm)
{
	switch (err) {
	case EEXIST:
		return sipd_rpc_fail(result, err, "user %s already exists in realm %s", user, realm);
	case ENOENT:
		return sipd_rpc_fail(result, err, "no user %s in realm %s", user, realm);
	case EINVAL:
		return sipd_rpc_fail(result, err,
				     "the password must be 1-256 characters without line breaks");
	default:
		return sipd_rpc_fail(result, err, "database error: %s", strerror(err));
	}
}

static int done(json_t **result, const char *user, const char *realm)
{
	json_t *u = auth_users_get(user, realm);

	*result = u ? u : json_true();
	return 0;
}

static int rpc_add(json_t *params, json_t **result)
{
	const char *user, *realm, *password = arg(params, 1, "password");
	int err = names(params, 2, &user, &realm, result);

	if (err)
		return err;
	if ((err = auth_users_add(user, realm, password)))
		return fail(result, err, user, realm);
	return done(result, user, realm);
}

static int rpc_passwd(json_t *params, json_t **result)
{
	const char *user, *realm, *password = arg(params, 1, "password");
	int err = names(params, 2, &user, &realm, result);

	if (err)
		return err;
	if ((err = auth_users_passwd(user, realm, password)))
		return fail(result, err, user, realm);
	return done(result, user, realm);
}

static int set_enabled(json_t *params, json_t **result, bool enabled)
{
	const char *user, *realm;
	int err = names(params, 1, &user, &realm, result);

	if (err)
		return err;
	if ((err = auth_users_enable(user, realm, enabled)))
		return fail(result, err, user, realm);
	return done(result, user, realm);
}

static int rpc_enable(json_t *params, json_t **result)
{
	return set_enabled(params, result, true);
}

static int rpc_disable(json_t *params, json_t **result)
{
	return set_enabled(params, result, false);
}

static int rpc_delete(json_t *params, json_t **result)
{
	const char *user, *realm;
	int err = names(params, 1, &user, &realm, result);

	if (err)
		return err;
	if ((err = auth_users_delete(user, realm)))
		return fail(result, err, user, realm);
	*result = json_pack("{s:s, s:s, s:b}", "username", user, "realm", realm, "deleted", 1);
	return 0;
}

static int rpc_get(json_t *params, json_t **result)
{
	const char *user, *realm;
	int err = names(params, 1, &user, &realm, result);

	if (err)
		return err;
	if (!(*result = auth_users_get(user, realm)))
		return fail(result, ENOENT, user, realm);
	return 0;
}

static int rpc_list(json_t *params, json_t **result)
{
	const char *realm = arg(params, 0, "realm");

	if (!(*result = auth_users_list(realm)))
		return ENOMEM;
	return 0;
}

/* An integer argument lo..hi, dflt when absent. */
static int int_arg(json_t *params, const char *name, long lo, long hi, long dflt, long *out, json_t **result)
{
	json_t *v = json_is_object(params) ? json_object_get(params, name) : NULL;

	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return sipd_rpc_fail(result, EINVAL, "%s must be an integer from %ld to %ld", name, lo, hi);
	*out = (long)json_integer_value(v);
	return 0;
}

/* users.find [Q] or {"q", "realm", "offset", "limit"}: a sorted page, for lists with many users. */
static int rpc_find(json_t *params, json_t **result)
{
	const char *q = arg(params, 0, "q"), *realm = json_is_object(params) ? arg(params, 1, "realm") : NULL;
	long offset, limit;
	int err = int_arg(params, "offset", 0, 1L << 30, 0, &offset, result)
		      ?: int_arg(params, "limit", 1, 1000, 50, &limit, result);

	if (err)
		return err;
	if (!(*result = auth_users_find(realm, q, (size_t)offset, (size_t)limit)))
		return ENOMEM;
	return 0;
}

const struct sipd_rpc_method auth_rpc_methods[] = {
    {.name = "users.add",
     .fn = rpc_add,
     .usage = "USERNAME PASSWORD [REALM]",
     .help = "create a user (only the HA1 digests of the password are stored)"},
    {.name = "users.list", .fn = rpc_list, .usage = "[REALM]", .help = "list users"},
    {.name = "users.find",
     .fn = rpc_find,
     .usage = "[TEXT] | q=TEXT offset=N limit=N realm=R",
     .help = "one page of the users sorted by name, whose name contains TEXT (any case)"},
    {.name = "users.get", .fn = rpc_get, .usage = "USERNAME [REALM]", .help = "show one user"},
    {.name = "users.passwd",
     .fn = rpc_passwd,
     .usage = "USERNAME PASSWORD [REALM]",
     .help = "set a new password"},
    {.name = "users.enable",
     .fn = rpc_enable,
     .usage = "USERNAME [REALM]",
     .help = "allow a user to authenticate"},
    {.name = "users.disable",
     .fn = rpc_disable,
     .usage = "USERNAME [REALM]",
     .help = "refuse a user's requests with 403 (the user is kept)"},
    {.name = "users.delete", .fn = rpc_delete, .usage = "USERNAME [REALM]", .help = "delete a user"},
    {.name = NULL},
};
