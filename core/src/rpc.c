/* Control RPC: the method registry, in-process calls, and the core's own methods. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/rpc.h>

#include "internal.h"

static pthread_rwlock_t registry_lock = PTHREAD_RWLOCK_INITIALIZER;
static const struct sipd_rpc_method **methods;
static size_t method_count, method_cap;
/*
 * Handlers were written for one caller, the control thread; the web admin's
 * threads call too. One handler runs at a time, so no handler needs its own
 * locking against another RPC. Recursive: a handler may call another method.
 */
static pthread_mutex_t call_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

int sipd_rpc_fail(json_t **result, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (result)
		*result = json_string(msg);
	/* A failure reported as 0 would read as success. */
	return err ? err : EINVAL;
}

/* Dotted lowercase words: "users.add", "log.level". */
static bool valid_name(const char *name)
{
	bool word_start = true;

	if (!name || !*name)
		return false;
	for (const char *p = name; *p; p++) {
		if (*p == '.') {
			if (word_start)
				return false;
			word_start = true;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return false;
		word_start = false;
	}
	return !word_start;
}

static const struct sipd_rpc_method *find_locked(const char *name)
{
	for (size_t i = 0; i < method_count; i++) {
		if (strcmp(methods[i]->name, name) == 0)
			return methods[i];
	}
	return NULL;
}

int sipd_rpc_register(const struct sipd_rpc_method *table)
{
	int err = 0;
	size_t n = 0;

	if (!table)
		return EINVAL;
	pthread_rwlock_wrlock(&registry_lock);
	for (n = 0; table[n].name; n++) {
		if (!valid_name(table[n].name) || !table[n].fn) {
			SIPD_ERR("rpc method '%s': %s", table[n].name,
				 table[n].fn ? "name must be dotted lowercase words" : "no handler");
			err = EINVAL;
			goto out;
		}
		if (find_locked(table[n].name)) {
			SIPD_ERR("rpc method '%s' is registered twice", table[n].name);
			err = EEXIST;
			goto out;
		}
		for (size_t j = 0; j < n; j++) {
			if (strcmp(table[j].name, table[n].name) == 0) {
				SIPD_ERR("rpc method '%s' appears twice in one table", table[n].name);
				err = EEXIST;
				goto out;
			}
		}
	}
	if (method_count + n > method_cap) {
		size_t cap = (method_count + n) * 2;
		const struct sipd_rpc_method **grown = realloc(methods, cap * sizeof(*methods));
		if (!grown) {
			err = ENOMEM;
			goto out;
		}
		methods = grown;
		method_cap = cap;
	}
	for (size_t i = 0; i < n; i++)
		methods[method_count++] = &table[i];
out:
	pthread_rwlock_unlock(&registry_lock);
	return err;
}

int sipd_rpc_call(const char *method, json_t *params, json_t **result)
{
	int err = 0;
	json_t *res = NULL;
	json_t *empty = NULL;

	if (!result)
		return EINVAL;
	*result = NULL;
	if (!method)
		return sipd_rpc_fail(result, EINVAL, "no method given");
	if (!params)
		params = empty = json_array();
	if (!json_is_array(params) && !json_is_object(params)) {
		err = sipd_rpc_fail(result, EINVAL, "params must be an array or an object");
		goto out;
	}
	/* Held while the handler runs so rpc_reset cannot pull the table away. */
	pthread_mutex_lock(&call_lock);
	pthread_rwlock_rdlock(&registry_lock);
	const struct sipd_rpc_method *m = find_locked(method);
	if (m)
		err = m->fn(params, &res);
	pthread_rwlock_unlock(&registry_lock);
	pthread_mutex_unlock(&call_lock);
	if (!m) {
		err = sipd_rpc_fail(result, ENOENT, "unknown method '%s' (see help)", method);
		goto out;
	}
	if (!err && !res)
		res = json_null();
	if (err && !res)
		res = json_string(strerror(err));
	*result = res;
out:
	json_decref(empty);
	return err;
}

void rpc_reset(void)
{
	pthread_rwlock_wrlock(&registry_lock);
	free(methods);
	methods = NULL;
	method_count = method_cap = 0;
	pthread_rwlock_unlock(&registry_lock);
}

/* Positional argument idx or named argument key as a string; NULL if absent. */
static int param_str(const char **out, json_t *params, size_t idx, const char *key, json_t **result)
{
	json_t *v = json_is_array(params) ? json_array_get(params, idx) : json_object_get(params, key);

	if (!v) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return sipd_rpc_fail(result, EINVAL, "'%s' must be a string", key);
	*out = json_string_value(v);
	return 0;
}

static int too_many(json_t *params, size_t max, json_t **result)
{
	size_t n = json_is_array(params) ? json_array_size(params) : json_object_size(params);

	if (n > max)
		return sipd_rpc_fail(result, EINVAL, "too many arguments (at most %zu)", max);
	return 0;
}

static json_t *describe(const struct sipd_rpc_method *m)
{
	return json_pack("{s:s, s:s, s:s}", "name", m->name, "usage", m->usage ? m->usage : "", "help",
			 m->help ? m->help : "");
}

static int cmp_method(const void *a, const void *b)
{
	const struct sipd_rpc_method *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

static bool has_prefix(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(name, prefix, n) == 0 && (name[n] == '\0' || name[n] == '.');
}

/* help [WORD...]: words are joined with '.' so `sipctl help users add` works; a group lists its methods. */
static int rpc_help(json_t *params, json_t **result)
{
	int err = 0;
	char name[256] = "";
	size_t len = 0;
	json_t *v;
	size_t i;
	const struct sipd_rpc_method **sorted = NULL;

	if (json_is_object(params)) {
		const char *m = NULL;
		err = param_str(&m, params, 0, "method", result);
		if (err)
			return err;
		snprintf(name, sizeof(name), "%s", m ? m : "");
	} else {
		json_array_foreach(params, i, v)
		{
			if (!json_is_string(v))
				return sipd_rpc_fail(result, EINVAL, "method names are strings");
			int n = snprintf(name + len, sizeof(name) - len, "%s%s", len ? "." : "",
					 json_string_value(v));
			if (n < 0 || (size_t)n >= sizeof(name) - len)
				return sipd_rpc_fail(result, EINVAL, "method name too long");
			len += (size_t)n;
		}
	}

	/* Handlers run under sipd_rpc_call's read lock: the registry is stable here. */
	const struct sipd_rpc_method *m = name[0] ? find_locked(name) : NULL;
	if (m) {
		*result = describe(m);
		goto out;
	}
	sorted = malloc((method_count ? method_count : 1) * sizeof(*sorted));
	if (!sorted) {
		err = ENOMEM;
		goto out;
	}
	memcpy(sorted, methods, method_count * sizeof(*sorted));
	qsort(sorted, method_count, sizeof(*sorted), cmp_method);
	json_t *list = json_array();
	for (i = 0; i < method_count; i++) {
		if (!name[0] || has_prefix(sorted[i]->name, name))
			json_array_append_new(list, describe(sorted[i]));
	}
	if (name[0] && json_array_size(list) == 0) {
		json_decref(list);
		err = sipd_rpc_fail(result, ENOENT, "no method '%s' (see help)", name);
		goto out;
	}
	*result = list;
out:
	free(sorted);
	return err;
}

static int rpc_version(json_t *params, json_t **result)
{
	int err = too_many(params, 0, result);
	if (err)
		return err;
	char abi[32];
	snprintf(abi, sizeof(abi), "%d.%d", SIPD_ABI_MAJOR, SIPD_ABI_MINOR);
	*result = json_pack("{s:s, s:s}", "version", SIPD_VERSION, "abi", abi);
	return 0;
}

/* Shared by stats and stats.list: an optional group (or counter) filter. */
static int stats_filter(const char **prefix, json_t *params, json_t **result)
{
	int err = too_many(params, 1, result);
	if (!err)
		err = param_str(prefix, params, 0, "group", result);
	return err;
}

static int rpc_stats(json_t *params, json_t **result)
{
	const char *prefix = NULL;
	int err = stats_filter(&prefix, params, result);
	if (err)
		return err;

	json_t *all = json_object();
	stats_dump(all);
	if (!prefix) {
		*result = all;
		return 0;
	}
	json_t *some = json_object();
	const char *key;
	json_t *v;
	json_object_foreach(all, key, v)
	{
		if (has_prefix(key, prefix))
			json_object_set(some, key, v);
	}
	json_decref(all);
	if (json_object_size(some) == 0) {
		json_decref(some);
		return sipd_rpc_fail(result, ENOENT, "no counter in group '%s'", prefix);
	}
	*result = some;
	return 0;
}

static int rpc_stats_list(json_t *params, json_t **result)
{
	const char *prefix = NULL;
	int err = stats_filter(&prefix, params, result);
	if (err)
		return err;

	json_t *all = json_array();
	stats_describe(all);
	if (!prefix) {
		*result = all;
		return 0;
	}
	json_t *some = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
	{
		if (has_prefix(json_string_value(json_object_get(v, "name")), prefix))
			json_array_append(some, v);
	}
	json_decref(all);
	if (json_array_size(some) == 0) {
		json_decref(some);
		return sipd_rpc_fail(result, ENOENT, "no counter in group '%s'", prefix);
	}
	*result = some;
	return 0;
}

static int rpc_stats_reset(json_t *params, json_t **result)
{
	int err = too_many(params, 0, result);
	if (err)
		return err;
	stats_reset_all();
	SIPD_NOTICE("statistics reset through the control interface");
	*result = json_pack("{s:b}", "reset", 1);
	return 0;
}

static int rpc_modules(json_t *params, json_t **result)
{
	int err = too_many(params, 0, result);
	if (err)
		return err;
	json_t *list = json_array();
	loader_describe(list);
	*result = list;
	return 0;
}

static int rpc_reload(json_t *params, json_t **result)
{
	char msg[2048] = "";
	int err = too_many(params, 0, result);
	if (err)
		return err;
	err = script_reload(msg, sizeof(msg));
	/* The script engine logs the outcome itself; the caller gets the compiler's text. */
	if (err)
		return sipd_rpc_fail(result, EINVAL, "%s", msg[0] ? msg : strerror(err));
	*result = json_pack("{s:b}", "reloaded", 1);
	return 0;
}

static int rpc_log_level(json_t *params, json_t **result)
{
	const char *name = NULL;
	int err = too_many(params, 1, result);
	if (!err)
		err = param_str(&name, params, 0, "level", result);
	if (err)
		return err;

	int old = __atomic_load_n(&sipd_log_threshold, __ATOMIC_RELAXED);
	if (!name) {
		*result = json_pack("{s:s}", "level", log_level_name(old));
		return 0;
	}
	int level = sipd_log_level_parse(name);
	if (level < 0)
		return sipd_rpc_fail(result, EINVAL,
				     "unknown log level '%s' (error, warn, notice, info, debug)", name);
	log_set_level(level);
	SIPD_NOTICE("log level changed from %s to %s", log_level_name(old), log_level_name(level));
	*result = json_pack("{s:s, s:s}", "level", log_level_name(level), "previous", log_level_name(old));
	return 0;
}

static const struct sipd_rpc_method core_methods[] = {
    {.name = "help", .fn = rpc_help, .usage = "[METHOD]", .help = "Lists the methods, or describes one"},
    {.name = "version", .fn = rpc_version, .usage = "", .help = "Shows the sipd version and module ABI"},
    {.name = "stats",
     .fn = rpc_stats,
     .usage = "[GROUP]",
     .help = "Shows every counter as name: value, or those of one group"},
    {.name = "stats.list",
     .fn = rpc_stats_list,
     .usage = "[GROUP]",
     .help = "Lists counters with their descriptions"},
    {.name = "stats.reset", .fn = rpc_stats_reset, .usage = "", .help = "Sets every counter back to zero"},
    {.name = "modules", .fn = rpc_modules, .usage = "", .help = "Lists the loaded modules"},
    {.name = "reload",
     .fn = rpc_reload,
     .usage = "",
     .help = "Recompiles the routing script and swaps it in; on error the old one keeps running"},
    {.name = "log.level",
     .fn = rpc_log_level,
     .usage = "[error|warn|notice|info|debug]",
     .help = "Shows or sets the log level"},
    {.name = NULL},
};

int rpc_core_register(void)
{
	return sipd_rpc_register(core_methods);
}
