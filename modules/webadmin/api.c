/* The JSON API's routes: users, registrations, sessions, stats, modules, routing, admins; each an RPC call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include <sipd/module.h>
#include <sipd/rpc.h>

#include "webadmin.h"

#define DEFAULT_LIMIT 50
#define MAX_LIMIT     1000

int wa_rpc(const char *method, json_t *params, json_t **result)
{
	int err = sipd_rpc_call(method, params, result);

	json_decref(params);
	return err;
}

int wa_rpc_answer(struct mg_connection *c, const char *method, json_t *params, int ok)
{
	json_t *result = NULL;
	int err = wa_rpc(method, params, &result), st;

	st = err ? wa_send_rpc_error(c, err, result) : wa_send_json(c, ok, result, NULL);
	json_decref(result);
	return st;
}

/* A non-negative integer query parameter; 1 found, 0 absent, -1 malformed. */
static int query_uint(const char *query, const char *name, long *out)
{
	char buf[32], *end;
	int found = wa_query_get(query, name, buf, sizeof(buf));

	if (found <= 0)
		return found;
	if (!buf[0] || buf[0] == '-' || buf[0] == '+' || buf[0] == ' ')
		return -1;
	errno = 0;
	*out = strtol(buf, &end, 10);
	return *end || errno ? -1 : 1;
}

int wa_send_page(struct mg_connection *c, const char *query, json_t *items)
{
	long offset = 0, limit = DEFAULT_LIMIT;
	json_t *page, *slice;
	size_t total = json_array_size(items);

	if (query_uint(query, "offset", &offset) < 0)
		return wa_send_error(c, 400, json_pack("{s:s}", "field", "offset"),
				     "offset must be an integer >= 0");
	if (query_uint(query, "limit", &limit) < 0 || limit < 1 || limit > MAX_LIMIT)
		return wa_send_error(c, 400, json_pack("{s:s}", "field", "limit"),
				     "limit must be an integer 1-%d", MAX_LIMIT);
	if (!(slice = json_array()))
		return wa_send_error(c, 500, NULL, "out of memory");
	for (size_t i = (size_t)offset; i < total && i < (size_t)offset + (size_t)limit; i++)
		json_array_append(slice, json_array_get(items, i));
	page = json_pack("{s:o, s:I, s:I, s:I}", "items", slice, "total", (json_int_t)total, "offset",
			 (json_int_t)offset, "limit", (json_int_t)limit);
	int st = wa_send_json(c, 200, page, NULL);
	json_decref(page);
	return st;
}

/* Calls a listing method and pages its array (or the array under key). */
static int list(struct wa_request *r, const char *method, json_t *params, const char *key)
{
	json_t *result = NULL;
	int err = sipd_rpc_call(method, params, &result), st;

	json_decref(params);
	if (err)
		st = wa_send_rpc_error(r->c, err, result);
	else
		st = wa_send_page(r->c, r->query, key ? json_object_get(result, key) : result);
	json_decref(result);
	return st;
}

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static int users_list(struct wa_request *r)
{
	char q[256] = "", realm[256] = "";
	long offset = 0, limit = DEFAULT_LIMIT;

	if (wa_query_get(r->query, "q", q, sizeof(q)) < 0 || strlen(q) > 64)
		return wa_send_error(r->c, 400, json_pack("{s:s}", "field", "q"),
				     "q must be at most 64 characters");
	if (wa_query_get(r->query, "realm", realm, sizeof(realm)) < 0)
		return wa_send_error(r->c, 400, json_pack("{s:s}", "field", "realm"), "malformed realm");
	if (query_uint(r->query, "offset", &offset) < 0)
		return wa_send_error(r->c, 400, json_pack("{s:s}", "field", "offset"),
				     "offset must be an integer >= 0");
	if (query_uint(r->query, "limit", &limit) < 0 || limit < 1 || limit > MAX_LIMIT)
		return wa_send_error(r->c, 400, json_pack("{s:s}", "field", "limit"),
				     "limit must be an integer 1-%d", MAX_LIMIT);
	return wa_rpc_answer(r->c, "users.find",
			     json_pack("{s:s, s:s*, s:I, s:I}", "q", q, "realm", realm[0] ? realm : NULL,
				       "offset", (json_int_t)offset, "limit", (json_int_t)limit),
			     200);
}

