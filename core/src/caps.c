/* Server-wide facts modules read: version, Server name, database path, Allow and Supported lists. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/log.h>

#include "internal.h"

struct cap_list {
	char **items;
	unsigned count;
	char *header; /* items joined with ", " */
};

static pthread_mutex_t caps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cap_list methods, options;
/*
 * Headers replaced by a later addition: a reader on another thread may
 * still hold the old pointer, so they are freed only at caps_reset.
 */
static char **retired;
static unsigned retired_count;
static char *database;

const char *sipd_version(void)
{
	return SIPD_VERSION;
}

const char *sipd_server_name(void)
{
	return "sipd/" SIPD_VERSION;
}

const char *sipd_core_database(void)
{
	return database ? database : "";
}

int core_database_set(const char *path)
{
	char *copy = strdup(path ? path : "");

	if (!copy)
		return ENOMEM;
	free(database);
	database = copy;
	return 0;
}

/* RFC 3261 token characters: methods and option tags are tokens. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("-.!%*_+`'~", *s)))
			return false;
	return true;
}

static int rebuild_header(struct cap_list *l)
{
	size_t len = 1;
	char *h, *p, **r;

	for (unsigned i = 0; i < l->count; i++)
		len += strlen(l->items[i]) + 2;
	h = malloc(len);
	if (!h)
		return ENOMEM;
	p = h;
	for (unsigned i = 0; i < l->count; i++) {
		size_t n = strlen(l->items[i]);

		if (i) {
			memcpy(p, ", ", 2);
			p += 2;
		}
		memcpy(p, l->items[i], n);
		p += n;
	}
	*p = '\0';
	if (l->header) {
		r = realloc(retired, (retired_count + 1) * sizeof(*retired));
		if (!r) {
			free(h);
			return ENOMEM;
		}
		retired = r;
		retired[retired_count++] = l->header;
	}
	l->header = h;
	return 0;
}

/* Method names compare case-sensitively (RFC 3261 7.1), option tags do not (7.3.1). */
static int cap_add(struct cap_list *l, const char *item, bool nocase)
{
	char **items = NULL, *copy = NULL;
	int err = 0;

	if (!item || !is_token(item))
		return EINVAL;
	pthread_mutex_lock(&caps_lock);
	for (unsigned i = 0; i < l->count; i++)
		if (nocase ? strcasecmp(l->items[i], item) == 0 : strcmp(l->items[i], item) == 0)
			goto out;
	copy = strdup(item);
	items = realloc(l->items, (l->count + 1) * sizeof(*items));
	if (!copy || !items) {
		if (items)
			l->items = items;
		free(copy);
		err = ENOMEM;
		goto out;
	}
	l->items = items;
	l->items[l->count++] = copy;
	err = rebuild_header(l);
	if (err)
		free(l->items[--l->count]);
out:
	pthread_mutex_unlock(&caps_lock);
	return err;
}

int sipd_allow_method(const char *method)
{
	return cap_add(&methods, method, false);
}

int sipd_support_option(const char *option_tag)
{
	return cap_add(&options, option_tag, true);
}

/* Called per request by sanity(); options are only added during init, before workers run, so no lock. */
bool sipd_option_supported(struct sipd_str tag)
{
	for (unsigned i = 0; i < options.count; i++)
		if (sipd_str_caseeq_c(tag, options.items[i]))
			return true;
	return false;
}

bool caps_method_allowed(struct sipd_str method)
{
	for (unsigned i = 0; i < methods.count; i++)
		if (sipd_str_eq(method, sipd_str_c(methods.items[i])))
			return true;
	return false;
}

const char *sipd_allow_header(void)
{
	return methods.header ? methods.header : "";
}

const char *sipd_supported_header(void)
{
	return options.header ? options.header : "";
}

static void cap_clear(struct cap_list *l)
{
	for (unsigned i = 0; i < l->count; i++)
		free(l->items[i]);
	free(l->items);
	free(l->header);
	memset(l, 0, sizeof(*l));
}

void caps_reset(void)
{
	pthread_mutex_lock(&caps_lock);
	cap_clear(&methods);
	cap_clear(&options);
	for (unsigned i = 0; i < retired_count; i++)
		free(retired[i]);
	free(retired);
	retired = NULL;
	retired_count = 0;
	free(database);
	database = NULL;
	pthread_mutex_unlock(&caps_lock);
}
