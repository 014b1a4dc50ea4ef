/* modules.conf: the core settings and the module list, read with libconfig; every error names file:line. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libconfig.h>

#include <sipd/log.h>
#include <sipd/module.h>

#include "db_backend.h"
#include "internal.h"

static const char *const core_keys[] = {
    "listen",
    "aliases",
    "workers",
    "database",
    "routing",
    "log_level",
    "log_target",
    "control_socket",
    "module_path",
    "node_id",
    "node_address",
    "node_dead_after",
    "db_commit_interval",
    NULL,
};
static const char *const default_listen[] = {"udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"};

/*
 * Parameter strings and lists given to modules must outlive their stop
 * hooks, so they are kept here and freed by config_free at shutdown.
 */
static void **owned;
static unsigned owned_count;

static int own(void *p)
{
	void **n;

	if (!p)
		return ENOMEM;
	n = realloc(owned, (owned_count + 1) * sizeof(*n));
	if (!n) {
		free(p);
		return ENOMEM;
	}
	owned = n;
	owned[owned_count++] = p;
	return 0;
}

static const char *src_file(const struct core_config *c, const config_setting_t *s)
{
	const char *f = config_setting_source_file(s);

	return f ? f : c->path;
}

static int src_line(const config_setting_t *s, int fallback)
{
	int line = config_setting_source_line(s);

	return line > 0 ? line : fallback;
}

static int fail_at(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
    SIPD_PRINTF(5, 6);
static int fail_at(char *err, size_t errlen, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s:%d: ", file, line);
	if (n < 0 || (size_t)n >= errlen)
		return EINVAL;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return EINVAL;
}

/* Relative paths in modules.conf mean "next to modules.conf", whatever the working directory. */
static char *resolve_path(const char *conf_path, const char *path)
{
	const char *slash = strrchr(conf_path, '/');
	char *out;

	/* ":memory:" and "file:..." are SQLite names, and a PostgreSQL conninfo is no path either. */
	if (path[0] == '/' || path[0] == ':' || strncmp(path, "file:", 5) == 0 || !slash ||
	    db_target_is_pg(path))
		return strdup(path);
	if (asprintf(&out, "%.*s/%s", (int)(slash - conf_path), conf_path, path) < 0)
		return NULL;
	return out;
}

static int read_string(const struct core_config *c, const config_setting_t *core, const char *key,
		       const char *dflt, char **out, char *err, size_t errlen)
{
	const config_setting_t *s = core ? config_setting_get_member(core, key) : NULL;
	const char *v = dflt;

	if (s) {
		if (config_setting_type(s) != CONFIG_TYPE_STRING)
			return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
				       "core.%s expects a string, e.g. %s = \"%s\";", key, key,
				       dflt ? dflt : "...");
		v = config_setting_get_string(s);
	}
	if (!v)
		return 0;
	*out = strdup(v);
	return *out ? 0 : ENOMEM;
}

/* Accepts "x" as well as ["x", "y"]: a single listen address is common enough. */
static int read_string_list(const struct core_config *c, const config_setting_t *core, const char *key,
			    const char *const *dflt, unsigned dflt_count, char ***out, unsigned *count,
			    char *err, size_t errlen)
{
	const config_setting_t *s = core ? config_setting_get_member(core, key) : NULL;
	unsigned n = dflt_count;
	char **arr;

	if (s) {
		int t = config_setting_type(s);

		if (t == CONFIG_TYPE_STRING) {
			n = 1;
		} else if (t == CONFIG_TYPE_ARRAY || t == CONFIG_TYPE_LIST) {
			n = (unsigned)config_setting_length(s);
			for (unsigned i = 0; i < n; i++) {
				const config_setting_t *e = config_setting_get_elem(s, i);

				if (config_setting_type(e) != CONFIG_TYPE_STRING)
					return fail_at(
					    err, errlen, src_file(c, e), src_line(e, src_line(s, 0)),
					    "core.%s expects a list of strings, e.g. %s = [\"...\"];", key,
					    key);
			}
		} else {
			return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
				       "core.%s expects a list of strings, e.g. %s = [\"...\"];", key, key);
		}
	}
	arr = calloc(n + 1, sizeof(*arr));
	if (!arr)
		return ENOMEM;
	*out = arr;
	for (unsigned i = 0; i < n; i++) {
		const char *v;

		if (!s)
			v = dflt[i];
		else if (config_setting_type(s) == CONFIG_TYPE_STRING)
			v = config_setting_get_string(s);
		else
			v = config_setting_get_string_elem(s, i);
		arr[i] = strdup(v);
		if (!arr[i])
			return ENOMEM;
		*count = i + 1;
	}
	return 0;
}

