/* Statistics counters: per-thread slots, summed when read. */
#ifndef SIPD_STATS_H
#define SIPD_STATS_H

#include <stdint.h>

#include <sipd/api.h>

struct sipd_stat;

/*
 * Registers counter group.name (call from init; the same name twice returns
 * the same counter). Returns NULL only on ENOMEM.
 */
SIPD_API struct sipd_stat *sipd_stat_register(const char *group, const char *name, const char *help);
/* Adds v (may be negative for gauges) from any thread, without locks. */
SIPD_API void sipd_stat_add(struct sipd_stat *s, int64_t v);
/* Sum over all threads. */
SIPD_API int64_t sipd_stat_read(const struct sipd_stat *s);

static inline void sipd_stat_inc(struct sipd_stat *s)
{
	sipd_stat_add(s, 1);
}

#endif