/* A field of the body that must be a string when present; sends 400 naming it. */
static int opt_string(struct wa_request *r, json_t *body, const char *field, const char **out, bool required)
{
	json_t *v = json_object_get(body, field);

	*out = NULL;
	if (!v && !required)
		return 0;
	if (!json_is_string(v) || !json_string_length(v))
		return wa_send_error(r->c, 400, json_pack("{s:s}", "field", field),
				     "%s must be a non-empty string", field);
	*out = json_string_value(v);
	return 0;
}

static int opt_bool(struct wa_request *r, json_t *body, const char *field, int *out)
{
	json_t *v = json_object_get(body, field);

	*out = -1;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return wa_send_error(r->c, 400, json_pack("{s:s}", "field", field),
				     "%s must be true or false", field);
	*out = json_is_true(v);
	return 0;
}

/* users.add's and users.passwd's EINVAL is about the field they name: add it for the page. */
static int user_call(struct wa_request *r, const char *method, json_t *params, json_t **result)
{
	int err = sipd_rpc_call(method, params, result);

	json_decref(params);
	if (err == EINVAL && json_is_string(*result)) {
		const char *msg = json_string_value(*result);
		const char *field = strstr(msg, "password")   ? "password"
				    : strstr(msg, "realm")    ? "realm"
				    : strstr(msg, "username") ? "username"
							      : NULL;
		wa_send_error(r->c, 400, field ? json_pack("{s:s}", "field", field) : NULL, "%s", msg);
		json_decref(*result);
		*result = NULL;
		return 400;
	}
	if (err) {
		int st = wa_send_rpc_error(r->c, err, *result);
		json_decref(*result);
		*result = NULL;
		return st;
	}
	return 0;
}

static int users_add(struct wa_request *r)
{
	json_t *body = NULL, *result = NULL;
	const char *user, *password, *realm;
	int enabled, st;

	if ((st = wa_json_body(r->c, &body)))
		return st;
	if ((st = opt_string(r, body, "username", &user, true)) ||
	    (st = opt_string(r, body, "password", &password, true)) ||
	    (st = opt_string(r, body, "realm", &realm, false)) ||
	    (st = opt_bool(r, body, "enabled", &enabled)))
		goto out;
	if ((st = user_call(
		 r, "users.add",
		 json_pack("{s:s, s:s, s:s*}", "username", user, "password", password, "realm", realm),
		 &result)))
		goto out;
	if (enabled == 0) {
		json_decref(result);
		if ((st = user_call(r, "users.disable",
				    json_pack("{s:s, s:s*}", "username", user, "realm", realm), &result)))
			goto out;
	}
	char extra[512], enc[400];
	mg_url_encode(user, enc, sizeof(enc));
	snprintf(extra, sizeof(extra), "Location: /api/users/%s\r\n", enc);
	st = wa_send_json(r->c, 201, result, extra);
out:
	json_decref(result);
	json_decref(body);
	return st;
}

static int users_put(struct wa_request *r, const char *user, const char *realm)
{
	json_t *body = NULL, *result = NULL;
	const char *password;
	int enabled, st;

	if ((st = wa_json_body(r->c, &body)))
		return st;
	if ((st = opt_string(r, body, "password", &password, false)) ||
	    (st = opt_bool(r, body, "enabled", &enabled)))
		goto out;
	if (!password && enabled < 0) {
		st = wa_send_error(r->c, 400, NULL, "give a new password and/or enabled");
		goto out;
	}
	/* Existence first, so a bad password for a missing user says 404. */
	if ((st = user_call(r, "users.get", json_pack("{s:s, s:s*}", "username", user, "realm", realm),
			    &result)))
		goto out;
	if (password) {
		json_decref(result);
		if ((st = user_call(r, "users.passwd",
				    json_pack("{s:s, s:s, s:s*}", "username", user, "password", password,
					      "realm", realm),
				    &result)))
			goto out;
	}
	if (enabled >= 0) {
		json_decref(result);
		if ((st = user_call(r, enabled ? "users.enable" : "users.disable",
				    json_pack("{s:s, s:s*}", "username", user, "realm", realm), &result)))
			goto out;
	}
	st = wa_send_json(r->c, 200, result, NULL);
out:
	json_decref(result);
	json_decref(body);
	return st;
}