static int check_core_keys(const struct core_config *c, const config_setting_t *core, char *err,
			   size_t errlen)
{
	for (int i = 0; i < config_setting_length(core); i++) {
		const config_setting_t *s = config_setting_get_elem(core, (unsigned)i);
		const char *name = config_setting_name(s);
		bool known = false;

		for (const char *const *k = core_keys; *k && !known; k++)
			known = strcmp(*k, name) == 0;
		if (!known)
			return fail_at(
			    err, errlen, src_file(c, s), src_line(s, 0),
			    "unknown setting '%s' in core; expected one of listen, aliases, workers, "
			    "database, routing, log_level, log_target, control_socket, module_path, node_id, "
			    "node_address, node_dead_after, db_commit_interval",
			    name);
	}
	return 0;
}

static int read_workers(struct core_config *c, const config_setting_t *core, char *err, size_t errlen)
{
	const config_setting_t *s = core ? config_setting_get_member(core, "workers") : NULL;
	long long v = 0;

	if (s) {
		int t = config_setting_type(s);

		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
				       "core.workers expects an integer (0 = one per CPU)");
		v = config_setting_get_int64(s);
		if (v < 0 || v > SIPD_MAX_THREADS)
			return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
				       "core.workers must be from 0 to %d (0 = one per CPU), not %lld",
				       SIPD_MAX_THREADS, v);
	}
	if (v == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		v = cpus < 1 ? 1 : cpus > SIPD_MAX_THREADS ? SIPD_MAX_THREADS : cpus;
	}
	c->workers = (unsigned)v;
	return 0;
}

/* Checks values whose mistakes are cheaper to report here, with a line number, than at use. */
static int check_core_values(const struct core_config *c, const config_setting_t *core, char *err,
			     size_t errlen)
{
	const config_setting_t *s;
	struct sipd_listen l;
	char why[256];

	if (sipd_log_level_parse(c->log_level) < 0) {
		s = config_setting_get_member(core, "log_level");
		return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
			       "core.log_level '%s' is unknown; expected error, warn, notice, info or debug",
			       c->log_level);
	}
	if (strcmp(c->log_target, "stderr") != 0 && strcmp(c->log_target, "syslog") != 0) {
		s = config_setting_get_member(core, "log_target");
		return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
			       "core.log_target '%s' is unknown; expected \"stderr\" or \"syslog\"",
			       c->log_target);
	}
	if (c->node_address && strncmp(c->node_address, "sip:", 4) != 0 &&
	    strncmp(c->node_address, "sips:", 5) != 0) {
		s = config_setting_get_member(core, "node_address");
		return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
			       "core.node_address '%s' is not a SIP URI; expected e.g. \"sip:10.0.0.2:5060\"",
			       c->node_address);
	}
	s = core ? config_setting_get_member(core, "listen") : NULL;
	for (unsigned i = 0; i < c->listen_count; i++) {
		const config_setting_t *e = NULL;

		if (listen_parse(&l, c->listen[i], false, why, sizeof(why)) == 0)
			continue;
		if (s && config_setting_type(s) != CONFIG_TYPE_STRING)
			e = config_setting_get_elem(s, i);
		return fail_at(err, errlen, s ? src_file(c, e ? e : s) : c->path,
			       s ? src_line(e ? e : s, src_line(s, 0)) : 0, "core.%s", why);
	}
	return 0;
}

static int read_node_dead_after(struct core_config *c, const config_setting_t *core, char *err, size_t errlen)
{
	const config_setting_t *s = core ? config_setting_get_member(core, "node_dead_after") : NULL;

	c->node_dead_after = 10;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT || config_setting_get_int(s) < 3 ||
	    config_setting_get_int(s) > 3600)
		return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
			       "core.node_dead_after expects whole seconds from 3 to 3600");
	c->node_dead_after = config_setting_get_int(s);
	return 0;
}

