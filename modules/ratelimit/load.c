/* The global load: initial requests per second against load_rate, and the kernel's UDP drops. */
#include "rl.h"

/* Atomics: the second being counted, its count, and the drop counter as last read. */
static uint64_t cur_sec, cur_count;
static int64_t drops_seen;
static uint64_t drops_checked_ms, drops_until_ms;

void rl_load_init(void)
{
	cur_sec = cur_count = drops_checked_ms = drops_until_ms = 0;
	drops_seen = 0;
}

static bool count_over(uint64_t now_ms)
{
	uint64_t sec = now_ms / 1000, cur = __atomic_load_n(&cur_sec, __ATOMIC_RELAXED);

	if (sec != cur &&
	    __atomic_compare_exchange_n(&cur_sec, &cur, sec, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		__atomic_store_n(&cur_count, 0, __ATOMIC_RELAXED);
	return __atomic_add_fetch(&cur_count, 1, __ATOMIC_RELAXED) > (uint64_t)rl_cfg.load_rate;
}

/* Reads the udp module's counter every 100 ms at most; overload lasts 1 s after the last increase. */
static bool drops_over(uint64_t now_ms)
{
	uint64_t last = __atomic_load_n(&drops_checked_ms, __ATOMIC_RELAXED);

	if (now_ms >= last + 100 && __atomic_compare_exchange_n(&drops_checked_ms, &last, now_ms, false,
								__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
		int64_t d = sipd_stat_read(rl_st.udp_drops);

		if (d > __atomic_exchange_n(&drops_seen, d, __ATOMIC_RELAXED) && last)
			__atomic_store_n(&drops_until_ms, now_ms + 1000, __ATOMIC_RELAXED);
	}
	return now_ms < __atomic_load_n(&drops_until_ms, __ATOMIC_RELAXED);
}

bool rl_load_over(uint64_t now_ms)
{
	bool over = rl_cfg.load_rate > 0 && count_over(now_ms);

	return (rl_cfg.load_drops && drops_over(now_ms)) || over;
}

bool rl_log_due(uint64_t *last, uint64_t now_ms)
{
	uint64_t l = __atomic_load_n(last, __ATOMIC_RELAXED);

	if (l && now_ms < l + (uint64_t)rl_cfg.log_interval * 1000u)
		return false;
	return __atomic_compare_exchange_n(last, &l, now_ms ? now_ms : 1, false, __ATOMIC_RELAXED,
					   __ATOMIC_RELAXED);
}
