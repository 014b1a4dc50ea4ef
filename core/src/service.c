/* Versioned service registry: modules publish C APIs by name and find each other's. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/service.h>

#include "internal.h"

struct service {
	char *name;
	unsigned version;
	const void *api;
	struct service *next;
};

/* Providers run on the main thread, but require may come from any thread later. */
static pthread_mutex_t services_lock = PTHREAD_MUTEX_INITIALIZER;
static struct service *services;

static struct service *find_locked(const char *name)
{
	for (struct service *s = services; s; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

int sipd_service_provide(const char *name, unsigned version, const void *api)
{
	struct service *s = NULL;
	int err = 0;

	if (!name || !*name || !api)
		return EINVAL;

	pthread_mutex_lock(&services_lock);
	if (find_locked(name)) {
		err = EEXIST;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->name = strdup(name))) {
		free(s);
		err = ENOMEM;
		goto out;
	}
	s->version = version;
	s->api = api;
	s->next = services;
	services = s;
out:
	pthread_mutex_unlock(&services_lock);
	if (err == 0)
		SIPD_DBG("service '%s' version %u provided", name, version);
	else if (err == EEXIST)
		SIPD_ERR("service '%s' is provided twice", name);
	return err;
}

int sipd_service_require(const char *name, unsigned min_version, const void **api)
{
	const struct service *s;
	int err = 0;

	if (!name || !api)
		return EINVAL;

	pthread_mutex_lock(&services_lock);
	s = find_locked(name);
	if (!s) {
		err = ENOENT;
		goto out;
	}
	if (s->version < min_version) {
		err = EPROTO;
		goto out;
	}
	*api = s->api;
out:
	pthread_mutex_unlock(&services_lock);
	return err;
}

void service_reset(void)
{
	pthread_mutex_lock(&services_lock);
	while (services) {
		struct service *s = services;

		services = s->next;
		free(s->name);
		free(s);
	}
	pthread_mutex_unlock(&services_lock);
}