static int read_db_commit_interval(struct core_config *c, const config_setting_t *core, char *err,
				   size_t errlen)
{
	const config_setting_t *s = core ? config_setting_get_member(core, "db_commit_interval") : NULL;

	c->db_commit_interval = DB_COMMIT_INTERVAL_DEFAULT_MS;
	if (!s)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT || config_setting_get_int(s) < 0 ||
	    config_setting_get_int(s) > DB_COMMIT_INTERVAL_MAX_MS)
		return fail_at(err, errlen, src_file(c, s), src_line(s, 0),
			       "core.db_commit_interval expects milliseconds from 0 to %d",
			       DB_COMMIT_INTERVAL_MAX_MS);
	c->db_commit_interval = (unsigned)config_setting_get_int(s);
	return 0;
}

static int read_core(struct core_config *c, const config_setting_t *core, char *err, size_t errlen)
{
	char *routing = NULL, *database = NULL, *module_path = NULL;
	int ret;

	if (core && config_setting_type(core) != CONFIG_TYPE_GROUP)
		return fail_at(err, errlen, src_file(c, core), src_line(core, 0),
			       "core expects a group: core = { listen = [...]; ... };");
	if (core && (ret = check_core_keys(c, core, err, errlen)))
		return ret;
	if ((ret = read_string_list(c, core, "listen", default_listen, 2, &c->listen, &c->listen_count, err,
				    errlen)) ||
	    (ret =
		 read_string_list(c, core, "aliases", NULL, 0, &c->aliases, &c->alias_count, err, errlen)) ||
	    (ret = read_workers(c, core, err, errlen)) ||
	    (ret = read_string(c, core, "database", "sipd.db", &database, err, errlen)) ||
	    (ret = read_string(c, core, "routing", "routing.cfg", &routing, err, errlen)) ||
	    (ret = read_string(c, core, "log_level", "info", &c->log_level, err, errlen)) ||
	    (ret = read_string(c, core, "log_target", "stderr", &c->log_target, err, errlen)) ||
	    (ret = read_string(c, core, "control_socket", "/run/sipd/sipd.ctl", &c->control_socket, err,
			       errlen)) ||
	    (ret = read_string(c, core, "module_path", NULL, &module_path, err, errlen)) ||
	    (ret = read_string(c, core, "node_id", NULL, &c->node_id, err, errlen)) ||
	    (ret = read_string(c, core, "node_address", NULL, &c->node_address, err, errlen)) ||
	    (ret = read_node_dead_after(c, core, err, errlen)) ||
	    (ret = read_db_commit_interval(c, core, err, errlen)))
		goto out;
	ret = ENOMEM;
	if (!(c->routing = resolve_path(c->path, routing)) ||
	    !(c->database = resolve_path(c->path, database)))
		goto out;
	if (module_path && !(c->module_path = resolve_path(c->path, module_path)))
		goto out;
	ret = core ? check_core_values(c, core, err, errlen) : 0;
out:
	free(routing);
	free(database);
	free(module_path);
	return ret;
}

static int read_module(struct core_config *c, config_setting_t *s, struct core_module_entry *e, char *err,
		       size_t errlen)
{
	const config_setting_t *name, *enabled;
	const char *file = src_file(c, s);
	int line = src_line(s, 0);

	if (config_setting_type(s) != CONFIG_TYPE_GROUP)
		return fail_at(err, errlen, file, line,
			       "modules entries are groups, e.g. { name = \"udp\"; }");
	name = config_setting_get_member(s, "name");
	if (!name || config_setting_type(name) != CONFIG_TYPE_STRING || !*config_setting_get_string(name))
		return fail_at(err, errlen, file, line, "module entry needs name = \"<module>\";");
	e->enabled = true;
	enabled = config_setting_get_member(s, "enabled");
	if (enabled) {
		if (config_setting_type(enabled) != CONFIG_TYPE_BOOL)
			return fail_at(err, errlen, file, src_line(enabled, line),
				       "module '%s': enabled expects true or false",
				       config_setting_get_string(name));
		e->enabled = config_setting_get_bool(enabled);
	}
	e->line = line;
	e->setting = s;
	e->name = strdup(config_setting_get_string(name));
	e->file = strdup(file);
	return e->name && e->file ? 0 : ENOMEM;
}

