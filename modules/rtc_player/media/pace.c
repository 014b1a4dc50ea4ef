/* The pacing wheel: 20 one-millisecond slots; a session stays in the slot of its start time. */
#include <string.h>

#include "media_int.h"

void rtc_pace_init(struct rtc_pace *p)
{
	memset(p, 0, sizeof(*p));
	for (unsigned i = 0; i < RTC_PACE_SLOTS; i++)
		p->slots[i].next = p->slots[i].prev = &p->slots[i];
}

void rtc_pace_add(struct rtc_pace *p, struct rtc_pace_entry *e, uint64_t due_ms)
{
	unsigned slot = (unsigned)(due_ms % RTC_PACE_SLOTS);
	struct rtc_pace_entry *head = &p->slots[slot];

	if (e->linked)
		rtc_pace_remove(p, e);
	e->due_ms = due_ms;
	e->prev = head->prev;
	e->next = head;
	head->prev->next = e;
	head->prev = e;
	e->linked = true;
	p->counts[slot]++;
	p->total++;
}

void rtc_pace_remove(struct rtc_pace *p, struct rtc_pace_entry *e)
{
	if (!e->linked)
		return;
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = e->prev = NULL;
	e->linked = false;
	p->counts[e->due_ms % RTC_PACE_SLOTS]--;
	p->total--;
}

static void run_slot(struct rtc_pace *p, unsigned slot, uint64_t now_ms, rtc_pace_fn fn, void *arg)
{
	struct rtc_pace_entry *head = &p->slots[slot], *e = head->next, *next;

	while (e != head) {
		next = e->next; /* fn may unlink e */
		if (e->due_ms <= now_ms) {
			unsigned periods = fn(e, now_ms, arg);

			/* the period equals the wheel's size, so e keeps its slot */
			if (e->linked)
				e->due_ms += (uint64_t)(periods ? periods : 1) * RTC_PACE_PERIOD;
		}
		e = next;
	}
}

void rtc_pace_run(struct rtc_pace *p, uint64_t last_ms, uint64_t now_ms, rtc_pace_fn fn, void *arg)
{
	uint64_t from = last_ms + 1;

	if (now_ms < from)
		return;
	if (now_ms - from >= RTC_PACE_SLOTS)
		from = now_ms - RTC_PACE_SLOTS + 1;
	for (uint64_t t = from; t <= now_ms; t++) {
		unsigned slot = (unsigned)(t % RTC_PACE_SLOTS);

		if (p->counts[slot])
			run_slot(p, slot, now_ms, fn, arg);
	}
}

uint64_t rtc_pace_next(const struct rtc_pace *p, uint64_t now_ms)
{
	if (p->total == 0)
		return UINT64_MAX;
	/* entries of one slot are due at times congruent to the slot, so the
	 * next non-empty slot is the next time anything can be due */
	for (uint64_t t = now_ms + 1; t <= now_ms + RTC_PACE_SLOTS; t++)
		if (p->counts[t % RTC_PACE_SLOTS])
			return t;
	return UINT64_MAX;
}
