/* The dialog table: live sessions by Call-ID and tags, per-bucket locks, one expiry timer each. */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sipd/log.h>

#include "st.h"

/*
 * A dialog holds one reference for the table while linked and one for its
 * timer while the timer is pending or its callback runs (timed). Mutable
 * fields change under the bucket lock.
 */
struct st_dialog {
	struct st_dialog *next;
	unsigned bucket;
	int refs;
	bool linked, timed;
	struct sipd_loop *loop;
	struct sipd_timer timer;
	uint64_t deadline;  /* st_sys->now() value at which the session is over; 0 untimed */
	uint64_t drop_at;   /* untimed: st_sys->now() value at which it is dropped; 0 never */
	uint64_t timer_due; /* when the pending timer fires */
	uint64_t started_wall;
	struct st_dialog_info info; /* slices point into strings */
	char strings[];
};

struct st_bucket {
	pthread_mutex_t lock;
	struct st_dialog *head;
};

uint32_t st_untimed_lifetime;

static struct st_bucket *table;
static unsigned table_mask;
static uint64_t live;  /* atomic */
static uint64_t bytes; /* atomic: heap held by dialogs (malloc_usable_size), for the memory figure */

static uint64_t real_now(void)
{
	return sipd_now_ms();
}

const struct st_sys st_sys_real = {
    .now = real_now,
    .timer_start = sipd_timer_start,
    .timer_stop = sipd_timer_stop,
    .expire = st_expire_bye,
};
const struct st_sys *st_sys = &st_sys_real;

static uint32_t hash_str(struct sipd_str s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < s.len; i++)
		h = (h ^ (unsigned char)s.p[i]) * 16777619u;
	return h;
}

int st_table_init(unsigned buckets)
{
	unsigned n = 1;

	while (n < buckets && n < (1u << 24))
		n <<= 1;
	table = calloc(n, sizeof(*table));
	if (!table)
		return ENOMEM;
	for (unsigned i = 0; i < n; i++)
		pthread_mutex_init(&table[i].lock, NULL);
	table_mask = n - 1;
	return 0;
}

static void dialog_unref(struct st_dialog *d)
{
	if (__atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		__atomic_sub_fetch(&bytes, malloc_usable_size(d), __ATOMIC_RELAXED);
		free(d);
	}
}