static int read_modules(struct core_config *c, config_setting_t *mods, char *err, size_t errlen)
{
	unsigned n;
	int ret;

	if (!mods)
		return 0;
	if (config_setting_type(mods) != CONFIG_TYPE_LIST)
		return fail_at(err, errlen, src_file(c, mods), src_line(mods, 0),
			       "modules expects a list of groups: modules = ( { name = \"udp\"; } );");
	n = (unsigned)config_setting_length(mods);
	c->modules = calloc(n ? n : 1, sizeof(*c->modules));
	if (!c->modules)
		return ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		c->module_count = i + 1;
		ret = read_module(c, config_setting_get_elem(mods, i), &c->modules[i], err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static int read_file(config_t *cfg, const char *path, char *err, size_t errlen)
{
	/* @include "x" in modules.conf is relative to modules.conf too (libconfig 1.5 crashes on a NULL dir).
	 */
	if (strchr(path, '/')) {
		char *dir = resolve_path(path, ".");

		if (!dir)
			return ENOMEM;
		config_set_include_dir(cfg, dir);
		free(dir);
	}
	if (config_read_file(cfg, path))
		return 0;
	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO) {
		int e = access(path, R_OK) == 0 ? EIO : errno;

		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
		return e == ENOENT ? ENOENT : EINVAL;
	}
	return fail_at(err, errlen, config_error_file(cfg) ? config_error_file(cfg) : path,
		       config_error_line(cfg), "%s", config_error_text(cfg));
}

int config_load(struct core_config *out, const char *path, char *err, size_t errlen)
{
	struct core_config c = {0};
	config_setting_t *root;
	int ret = ENOMEM;

	if (errlen)
		err[0] = '\0';
	c.cfg = malloc(sizeof(config_t));
	c.path = strdup(path);
	if (!c.cfg || !c.path) {
		snprintf(err, errlen, "out of memory");
		free(c.cfg);
		c.cfg = NULL;
		goto out;
	}
	config_init(c.cfg);
	ret = read_file(c.cfg, path, err, errlen);
	if (ret)
		goto out;

	root = config_root_setting((config_t *)c.cfg);
	for (int i = 0; i < config_setting_length(root); i++) {
		const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
		const char *name = config_setting_name(s);

		if (strcmp(name, "core") != 0 && strcmp(name, "modules") != 0) {
			ret = fail_at(err, errlen, src_file(&c, s), src_line(s, 0),
				      "unknown top-level setting '%s'; expected core or modules", name);
			goto out;
		}
	}
	ret = read_core(&c, config_setting_get_member(root, "core"), err, errlen);
	if (!ret)
		ret = read_modules(&c, config_setting_get_member(root, "modules"), err, errlen);
out:
	if (ret == ENOMEM && errlen && !*err)
		snprintf(err, errlen, "%s: out of memory", path);
	if (ret) {
		config_free(&c);
		return ret;
	}
	*out = c;
	return 0;
}

static void free_strings(char **arr, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
}

void config_free(struct core_config *c)
{
	if (c->cfg) {
		config_destroy(c->cfg);
		free(c->cfg);
	}
	free_strings(c->listen, c->listen_count);
	free_strings(c->aliases, c->alias_count);
	free(c->path);
	free(c->database);
	free(c->node_id);
	free(c->node_address);
	free(c->routing);
	free(c->log_level);
	free(c->log_target);
	free(c->control_socket);
	free(c->module_path);
	for (unsigned i = 0; i < c->module_count; i++) {
		free(c->modules[i].name);
		free(c->modules[i].file);
	}
	free(c->modules);
	memset(c, 0, sizeof(*c));
	for (unsigned i = 0; i < owned_count; i++)
		free(owned[i]);
	free(owned);
	owned = NULL;
	owned_count = 0;
}

static const struct sipd_param_def *find_param(const struct sipd_module *m, const char *name)
{
	for (const struct sipd_param_def *p = m->params; p && p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

static void list_params(const struct sipd_module *m, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct sipd_param_def *p = m->params; p && p->name && n < size; p++) {
		int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", p->name);

		if (w < 0)
			break;
		n += (size_t)w;
	}
}

static int set_str_list(const config_setting_t *s, const struct sipd_param_def *def)
{
	bool single = config_setting_type(s) == CONFIG_TYPE_STRING;
	unsigned n = single ? 1 : (unsigned)config_setting_length(s);
	char **arr = calloc(n + 1, sizeof(*arr));

	if (own(arr))
		return ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		const char *v = single ? config_setting_get_string(s) : config_setting_get_string_elem(s, i);

		arr[i] = strdup(v);
		if (own(arr[i]))
			return ENOMEM;
	}
	*(const char *const **)def->var = (const char *const *)arr;
	return 0;
}

static bool is_string_list(const config_setting_t *s)
{
	int t = config_setting_type(s);

	if (t == CONFIG_TYPE_STRING)
		return true;
	if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
		return false;
	for (int i = 0; i < config_setting_length(s); i++)
		if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) != CONFIG_TYPE_STRING)
			return false;
	return true;
}

