/* Module loader: finds module objects, checks their ABI, orders them by dependency and runs their hooks. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ltdl.h>

#include <sipd/log.h>
#include <sipd/module.h>
#include <sipd/rpc.h>
#include <sipd/script.h>

#include "internal.h"

/* Everything up to and including stop existed in ABI 1.0: no module may be smaller. */
#define DESCRIPTOR_SIZE_1_0 (offsetof(struct sipd_module, stop) + sizeof(((struct sipd_module *)0)->stop))

struct loaded {
	struct sipd_module desc; /* a copy, zero-extended if the module is older */
	const struct core_module_entry *entry;
	lt_dlhandle handle;
	char *path;
	bool started;
};

/* In init order once loader_load_all has sorted them. Main thread only, read-only after start-up. */
static struct loaded *mods;
static unsigned mod_count;
static bool ltdl_ready;
static bool init_failed;
static const struct core_config *cfg; /* for sipd_param_source; lives until shutdown */

static int fail(char *err, size_t errlen, const struct core_module_entry *e, int ret, const char *fmt, ...)
    SIPD_PRINTF(5, 6);
static int fail(char *err, size_t errlen, const struct core_module_entry *e, int ret, const char *fmt, ...)
{
	va_list ap;
	int n = 0;

	if (e)
		n = snprintf(err, errlen, "%s:%d: ", e->file, e->line);
	if (n < 0 || (size_t)n >= errlen)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

static bool valid_name(const char *name)
{
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-'))
			return false;
	return *name != '\0';
}

/* The build tree keeps modules in build/modules beside build/core/sipd, so a fresh build runs in place. */
static char *exe_module_dir(void)
{
	char exe[PATH_MAX], *slash, *dir = NULL, resolved[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return NULL;
	*slash = '\0';
	if (asprintf(&dir, "%s/../modules", exe) < 0)
		return NULL;
	if (realpath(dir, resolved)) {
		free(dir);
		dir = strdup(resolved);
	}
	return dir;
}

/* Search order: core.module_path (or -M, colon-separated), next to the binary, the install directory. */
static int find_module(char **out, const struct core_config *c, const struct core_module_entry *e, char *err,
		       size_t errlen)
{
	char looked[1024] = "", *dirs = NULL, *exe_dir = exe_module_dir(), *save = NULL, *path = NULL;
	size_t used = 0;
	int ret = ENOMEM;

	if (asprintf(&dirs, "%s%s%s:%s", c->module_path ? c->module_path : "", c->module_path ? ":" : "",
		     exe_dir ? exe_dir : "", SIPD_MODULE_DIR) < 0) {
		dirs = NULL;
		goto out;
	}
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		int w;

		if (asprintf(&path, "%s/%s.so", d, e->name) < 0) {
			path = NULL;
			goto out;
		}
		if (access(path, F_OK) == 0) {
			*out = path;
			path = NULL;
			ret = 0;
			goto out;
		}
		free(path);
		path = NULL;
		w = snprintf(looked + used, sizeof(looked) - used, "%s%s", used ? ", " : "", d);
		if (w > 0 && (size_t)w < sizeof(looked) - used)
			used += (size_t)w;
	}
	ret = fail(err, errlen, e, ENOENT, "module '%s': %s.so not found; looked in %s", e->name, e->name,
		   looked);
out:
	free(path);
	free(dirs);
	free(exe_dir);
	if (ret == ENOMEM)
		fail(err, errlen, e, ret, "module '%s': out of memory", e->name);
	return ret;
}

static int check_descriptor(struct loaded *l, const struct sipd_module *d, char *err, size_t errlen)
{
	const struct core_module_entry *e = l->entry;

	if (d->abi_major != SIPD_ABI_MAJOR)
		return fail(
		    err, errlen, e, EPROTO,
		    "module '%s' was built for ABI %u.%u, core has %d.%d (the major version must match)",
		    e->name, d->abi_major, d->abi_minor, SIPD_ABI_MAJOR, SIPD_ABI_MINOR);
	if (d->abi_minor > SIPD_ABI_MINOR)
		return fail(err, errlen, e, EPROTO, "module '%s' needs ABI %u.%u, core has %d.%d", e->name,
			    d->abi_major, d->abi_minor, SIPD_ABI_MAJOR, SIPD_ABI_MINOR);
	if (d->size < DESCRIPTOR_SIZE_1_0)
		return fail(err, errlen, e, EPROTO,
			    "module '%s': descriptor size %u is smaller than ABI 1.0's %zu", e->name, d->size,
			    DESCRIPTOR_SIZE_1_0);
	/* A module of an older minor has a shorter struct: fields it lacks read as zero. */
	memcpy(&l->desc, d, d->size < sizeof(l->desc) ? d->size : sizeof(l->desc));
	if (!l->desc.name || strcmp(l->desc.name, e->name) != 0)
		return fail(err, errlen, e, EPROTO, "module '%s': %s declares the name '%s'", e->name,
			    l->path, l->desc.name ? l->desc.name : "(none)");
	return 0;
}

static int load_one(struct loaded *l, const struct core_config *c, char *err, size_t errlen)
{
	const struct core_module_entry *e = l->entry;
	lt_dladvise advise = NULL;
	const void *sym;
	int ret;

	if (!valid_name(e->name))
		return fail(err, errlen, e, EINVAL,
			    "module name '%s' is not valid (letters, digits, '_', '-')", e->name);
	ret = find_module(&l->path, c, e, err, errlen);
	if (ret)
		return ret;
	if (lt_dladvise_init(&advise) || lt_dladvise_local(&advise) || lt_dladvise_ext(&advise)) {
		lt_dladvise_destroy(&advise);
		return fail(err, errlen, e, ENOMEM, "module '%s': libltdl: %s", e->name, lt_dlerror());
	}
	l->handle = lt_dlopenadvise(l->path, advise);
	lt_dladvise_destroy(&advise);
	if (!l->handle)
		return fail(err, errlen, e, ENOEXEC, "module '%s': cannot load %s: %s", e->name, l->path,
			    lt_dlerror());
	sym = lt_dlsym(l->handle, SIPD_MODULE_SYMBOL);
	if (!sym)
		return fail(err, errlen, e, ENOEXEC, "module '%s': %s has no %s symbol; is it a sipd module?",
			    e->name, l->path, SIPD_MODULE_SYMBOL);
	return check_descriptor(l, sym, err, errlen);
}

static int check_duplicates(const struct core_config *c, char *err, size_t errlen)
{
	for (unsigned i = 0; i < c->module_count; i++)
		for (unsigned j = 0; j < i; j++)
			if (strcmp(c->modules[i].name, c->modules[j].name) == 0)
				return fail(err, errlen, &c->modules[i], EINVAL,
					    "module '%s' is listed twice in modules.conf (first at line %d)",
					    c->modules[i].name, c->modules[j].line);
	return 0;
}

static int index_of(const char *name)
{
	for (unsigned i = 0; i < mod_count; i++)
		if (strcmp(mods[i].desc.name, name) == 0)
			return (int)i;
	return -1;
}

static int check_requires(const struct core_config *c, char *err, size_t errlen)
{
	for (unsigned i = 0; i < mod_count; i++) {
		const struct loaded *l = &mods[i];

		for (const char *const *r = l->desc.requires; r && *r; r++) {
			if (index_of(*r) >= 0)
				continue;
			for (unsigned k = 0; k < c->module_count; k++)
				if (strcmp(c->modules[k].name, *r) == 0)
					return fail(err, errlen, l->entry, ESRCH,
						    "module '%s' requires '%s', which is not loaded "
						    "(it is disabled at line %d)",
						    l->desc.name, *r, c->modules[k].line);
			return fail(
			    err, errlen, l->entry, ESRCH,
			    "module '%s' requires '%s', which is not loaded; add { name = \"%s\"; } to "
			    "modules",
			    l->desc.name, *r, *r);
		}
	}
	return 0;
}

static bool deps_placed(const struct loaded *l, const bool *placed)
{
	for (const char *const *r = l->desc.requires; r && *r; r++)
		if (!placed[index_of(*r)])
			return false;
	return true;
}

static int first_unplaced_dep(const struct loaded *l, const bool *placed)
{
	for (const char *const *r = l->desc.requires; r && *r; r++)
		if (!placed[index_of(*r)])
			return index_of(*r);
	return -1;
}

/* No module is ready but some are left: follow unmet requirements until one repeats. */
static int report_cycle(const bool *placed, char *err, size_t errlen)
{
	int *pos = malloc(mod_count * sizeof(*pos)), *path = malloc(mod_count * sizeof(*path));
	char text[512] = "";
	size_t used = 0;
	int u = -1, len = 0;

	if (!pos || !path) {
		free(pos);
		free(path);
		return fail(err, errlen, NULL, ENOMEM, "out of memory");
	}
	for (unsigned i = 0; i < mod_count; i++) {
		pos[i] = -1;
		if (u < 0 && !placed[i])
			u = (int)i;
	}
	while (pos[u] < 0) {
		pos[u] = len;
		path[len++] = u;
		u = first_unplaced_dep(&mods[u], placed);
	}
	for (int i = pos[u]; i <= len; i++) {
		int w = snprintf(text + used, sizeof(text) - used, "%s%s", i > pos[u] ? " -> " : "",
				 mods[i < len ? path[i] : u].desc.name);

		if (w > 0 && (size_t)w < sizeof(text) - used)
			used += (size_t)w;
	}
	fail(err, errlen, mods[u].entry, ELOOP, "modules depend on each other in a cycle: %s", text);
	free(pos);
	free(path);
	return ELOOP;
}

/* Dependencies first; among modules that are ready, modules.conf order wins. */
static int sort_by_dependency(char *err, size_t errlen)
{
	bool *placed = calloc(mod_count ? mod_count : 1, sizeof(*placed));
	struct loaded *sorted = calloc(mod_count ? mod_count : 1, sizeof(*sorted));
	unsigned done = 0;
	int ret = 0;

	if (!placed || !sorted) {
		ret = fail(err, errlen, NULL, ENOMEM, "out of memory");
		goto out;
	}
	while (done < mod_count) {
		unsigned i;

		for (i = 0; i < mod_count; i++)
			if (!placed[i] && deps_placed(&mods[i], placed))
				break;
		if (i == mod_count) {
			ret = report_cycle(placed, err, errlen);
			goto out;
		}
		placed[i] = true;
		sorted[done++] = mods[i];
	}
	free(mods);
	mods = sorted;
	sorted = NULL;
out:
	free(placed);
	free(sorted);
	return ret;
}

static int register_exports(const struct core_config *c, struct loaded *l, char *err, size_t errlen)
{
	int ret = config_apply_params(c, l->entry, &l->desc, err, errlen);

	if (ret)
		return ret;
	if (l->desc.functions && (ret = sipd_script_register(l->desc.name, l->desc.functions)))
		return fail(err, errlen, l->entry, ret,
			    "module '%s': cannot register its script functions: %s", l->desc.name,
			    strerror(ret));
	if (l->desc.rpc && (ret = sipd_rpc_register(l->desc.rpc)))
		return fail(err, errlen, l->entry, ret, "module '%s': cannot register its RPC methods: %s",
			    l->desc.name, strerror(ret));
	return 0;
}

int loader_load_all(const struct core_config *c, char *err, size_t errlen)
{
	int ret;

	init_failed = false;
	cfg = c;
	if (!ltdl_ready) {
		if (lt_dlinit() != 0)
			return fail(err, errlen, NULL, ENOMEM, "cannot initialise libltdl: %s", lt_dlerror());
		ltdl_ready = true;
	}
	ret = check_duplicates(c, err, errlen);
	if (ret)
		return ret;
	mods = calloc(c->module_count ? c->module_count : 1, sizeof(*mods));
	if (!mods)
		return fail(err, errlen, NULL, ENOMEM, "out of memory");
	for (unsigned i = 0; i < c->module_count; i++) {
		if (!c->modules[i].enabled)
			continue;
		mods[mod_count].entry = &c->modules[i];
		ret = load_one(&mods[mod_count++], c, err, errlen);
		if (ret)
			return ret;
	}
	if ((ret = check_requires(c, err, errlen)) || (ret = sort_by_dependency(err, errlen)))
		return ret;
	for (unsigned i = 0; i < mod_count; i++)
		if ((ret = register_exports(c, &mods[i], err, errlen)))
			return ret;
	for (unsigned i = 0; i < mod_count; i++) {
		struct loaded *l = &mods[i];

		SIPD_DBG("init module %s %s from %s", l->desc.name, l->desc.version ? l->desc.version : "",
			 l->path);
		if (l->desc.init && (ret = l->desc.init())) {
			init_failed = true;
			return fail(err, errlen, l->entry, ret, "module '%s': init failed: %s", l->desc.name,
				    strerror(ret));
		}
	}
	return 0;
}

bool loader_init_failed(void)
{
	return init_failed;
}

int loader_start_all(char *err, size_t errlen)
{
	for (unsigned i = 0; i < mod_count; i++) {
		struct loaded *l = &mods[i];
		int ret;

		if (l->desc.start && (ret = l->desc.start()))
			return fail(err, errlen, l->entry, ret, "module '%s': start failed: %s", l->desc.name,
				    strerror(ret));
		l->started = true;
	}
	return 0;
}

void loader_stop_all(void)
{
	for (unsigned i = mod_count; i-- > 0;) {
		struct loaded *l = &mods[i];

		if (!l->started)
			continue;
		l->started = false;
		SIPD_DBG("stop module %s", l->desc.name);
		if (l->desc.stop)
			l->desc.stop();
	}
}

/*
 * Forgets the modules. Their objects stay mapped until the process exits:
 * unmapping them gains nothing at exit, while a late callback into an
 * unmapped module would crash and leak reports could no longer name the
 * module's functions.
 */
void loader_unload_all(void)
{
	for (unsigned i = mod_count; i-- > 0;)
		free(mods[i].path);
	free(mods);
	mods = NULL;
	mod_count = 0;
	cfg = NULL;
}

const char *sipd_param_source(const char *module, const char *param, char *buf, size_t size)
{
	snprintf(buf, size, "modules.conf");
	for (unsigned i = 0; cfg && module && i < mod_count; i++)
		if (!strcmp(mods[i].desc.name, module)) {
			config_param_source(cfg, mods[i].entry, param, buf, size);
			break;
		}
	return buf;
}

bool sipd_module_loaded(const char *name)
{
	return name && index_of(name) >= 0;
}

static json_t *names_of_functions(const struct sipd_script_fn *fns)
{
	json_t *a = json_array();

	for (; fns && fns->name; fns++)
		json_array_append_new(a, json_string(fns->name));
	return a;
}

static json_t *names_of_methods(const struct sipd_rpc_method *m)
{
	json_t *a = json_array();

	for (; m && m->name; m++)
		json_array_append_new(a, json_string(m->name));
	return a;
}

void loader_describe(json_t *array)
{
	for (unsigned i = 0; i < mod_count; i++) {
		const struct sipd_module *d = &mods[i].desc;
		char abi[16];

		snprintf(abi, sizeof(abi), "%u.%u", d->abi_major, d->abi_minor);
		json_array_append_new(
		    array, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "name", d->name, "version",
				     d->version ? d->version : "", "abi", abi, "description",
				     d->description ? d->description : "", "file", mods[i].path, "functions",
				     names_of_functions(d->functions), "rpc", names_of_methods(d->rpc)));
	}
}
