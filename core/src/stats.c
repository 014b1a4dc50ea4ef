/* Statistics: named counters with one slot per thread, summed when read. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>
#include <sipd/loop.h>
#include <sipd/stats.h>

#include "internal.h"

/* Counters the whole process can hold; registration fails beyond it. */
#define STATS_MAX 1024

struct sipd_stat {
	unsigned idx;
	char *name; /* "group.name" */
	char *help;
};

/*
 * One row per thread: a thread only ever writes its own row, so rows never
 * share cache lines with other writers. Adds are relaxed atomics because
 * threads past SIPD_MAX_THREADS share the last row.
 */
struct stats_row {
	_Alignas(64) int64_t v[STATS_MAX];
};

static struct stats_row rows[SIPD_MAX_THREADS];

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sipd_stat *registry[STATS_MAX];
static unsigned registry_count;

struct sipd_stat *sipd_stat_register(const char *group, const char *name, const char *help)
{
	struct sipd_stat *s = NULL;
	char *full = NULL;

	if (!group || !name || asprintf(&full, "%s.%s", group, name) < 0)
		return NULL;
	pthread_mutex_lock(&registry_lock);
	for (unsigned i = 0; i < registry_count; i++) {
		if (strcmp(registry[i]->name, full) == 0) {
			s = registry[i];
			goto out;
		}
	}
	if (registry_count == STATS_MAX) {
		SIPD_ERR("too many statistics counters (%u): %s not registered", STATS_MAX, full);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->help = strdup(help ? help : "");
	if (!s->help) {
		free(s);
		s = NULL;
		goto out;
	}
	s->idx = registry_count;
	s->name = full;
	full = NULL;
	registry[registry_count] = s;
	/* Publish after the entry is complete: stats_dump reads the count unlocked. */
	__atomic_store_n(&registry_count, registry_count + 1, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&registry_lock);
	free(full);
	return s;
}

void sipd_stat_add(struct sipd_stat *s, int64_t v)
{
	if (!s)
		return;
	__atomic_fetch_add(&rows[sipd_thread_index()].v[s->idx], v, __ATOMIC_RELAXED);
}

static int64_t sum(unsigned idx)
{
	int64_t total = 0;

	for (unsigned t = 0; t < SIPD_MAX_THREADS; t++)
		total += __atomic_load_n(&rows[t].v[idx], __ATOMIC_RELAXED);
	return total;
}

int64_t sipd_stat_read(const struct sipd_stat *s)
{
	return s ? sum(s->idx) : 0;
}

void stats_dump(json_t *obj)
{
	unsigned n = __atomic_load_n(&registry_count, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < n; i++)
		json_object_set_new(obj, registry[i]->name, json_integer(sum(i)));
}

void stats_describe(json_t *array)
{
	unsigned n = __atomic_load_n(&registry_count, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < n; i++)
		json_array_append_new(array, json_pack("{s:s, s:s, s:I}", "name", registry[i]->name, "help",
						       registry[i]->help, "value", (json_int_t)sum(i)));
}

void stats_reset_all(void)
{
	for (unsigned t = 0; t < SIPD_MAX_THREADS; t++) {
		for (unsigned i = 0; i < STATS_MAX; i++)
			__atomic_store_n(&rows[t].v[i], 0, __ATOMIC_RELAXED);
	}
}
