/* The ratelimit module's shared state: per-source token buckets (src.c) and the global load (load.c). */
#ifndef RL_H
#define RL_H

#include <stdbool.h>
#include <stdint.h>

#include <sipd/stats.h>
#include <sipd/transport.h>

struct rl_cfg {
	int src_rate;           /* requests per second one source may send, sustained */
	int src_burst;          /* ... and at once */
	int src_table;          /* sources tracked (rounded up to a power of two, 8 per bucket) */
	const char *src_action; /* "drop" or "reply" (503 + Retry-After) */
	int load_rate;          /* initial requests per second over all sources; 0: no fixed limit */
	bool load_drops;        /* kernel drops on our UDP sockets in the last second also mean overload */
	int retry_after;        /* seconds, in the 503s */
	int log_interval;       /* seconds between two reports of the same kind */
};
extern struct rl_cfg rl_cfg;

struct rl_stats {
	struct sipd_stat *src_dropped, *src_rejected, *load_rejected, *udp_drops;
};
extern struct rl_stats rl_st;

/* ---- src.c ---- */
int rl_src_init(unsigned entries);
void rl_src_destroy(void);
/* Takes a token for addr's source at now_ms: true when within src_rate/src_burst. */
bool rl_src_take(const union sipd_sockaddr *addr, uint64_t now_ms);

/* ---- load.c ---- */
void rl_load_init(void);
/*
 * Counts one initial request at now_ms: true when the server is overloaded
 * (past load_rate in the current second, or kernel drops in the last one).
 */
bool rl_load_over(uint64_t now_ms);

/* Logs at most once per log_interval per *last (an atomic ms timestamp): true when the caller may log. */
bool rl_log_due(uint64_t *last, uint64_t now_ms);

#endif
