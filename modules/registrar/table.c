/* The binding table: AOR records in a hash with one lock per bucket, so workers rarely meet. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/stats.h>
#include <sipd/transport.h>

#include <sipd/event.h>

#include "registrar.h"

struct bucket {
	pthread_mutex_t lock;
	struct reg_aor *head;
};

static struct bucket *buckets;
static unsigned nbuckets;
struct sipd_stat *reg_st_bindings;

static unsigned hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % nbuckets;
}

int reg_table_init(unsigned n)
{
	nbuckets = n ? n : 1;
	if (!(buckets = calloc(nbuckets, sizeof(*buckets))))
		return ENOMEM;
	for (unsigned i = 0; i < nbuckets; i++)
		pthread_mutex_init(&buckets[i].lock, NULL);
	return 0;
}

static void aor_free(struct reg_aor *a)
{
	while (a->contacts) {
		struct reg_contact *c = a->contacts;

		a->contacts = c->next;
		reg_contact_free(c);
	}
	free(a->aor);
	free(a);
}

void reg_table_fini(void)
{
	for (unsigned i = 0; buckets && i < nbuckets; i++) {
		while (buckets[i].head) {
			struct reg_aor *a = buckets[i].head;

			buckets[i].head = a->next;
			aor_free(a);
		}
		pthread_mutex_destroy(&buckets[i].lock);
	}
	free(buckets);
	buckets = NULL;
}

struct reg_aor *reg_table_lock(const char *aor, bool create)
{
	struct bucket *b = &buckets[hash(aor)];
	struct reg_aor *a;

	pthread_mutex_lock(&b->lock);
	for (a = b->head; a; a = a->next)
		if (strcmp(a->aor, aor) == 0)
			return a;
	if (!create)
		return NULL;
	if (!(a = calloc(1, sizeof(*a))) || !(a->aor = strdup(aor))) {
		free(a);
		return NULL;
	}
	a->next = b->head;
	b->head = a;
	return a;
}

void reg_table_unlock(const char *aor)
{
	pthread_mutex_unlock(&buckets[hash(aor)].lock);
}

void reg_table_each(void (*fn)(struct reg_aor *a, void *arg), void *arg)
{
	for (unsigned i = 0; i < nbuckets; i++) {
		pthread_mutex_lock(&buckets[i].lock);
		for (struct reg_aor *a = buckets[i].head; a; a = a->next)
			fn(a, arg);
		pthread_mutex_unlock(&buckets[i].lock);
	}
}

unsigned reg_table_expire(int64_t now, struct reg_expired *expired)
{
	unsigned gone = 0;

	for (unsigned i = 0; i < nbuckets; i++) {
		pthread_mutex_lock(&buckets[i].lock);
		/* Records stay when empty: lookup() then knows the AOR registered once (480, not 404). */
		for (struct reg_aor *a = buckets[i].head; a; a = a->next) {
			for (const struct reg_contact *c = a->contacts; c && sipd_event_wanted(); c = c->next)
				if (c->expires <= now)
					reg_events_publish(
					    json_pack("[o]", reg_event_removed(a->aor, c->uri, "expired")));
			gone += reg_aor_expire(a, now, expired);
		}
		pthread_mutex_unlock(&buckets[i].lock);
	}
	if (gone)
		sipd_stat_add(reg_st_bindings, -(int64_t)gone);
	return gone;
}

int reg_aor_key(char *buf, size_t size, const struct sipd_uri *uri)
{
	size_t n;

	if (!uri->user.len || (uri->scheme != SIPD_URI_SIP && uri->scheme != SIPD_URI_SIPS))
		return EINVAL;
	if (!reg_use_domain) {
		n = (size_t)snprintf(buf, size, "%.*s", SIPD_STR_FMT(uri->user));
	} else {
		n = (size_t)snprintf(buf, size, "%.*s@%.*s", SIPD_STR_FMT(uri->user),
				     SIPD_STR_FMT(uri->host));
		/* Host names are case-insensitive (RFC 3261 19.1.4); the user part is not. */
		for (size_t i = uri->user.len + 1; i < n && i < size; i++)
			if (buf[i] >= 'A' && buf[i] <= 'Z')
				buf[i] = (char)(buf[i] + 32);
	}
	if (n >= size)
		return ENAMETOOLONG;
	/* A NUL inside the user part would make two AORs one key. */
	if (memchr(uri->user.p, '\0', uri->user.len))
		return EINVAL;
	return 0;
}

bool reg_domain_is_ours(const struct sipd_uri *uri)
{
	/* The domain is the host: a port in the Request-URI does not make it someone else's (10.3 step 1). */
	if (sipd_is_myself(uri->host, uri->port))
		return true;
	for (unsigned i = 0; i < sipd_listen_count(); i++)
		if (sipd_is_myself(uri->host, sipd_listen_get(i)->port))
			return true;
	return false;
}