static int users(struct wa_request *r)
{
	char realm_buf[256] = "";
	const char *realm = NULL;

	if (r->nseg == 2) {
		if (is(r->method, "GET"))
			return users_list(r);
		if (is(r->method, "POST"))
			return users_add(r);
		return wa_method_not_allowed(r->c, "GET, POST");
	}
	if (r->nseg == 4 && is(r->seg[3], "audio"))
		return wa_api_audio(r);
	if (r->nseg != 3)
		return wa_send_error(r->c, 404, NULL, "no such path");
	if (wa_query_get(r->query, "realm", realm_buf, sizeof(realm_buf)) < 0)
		return wa_send_error(r->c, 400, json_pack("{s:s}", "field", "realm"), "malformed realm");
	if (realm_buf[0])
		realm = realm_buf;
	const char *user = r->seg[2];
	if (is(r->method, "GET"))
		return wa_rpc_answer(r->c, "users.get",
				     json_pack("{s:s, s:s*}", "username", user, "realm", realm), 200);
	if (is(r->method, "PUT"))
		return users_put(r, user, realm);
	if (is(r->method, "DELETE"))
		return wa_rpc_answer(r->c, "users.delete",
				     json_pack("{s:s, s:s*}", "username", user, "realm", realm), 200);
	return wa_method_not_allowed(r->c, "GET, PUT, DELETE");
}

static int registrations(struct wa_request *r)
{
	char aor[1024] = "", contact[2048] = "";
	int has_aor = wa_query_get(r->query, "aor", aor, sizeof(aor));
	int has_contact = wa_query_get(r->query, "contact", contact, sizeof(contact));

	if (r->nseg != 2)
		return wa_send_error(r->c, 404, NULL, "no such path");
	if (has_aor < 0 || has_contact < 0)
		return wa_send_error(r->c, 400, NULL, "malformed aor or contact parameter");
	if (is(r->method, "GET"))
		return list(r, "registrations", has_aor ? json_pack("{s:s}", "aor", aor) : NULL, NULL);
	if (is(r->method, "DELETE")) {
		if (!has_aor || !has_contact)
			return wa_send_error(r->c, 400,
					     json_pack("{s:s}", "field", has_aor ? "contact" : "aor"),
					     "DELETE /api/registrations needs ?aor=...&contact=...");
		return wa_rpc_answer(r->c, "registrations.remove",
				     json_pack("{s:s, s:s}", "aor", aor, "contact", contact), 200);
	}
	return wa_method_not_allowed(r->c, "GET, DELETE");
}

static int sessions(struct wa_request *r)
{
	if (r->nseg == 2) {
		if (is(r->method, "GET"))
			return list(r, "sessions", NULL, "sessions");
		return wa_method_not_allowed(r->c, "GET");
	}
	if (r->nseg != 3)
		return wa_send_error(r->c, 404, NULL, "no such path");
	if (is(r->method, "DELETE"))
		return wa_rpc_answer(r->c, "sessions.end", json_pack("{s:s}", "call_id", r->seg[2]), 200);
	return wa_method_not_allowed(r->c, "DELETE");
}

