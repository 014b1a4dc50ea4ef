/* Registries the compiler resolves names against: script functions, pseudo-variables, route ids. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "script_int.h"

struct pv_entry {
	char *name;
	bool takes_param;
	sipd_pv_get_fn get;
};

/*
 * Registration happens at start-up and lookups at compile time (start-up or
 * a reload on the control thread), never per message: one mutex is enough.
 */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct script_fn_entry **fns;
static unsigned fn_count, fn_cap;
static struct pv_entry *pvs;
static unsigned pv_count, pv_cap;
static char **route_names;
static unsigned route_count, route_cap;

static int grow(void **arr, unsigned *cap, unsigned need, size_t elem)
{
	if (need <= *cap)
		return 0;
	unsigned ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	void *p = realloc(*arr, ncap * elem);
	if (!p)
		return ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static const struct script_fn_entry *find_fn(struct sipd_str name)
{
	for (unsigned i = 0; i < fn_count; i++)
		if (sipd_str_eq(sipd_str_c(fns[i]->fn->name), name))
			return fns[i];
	return NULL;
}

/* Optional arguments must come last, and types must be ones the compiler knows. */
static bool fn_valid(const struct sipd_script_fn *f)
{
	bool optional_seen = false;

	if (!f->fn || !f->name[0])
		return false;
	for (unsigned i = 0; i < SIPD_SCRIPT_MAX_ARGS && f->args[i]; i++) {
		unsigned type = f->args[i] & 0xffu;
		bool optional = f->args[i] & SIPD_ARG_OPTIONAL;
		if (type < SIPD_ARG_INT || type > SIPD_ARG_REGEX)
			return false;
		if (optional_seen && !optional)
			return false;
		optional_seen = optional;
	}
	return true;
}

SIPD_API int sipd_script_register(const char *owner, const struct sipd_script_fn *table)
{
	unsigned n = 0, added = 0;
	int err = 0;

	if (!owner || !table)
		return EINVAL;
	pthread_mutex_lock(&reg_lock);
	for (; table[n].name; n++) {
		if (!fn_valid(&table[n])) {
			SIPD_ERR("%s: script function %s: bad declaration (no fn, or bad argument types)",
				 owner, table[n].name);
			err = EINVAL;
			goto out;
		}
		const struct script_fn_entry *dup = find_fn(sipd_str_c(table[n].name));
		if (dup) {
			SIPD_ERR("%s: script function %s() is already registered by %s", owner, table[n].name,
				 dup->owner);
			err = EEXIST;
			goto out;
		}
		for (unsigned k = 0; k < n; k++) {
			if (strcmp(table[k].name, table[n].name) == 0) {
				SIPD_ERR("%s: script function %s() is declared twice", owner, table[n].name);
				err = EEXIST;
				goto out;
			}
		}
	}
	if ((err = grow((void **)&fns, &fn_cap, fn_count + n, sizeof(*fns))))
		goto out;
	for (; added < n; added++) {
		struct script_fn_entry *e = malloc(sizeof(*e));
		char *o = strdup(owner);
		if (!e || !o) {
			free(e);
			free(o);
			err = ENOMEM;
			break;
		}
		e->owner = o;
		e->fn = &table[added];
		fns[fn_count + added] = e;
	}
	if (err) {
		for (unsigned k = 0; k < added; k++) {
			free((char *)fns[fn_count + k]->owner);
			free(fns[fn_count + k]);
		}
		goto out;
	}
	fn_count += n;
out:
	pthread_mutex_unlock(&reg_lock);
	return err;
}

const struct script_fn_entry *script_fn_lookup(struct sipd_str name)
{
	pthread_mutex_lock(&reg_lock);
	const struct script_fn_entry *e = find_fn(name);
	pthread_mutex_unlock(&reg_lock);
	return e;
}

SIPD_API int sipd_pv_register(const char *name, bool takes_param, sipd_pv_get_fn get)
{
	int err = 0;

	if (!name || !name[0] || !get)
		return EINVAL;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_'))
			return EINVAL;
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < pv_count; i++) {
		if (strcmp(pvs[i].name, name) == 0) {
			err = EEXIST;
			goto out;
		}
	}
	if ((err = grow((void **)&pvs, &pv_cap, pv_count + 1, sizeof(*pvs))))
		goto out;
	if (!(pvs[pv_count].name = strdup(name))) {
		err = ENOMEM;
		goto out;
	}
	pvs[pv_count].takes_param = takes_param;
	pvs[pv_count].get = get;
	pv_count++;
out:
	pthread_mutex_unlock(&reg_lock);
	return err;
}

int script_pv_lookup(struct sipd_str name, bool *takes_param, sipd_pv_get_fn *get)
{
	int err = ENOENT;

	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < pv_count; i++) {
		if (sipd_str_eq(sipd_str_c(pvs[i].name), name)) {
			*takes_param = pvs[i].takes_param;
			*get = pvs[i].get;
			err = 0;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return err;
}

int script_route_intern(struct sipd_str name)
{
	int id = -1;

	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < route_count; i++) {
		if (sipd_str_eq(sipd_str_c(route_names[i]), name)) {
			id = (int)i + 2;
			goto out;
		}
	}
	if (grow((void **)&route_names, &route_cap, route_count + 1, sizeof(*route_names)))
		goto out;
	if (!(route_names[route_count] = strndup(name.p, name.len)))
		goto out;
	/* Ids 0 and 1 are the unnamed request_route and reply_route. */
	id = (int)route_count + 2;
	route_count++;
out:
	pthread_mutex_unlock(&reg_lock);
	return id;
}

void script_registry_reset(void)
{
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < fn_count; i++) {
		free((char *)fns[i]->owner);
		free(fns[i]);
	}
	free(fns);
	fns = NULL;
	fn_count = fn_cap = 0;
	for (unsigned i = 0; i < pv_count; i++)
		free(pvs[i].name);
	free(pvs);
	pvs = NULL;
	pv_count = pv_cap = 0;
	/* Route ids stay: a module may still hold one, and they only name routes. */
	pthread_mutex_unlock(&reg_lock);
}