static void unlink_locked(struct st_bucket *b, struct st_dialog *d)
{
	struct st_dialog **pp;

	for (pp = &b->head; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	d->linked = false;
	__atomic_sub_fetch(&live, 1, __ATOMIC_RELAXED);
	sipd_stat_add(st_st.active, -1);
}

/* Stops the timer if it is pending; true when the caller now owns the timer's reference. */
static bool disarm_locked(struct st_dialog *d)
{
	if (d->timed && st_sys->timer_stop(&d->timer)) {
		d->timed = false;
		return true;
	}
	return false;
}

void st_table_destroy(void)
{
	if (!table)
		return;
	for (unsigned i = 0; i <= table_mask; i++) {
		struct st_bucket *b = &table[i];

		pthread_mutex_lock(&b->lock);
		while (b->head) {
			struct st_dialog *d = b->head;
			bool timer_ref;

			unlink_locked(b, d);
			timer_ref = disarm_locked(d);
			if (timer_ref)
				dialog_unref(d);
			dialog_unref(d);
		}
		pthread_mutex_unlock(&b->lock);
		pthread_mutex_destroy(&b->lock);
	}
	free(table);
	table = NULL;
}

static bool tags_match(const struct st_dialog *d, struct sipd_str t1, struct sipd_str t2)
{
	const struct st_dialog_info *i = &d->info;

	return (sipd_str_eq(i->caller_tag, t1) && sipd_str_eq(i->callee_tag, t2)) ||
	       (sipd_str_eq(i->caller_tag, t2) && sipd_str_eq(i->callee_tag, t1));
}

static struct st_dialog *find_locked(struct st_bucket *b, struct sipd_str call_id, struct sipd_str t1,
				     struct sipd_str t2)
{
	for (struct st_dialog *d = b->head; d; d = d->next)
		if (sipd_str_eq(d->info.call_id, call_id) && tags_match(d, t1, t2))
			return d;
	return NULL;
}

/* Makes the timer fire no later than due (a st_sys->now() value); takes its reference when not timed. */
static void timer_by_locked(struct st_dialog *d, uint64_t due)
{
	uint64_t now = st_sys->now(), ms = due > now ? due - now : 0;

	if (!d->timed) {
		__atomic_add_fetch(&d->refs, 1, __ATOMIC_RELAXED);
		d->timed = true;
		d->timer_due = due;
		st_sys->timer_start(&d->timer, d->loop, ms);
	} else if (due < d->timer_due && st_sys->timer_stop(&d->timer)) {
		d->timer_due = due;
		st_sys->timer_start(&d->timer, d->loop, ms);
	}
	/*
	 * Otherwise the timer fires no later than due (the usual refresh moves
	 * the deadline later) or its callback is running: either way the
	 * callback reads the deadline under this lock and re-arms. A refresh
	 * thus costs no timer operation on another loop.
	 */
}

/* Arms or moves the expiry to ms from now. */
static void arm_locked(struct st_dialog *d, uint64_t ms)
{
	d->deadline = st_sys->now() + ms;
	d->drop_at = 0;
	timer_by_locked(d, d->deadline);
}

/*
 * No timer negotiated: the session has no expiry. With st_untimed_lifetime
 * it is dropped (no BYE) kept_ms from now unless a refresh comes first;
 * without, it stays until its BYE.
 */
static void untimed_locked(struct st_dialog *d, uint64_t kept_ms)
{
	d->deadline = 0;
	if (!st_untimed_lifetime) {
		/* The pending timer (if any) finds neither deadline and lets go. */
		d->drop_at = 0;
		if (disarm_locked(d))
			dialog_unref(d);
		return;
	}
	d->drop_at = st_sys->now() + kept_ms;
	timer_by_locked(d, d->drop_at);
}

/* The expiry after a refresh of interval seconds (0: untimed from now on). */
static void schedule_locked(struct st_dialog *d, uint32_t interval)
{
	d->info.interval = interval;
	if (!interval) {
		untimed_locked(d, (uint64_t)st_untimed_lifetime * 1000);
		return;
	}
	arm_locked(d, st_expiry_ms(interval));
}

/* Writes the dialog as it is now (or its removal) through a DB job; under the bucket lock, so in order. */
static void persist_locked(const struct st_dialog *d, bool save)
{
	uint64_t now = st_sys->now();

	st_persist(&d->info, save,
		   !d->deadline        ? UINT64_MAX
		   : d->deadline > now ? d->deadline - now
				       : 0,
		   d->started_wall);
}

static void copy_str(struct sipd_str *dst, struct sipd_str src, char **p)
{
	if (src.len)
		memcpy(*p, src.p, src.len);
	dst->p = *p;
	dst->len = src.len;
	*p += src.len;
}

size_t st_info_strings_len(const struct st_dialog_info *in)
{
	return in->call_id.len + in->caller_tag.len + in->callee_tag.len + in->caller.len + in->callee.len +
	       in->caller_contact.len + in->callee_contact.len + in->route_caller.len + in->route_callee.len;
}

void st_info_copy(struct st_dialog_info *out, const struct st_dialog_info *in, char *strings)
{
	char *p = strings;

	*out = *in;
	copy_str(&out->call_id, in->call_id, &p);
	copy_str(&out->caller_tag, in->caller_tag, &p);
	copy_str(&out->callee_tag, in->callee_tag, &p);
	copy_str(&out->caller, in->caller, &p);
	copy_str(&out->callee, in->callee, &p);
	copy_str(&out->caller_contact, in->caller_contact, &p);
	copy_str(&out->callee_contact, in->callee_contact, &p);
	copy_str(&out->route_caller, in->route_caller, &p);
	copy_str(&out->route_callee, in->route_callee, &p);
}

static struct st_dialog *dialog_new(const struct st_dialog_info *in)
{
	struct st_dialog *d = calloc(1, sizeof(*d) + st_info_strings_len(in));

	if (!d)
		return NULL;
	st_info_copy(&d->info, in, d->strings);
	d->refs = 1;
	__atomic_add_fetch(&bytes, malloc_usable_size(d), __ATOMIC_RELAXED);
	d->started_wall = (uint64_t)time(NULL);
	sipd_timer_init(&d->timer, st_dialog_timer_fired, d);
	return d;
}

/* Links a new dialog into its bucket, on the loop that owns its timer. */
static struct st_dialog *dialog_make(const struct st_dialog_info *info, struct st_bucket **bucket)
{
	uint32_t h = hash_str(info->call_id);
	unsigned loops = sipd_loop_count();
	struct st_dialog *d = dialog_new(info);

	if (!d)
		return NULL;
	d->bucket = h & table_mask;
	/* The worker that saw the 2xx owns the timer: arming it needs no cross-thread wake-up. */
	d->loop = sipd_loop_self();
	if (!d->loop && loops)
		d->loop = sipd_loop_get((h >> 16) % loops);
	*bucket = &table[d->bucket];
	return d;
}

static void link_locked(struct st_bucket *b, struct st_dialog *d)
{
	d->next = b->head;
	b->head = d;
	d->linked = true;
	__atomic_add_fetch(&live, 1, __ATOMIC_RELAXED);
	sipd_stat_add(st_st.active, 1);
}

int st_dialog_restore(const struct st_dialog_info *info, uint64_t expires_in_ms, uint64_t started_wall)
{
	struct st_bucket *b;
	struct st_dialog *d = dialog_make(info, &b);

	if (!d)
		return ENOMEM;
	d->started_wall = started_wall;
	pthread_mutex_lock(&b->lock);
	if (find_locked(b, info->call_id, info->caller_tag, info->callee_tag)) {
		pthread_mutex_unlock(&b->lock);
		dialog_unref(d);
		return 0;
	}
	link_locked(b, d);
	if (expires_in_ms != UINT64_MAX) {
		arm_locked(d, expires_in_ms);
	} else {
		/* Its lifetime counts from its start: the time it was last refreshed is not stored. */
		uint64_t age = (uint64_t)time(NULL) > started_wall ? (uint64_t)time(NULL) - started_wall : 0,
			 life = st_untimed_lifetime;

		untimed_locked(d, age < life ? (life - age) * 1000 : 0);
	}
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int st_dialog_create(const struct st_dialog_info *info)
{
	struct st_bucket *b;
	struct st_dialog *d = dialog_make(info, &b), *old;

	if (!d)
		return ENOMEM;
	pthread_mutex_lock(&b->lock);
	old = find_locked(b, info->call_id, info->caller_tag, info->callee_tag);
	if (old) {
		/* A retransmitted 2xx: the session is the one we have. */
		schedule_locked(old, info->interval);
		old->info.refresher = info->refresher;
		persist_locked(old, true);
		pthread_mutex_unlock(&b->lock);
		dialog_unref(d);
		return 0;
	}
	link_locked(b, d);
	sipd_stat_inc(st_st.created);
	st_event_started(&d->info, d->started_wall,
			 info->interval ? st_expiry_ms(info->interval) : UINT64_MAX);
	schedule_locked(d, info->interval);
	persist_locked(d, true);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

int st_dialog_refresh(struct sipd_str call_id, struct sipd_str from_tag, struct sipd_str to_tag,
		      uint32_t interval, enum st_ref refresher, uint32_t cseq)
{
	struct st_bucket *b = &table[hash_str(call_id) & table_mask];
	struct st_dialog *d;
	int err = ENOENT;

	pthread_mutex_lock(&b->lock);
	d = find_locked(b, call_id, from_tag, to_tag);
	if (d) {
		bool from_caller = sipd_str_eq(d->info.caller_tag, from_tag);
		uint32_t *seen = from_caller ? &d->info.caller_cseq : &d->info.callee_cseq;

		if (cseq > *seen)
			*seen = cseq;
		if (refresher == ST_REF_NONE)
			d->info.refresher = ST_PARTY_NONE;
		else
			d->info.refresher =
			    (refresher == ST_REF_UAC) == from_caller ? ST_PARTY_CALLER : ST_PARTY_CALLEE;
		schedule_locked(d, interval);
		persist_locked(d, true);
		sipd_stat_inc(st_st.refreshed);
		st_event_refreshed(&d->info, d->deadline ? st_expiry_ms(interval) : UINT64_MAX);
		err = 0;
	}
	pthread_mutex_unlock(&b->lock);
	return err;
}

/* Unlinks a dialog and drops its timer; its row goes too when persist. 0 or ENOENT. */
static int take_out(struct sipd_str call_id, struct sipd_str tag1, struct sipd_str tag2, bool persist)
{
	struct st_bucket *b = &table[hash_str(call_id) & table_mask];
	struct st_dialog *d;
	bool timer_ref = false;

	pthread_mutex_lock(&b->lock);
	d = find_locked(b, call_id, tag1, tag2);
	if (d) {
		unlink_locked(b, d);
		timer_ref = disarm_locked(d);
		if (persist)
			persist_locked(d, false);
	}
	pthread_mutex_unlock(&b->lock);
	if (!d)
		return ENOENT;
	if (timer_ref)
		dialog_unref(d);
	dialog_unref(d);
	return 0;
}

int st_dialog_remove(struct sipd_str call_id, struct sipd_str tag1, struct sipd_str tag2)
{
	return take_out(call_id, tag1, tag2, true);
}

int st_dialog_forget(struct sipd_str call_id, struct sipd_str tag1, struct sipd_str tag2)
{
	return table ? take_out(call_id, tag1, tag2, false) : ENOENT;
}

/* On the dialog's loop, where its expiry would have run. */
static void end_on_loop(void *arg)
{
	struct st_dialog *d = arg;

	st_send_byes(&d->info, "SIP;cause=200;text=\"Call ended by the administrator\"");
	dialog_unref(d);
}

int st_dialog_end(struct sipd_str call_id)
{
	struct st_bucket *b = &table[hash_str(call_id) & table_mask];
	struct st_dialog *d;
	bool timer_ref = false;

	pthread_mutex_lock(&b->lock);
	for (d = b->head; d && !sipd_str_eq(d->info.call_id, call_id); d = d->next)
		;
	if (d) {
		unlink_locked(b, d);
		timer_ref = disarm_locked(d);
		persist_locked(d, false);
	}
	pthread_mutex_unlock(&b->lock);
	if (!d)
		return ENOENT;
	SIPD_NOTICE("session %.*s ended by the administrator: BYE to both parties", SIPD_STR_FMT(call_id));
	st_event_ended(d->info.call_id, "admin");
	if (timer_ref)
		dialog_unref(d);
	/* The table's reference goes with the BYEs. */
	if (!d->loop || sipd_loop_post(d->loop, end_on_loop, d) != 0)
		end_on_loop(d);
	return 0;
}

uint64_t st_dialog_count(void)
{
	return __atomic_load_n(&live, __ATOMIC_RELAXED);
}

uint64_t st_dialog_bytes(void)
{
	return __atomic_load_n(&bytes, __ATOMIC_RELAXED);
}

int st_dialog_expires_in(uint64_t *out, struct sipd_str call_id, struct sipd_str tag1, struct sipd_str tag2)
{
	struct st_bucket *b = &table[hash_str(call_id) & table_mask];
	struct st_dialog *d;
	uint64_t now = st_sys->now();
	int err = ENOENT;

	pthread_mutex_lock(&b->lock);
	d = find_locked(b, call_id, tag1, tag2);
	if (d) {
		*out = !d->deadline ? UINT64_MAX : d->deadline > now ? d->deadline - now : 0;
		err = 0;
	}
	pthread_mutex_unlock(&b->lock);
	return err;
}

void st_dialog_timer_fired(void *arg)
{
	struct st_dialog *d = arg;
	struct st_bucket *b = &table[d->bucket];
	uint64_t now = st_sys->now(), due;
	bool expired = false, dropped = false;

	pthread_mutex_lock(&b->lock);
	due = d->deadline ? d->deadline : d->drop_at;
	if (d->linked && due && now < due) {
		/* Refreshed since the timer was armed: wait for the new deadline. */
		d->timer_due = due;
		st_sys->timer_start(&d->timer, d->loop, due - now);
		pthread_mutex_unlock(&b->lock);
		return;
	}
	d->timed = false;
	if (d->linked && d->deadline) {
		unlink_locked(b, d);
		expired = true;
	} else if (d->linked && d->drop_at) {
		unlink_locked(b, d);
		persist_locked(d, false);
		dropped = true;
	}
	pthread_mutex_unlock(&b->lock);
	if (dropped) {
		SIPD_INFO("untimed session %.*s dropped: no refresh and no BYE for %u s",
			  SIPD_STR_FMT(d->info.call_id), st_untimed_lifetime);
		sipd_stat_inc(st_st.untimed_dropped);
		st_event_ended(d->info.call_id, "lifetime");
		dialog_unref(d);
	}
	if (expired) {
		SIPD_INFO("session %.*s expired (interval %u s, not refreshed)",
			  SIPD_STR_FMT(d->info.call_id), d->info.interval);
		sipd_stat_inc(st_st.expired);
		st_event_ended(d->info.call_id, "expired");
		/* Its row goes, and the BYEs follow unless another node took the session over. */
		st_persist_expire(&d->info);
		/* The table's reference: the dialog was unlinked here. */
		dialog_unref(d);
	}
	dialog_unref(d);
}

void st_dialog_foreach(void (*fn)(const struct st_dialog_info *d, uint64_t started_wall,
				  uint64_t expires_in_ms, void *arg),
		       void *arg)
{
	uint64_t now = st_sys->now();

	if (!table)
		return;
	for (unsigned i = 0; i <= table_mask; i++) {
		struct st_bucket *b = &table[i];

		pthread_mutex_lock(&b->lock);
		for (struct st_dialog *d = b->head; d; d = d->next)
			fn(&d->info, d->started_wall,
			   !d->deadline        ? UINT64_MAX
			   : d->deadline > now ? d->deadline - now
					       : 0,
			   arg);
		pthread_mutex_unlock(&b->lock);
	}
}