static int apply_one(const struct core_config *c, const struct core_module_entry *e,
		     const struct sipd_param_def *def, const config_setting_t *s, char *err, size_t errlen)
{
	const char *file = src_file(c, s);
	int line = src_line(s, e->line);
	int t = config_setting_type(s);
	long long v;
	char *copy;

	if (!def->var)
		return fail_at(err, errlen, file, line,
			       "module '%s': parameter '%s' has no storage (module bug)", e->name, def->name);
	switch (def->type) {
	case SIPD_PARAM_INT:
		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64)
			return fail_at(err, errlen, file, line,
				       "module '%s': parameter '%s' expects an integer", e->name, def->name);
		v = config_setting_get_int64(s);
		if ((def->min || def->max) && (v < def->min || v > def->max))
			return fail_at(err, errlen, file, line,
				       "module '%s': parameter '%s' must be from %ld to %ld, not %lld",
				       e->name, def->name, def->min, def->max, v);
		if (v < -2147483647LL - 1 || v > 2147483647LL)
			return fail_at(err, errlen, file, line, "module '%s': parameter '%s' is out of range",
				       e->name, def->name);
		*(int *)def->var = (int)v;
		return 0;
	case SIPD_PARAM_STR:
		if (t != CONFIG_TYPE_STRING)
			return fail_at(err, errlen, file, line,
				       "module '%s': parameter '%s' expects a string", e->name, def->name);
		copy = strdup(config_setting_get_string(s));
		if (own(copy))
			return ENOMEM;
		*(const char **)def->var = copy;
		return 0;
	case SIPD_PARAM_BOOL:
		if (t != CONFIG_TYPE_BOOL)
			return fail_at(err, errlen, file, line,
				       "module '%s': parameter '%s' expects true or false", e->name,
				       def->name);
		*(bool *)def->var = config_setting_get_bool(s);
		return 0;
	case SIPD_PARAM_STR_LIST:
		if (!is_string_list(s))
			return fail_at(
			    err, errlen, file, line,
			    "module '%s': parameter '%s' expects a list of strings, e.g. [\"a\", \"b\"]",
			    e->name, def->name);
		return set_str_list(s, def);
	}
	return fail_at(err, errlen, file, line,
		       "module '%s': parameter '%s' has unknown type %d (module bug)", e->name, def->name,
		       (int)def->type);
}

void config_param_source(const struct core_config *c, const struct core_module_entry *e, const char *param,
			 char *buf, size_t size)
{
	const config_setting_t *g = e->setting;
	const config_setting_t *s = g && param ? config_setting_get_member(g, param) : NULL;

	if (s)
		snprintf(buf, size, "%s:%d", src_file(c, s), src_line(s, e->line));
	else
		snprintf(buf, size, "%s:%d", e->file ? e->file : c->path, e->line);
}

int config_apply_params(const struct core_config *c, const struct core_module_entry *e,
			const struct sipd_module *m, char *err, size_t errlen)
{
	const config_setting_t *g = e->setting;
	char known[512];
	int ret = 0;

	if (!g)
		return 0;
	for (int i = 0; i < config_setting_length(g) && !ret; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		const struct sipd_param_def *def;

		if (!name || strcmp(name, "name") == 0 || strcmp(name, "enabled") == 0)
			continue;
		def = find_param(m, name);
		if (!def) {
			list_params(m, known, sizeof(known));
			if (known[0])
				return fail_at(err, errlen, src_file(c, s), src_line(s, e->line),
					       "module '%s': unknown parameter '%s'; expected one of %s",
					       e->name, name, known);
			return fail_at(err, errlen, src_file(c, s), src_line(s, e->line),
				       "module '%s': unknown parameter '%s'; the module takes no parameters",
				       e->name, name);
		}
		ret = apply_one(c, e, def, s, err, errlen);
		if (ret == ENOMEM)
			snprintf(err, errlen, "module '%s': out of memory", e->name);
	}
	return ret;
}