static int stats(struct wa_request *r)
{
	json_t *result = NULL, *latest;
	int err, st;

	if ((err = sipd_rpc_call("stats.get", NULL, &result))) {
		st = wa_send_rpc_error(r->c, err, result);
		json_decref(result);
		return st;
	}
	latest = wa_stats_latest();
	json_object_set_new(result, "calls_per_second",
			    latest ? json_incref(json_object_get(latest, "calls_per_second"))
				   : json_real(0.0));
	json_decref(latest);
	st = wa_send_json(r->c, 200, result, NULL);
	json_decref(result);
	return st;
}

/* {"script": TEXT} for routing.check and routing.put; nothing else is passed on (no file paths from the web).
 */
static int routing_script(struct wa_request *r, const char *method)
{
	json_t *body = NULL;
	const char *script;
	int st;

	if ((st = wa_json_body(r->c, &body)))
		return st;
	json_t *v = json_object_get(body, "script");
	if (!json_is_string(v)) {
		json_decref(body);
		return wa_send_error(r->c, 400, json_pack("{s:s}", "field", "script"),
				     "script must be a string");
	}
	script = json_string_value(v);
	st = wa_rpc_answer(r->c, method, json_pack("{s:s%}", "script", script, json_string_length(v)), 200);
	json_decref(body);
	return st;
}

static int routing(struct wa_request *r)
{
	if (r->nseg == 3 && is(r->seg[2], "check")) {
		if (is(r->method, "POST"))
			return routing_script(r, "routing.check");
		return wa_method_not_allowed(r->c, "POST");
	}
	if (r->nseg != 2)
		return wa_send_error(r->c, 404, NULL, "no such path");
	if (is(r->method, "GET"))
		return wa_rpc_answer(r->c, "routing.get", NULL, 200);
	if (is(r->method, "PUT"))
		return routing_script(r, "routing.put");
	return wa_method_not_allowed(r->c, "GET, PUT");
}

static int session_info(struct wa_request *r)
{
	json_t *body;
	int st;

	body = json_pack("{s:s, s:s, s:I}", "username", r->s.admin, "csrf", r->s.csrf, "expires_in",
			 (json_int_t)r->s.expires_in);
	st = wa_send_json(r->c, 200, body, NULL);
	json_decref(body);
	return st;
}

int wa_api_dispatch(struct wa_request *r)
{
	const char *top = r->nseg >= 2 ? r->seg[1] : "";
	bool get_only = r->nseg == 2;

	/* Segments become RPC params (JSON strings): bytes that are not UTF-8 name nothing. */
	for (int i = 0; i < r->nseg; i++)
		if (!wa_utf8_valid(r->seg[i]))
			return wa_send_error(r->c, 400, NULL, "the path is not valid UTF-8");

	if (is(top, "users"))
		return users(r);
	if (is(top, "registrations"))
		return registrations(r);
	if (is(top, "sessions"))
		return sessions(r);
	if (is(top, "routing"))
		return routing(r);
	if (is(top, "audio") || is(top, "assignments") || is(top, "rtc"))
		return wa_api_audio(r);
	static const char *const get_only_paths[] = {"stats",  "session", "modules",  "admins",
						     "events", "nodes",   "softphone"};
	bool known = false;
	for (size_t i = 0; i < sizeof(get_only_paths) / sizeof(get_only_paths[0]); i++)
		known = known || is(top, get_only_paths[i]);
	if (!get_only || !known)
		return wa_send_error(r->c, 404, NULL, "no such path");
	if (!is(r->method, "GET"))
		return wa_method_not_allowed(r->c, "GET");
	if (is(top, "stats"))
		return stats(r);
	if (is(top, "session"))
		return session_info(r);
	if (is(top, "modules"))
		return list(r, "modules.list", NULL, NULL);
	if (is(top, "admins"))
		return list(r, "admin.list", NULL, NULL);
	if (is(top, "nodes"))
		return list(r, "nodes.list", NULL, NULL);
	if (is(top, "events"))
		return wa_events_serve(r);
	if (is(top, "softphone"))
		return wa_api_softphone(r);
	return wa_send_error(r->c, 404, NULL, "no such path");
}
