/* Send-time lateness histogram: 10 µs buckets up to 2 ms, then 1 ms buckets up to 62 ms. */
#include <string.h>

#include "media_int.h"

#define FINE_BUCKETS 200 /* 0 .. 1999 µs */
#define FINE_US      10

static unsigned bucket_of(uint64_t us)
{
	if (us < FINE_BUCKETS * FINE_US)
		return (unsigned)(us / FINE_US);
	uint64_t b = FINE_BUCKETS + (us - FINE_BUCKETS * FINE_US) / 1000;
	return b >= RTC_JITTER_BUCKETS ? RTC_JITTER_BUCKETS - 1 : (unsigned)b;
}

/* The upper edge of a bucket, reported as the percentile value. */
static uint32_t bucket_top(unsigned b)
{
	if (b < FINE_BUCKETS)
		return (b + 1) * FINE_US;
	return FINE_BUCKETS * FINE_US + (b - FINE_BUCKETS + 1) * 1000;
}

void rtc_jitter_record(struct rtc_jitter_hist *h, uint64_t late_us)
{
	/* one writer per histogram (its media thread): relaxed is enough */
	atomic_fetch_add_explicit(&h->counts[bucket_of(late_us)], 1, memory_order_relaxed);
	uint32_t v = late_us > UINT32_MAX ? UINT32_MAX : (uint32_t)late_us;
	if (v > atomic_load_explicit(&h->max_us, memory_order_relaxed))
		atomic_store_explicit(&h->max_us, v, memory_order_relaxed);
}

void rtc_jitter_clear(struct rtc_jitter_hist *h)
{
	for (unsigned i = 0; i < RTC_JITTER_BUCKETS; i++)
		atomic_store_explicit(&h->counts[i], 0, memory_order_relaxed);
	atomic_store_explicit(&h->max_us, 0, memory_order_relaxed);
}

static uint32_t percentile(const uint64_t *sum, uint64_t total, double q)
{
	uint64_t want = (uint64_t)((double)total * q), seen = 0;

	if (want >= total)
		want = total - 1;
	for (unsigned b = 0; b < RTC_JITTER_BUCKETS; b++) {
		seen += sum[b];
		if (seen > want)
			return bucket_top(b);
	}
	return bucket_top(RTC_JITTER_BUCKETS - 1);
}

void rtc_jitter_summarise(struct rtc_media_jitter *out, struct rtc_jitter_hist *const *hists, unsigned n)
{
	uint64_t sum[RTC_JITTER_BUCKETS], total = 0;
	uint32_t max = 0;

	memset(sum, 0, sizeof(sum));
	for (unsigned i = 0; i < n; i++) {
		for (unsigned b = 0; b < RTC_JITTER_BUCKETS; b++)
			sum[b] += atomic_load_explicit(&hists[i]->counts[b], memory_order_relaxed);
		uint32_t m = atomic_load_explicit(&hists[i]->max_us, memory_order_relaxed);
		if (m > max)
			max = m;
	}
	for (unsigned b = 0; b < RTC_JITTER_BUCKETS; b++)
		total += sum[b];
	memset(out, 0, sizeof(*out));
	out->packets = total;
	out->max_us = max;
	if (total == 0)
		return;
	/* a bucket's top edge can pass the largest value seen */
	out->p50_us = percentile(sum, total, 0.50);
	out->p99_us = percentile(sum, total, 0.99);
	out->p999_us = percentile(sum, total, 0.999);
	if (out->p50_us > max)
		out->p50_us = max;
	if (out->p99_us > max)
		out->p99_us = max;
	if (out->p999_us > max)
		out->p999_us = max;
}
