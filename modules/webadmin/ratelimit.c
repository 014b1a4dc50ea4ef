/* Login rate limit: failures counted per client address and per account name in a sliding window. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "webadmin.h"

/* Keys tracked at once (addresses and accounts together); the stalest entry is reused beyond it. */
#define MAX_ENTRIES 1024

struct entry {
	char key[80]; /* "a:ADDRESS" or "u:ACCOUNT" */
	int failures;
	int64_t first;        /* start of the window */
	int64_t locked_until; /* 0: not locked */
	int64_t last;
};

static struct entry entries[MAX_ENTRIES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void key_of(char *key, size_t size, char kind, const char *name)
{
	snprintf(key, size, "%c:%s", kind, name ? name : "");
}

/* With the lock held; create picks a free or stale slot. */
static struct entry *find(const char *key, bool create, int64_t now)
{
	struct entry *free_slot = NULL, *oldest = &entries[0];

	for (unsigned i = 0; i < MAX_ENTRIES; i++) {
		struct entry *e = &entries[i];
		if (e->key[0] && strcmp(e->key, key) == 0)
			return e;
		if (!e->key[0] || (now - e->last > wa_login_window && now >= e->locked_until)) {
			if (!free_slot)
				free_slot = e;
		} else if (e->last < oldest->last) {
			oldest = e;
		}
	}
	if (!create)
		return NULL;
	struct entry *e = free_slot ? free_slot : oldest;
	memset(e, 0, sizeof(*e));
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->first = e->last = now;
	return e;
}

static int64_t wait_of(const struct entry *e, int64_t now)
{
	return e && e->locked_until > now ? e->locked_until - now : 0;
}

int64_t wa_login_blocked(const char *addr, const char *account, int64_t now)
{
	char ka[80], ku[80];
	int64_t a, u;

	key_of(ka, sizeof(ka), 'a', addr);
	key_of(ku, sizeof(ku), 'u', account);
	pthread_mutex_lock(&lock);
	a = wait_of(find(ka, false, now), now);
	u = account ? wait_of(find(ku, false, now), now) : 0;
	pthread_mutex_unlock(&lock);
	return a > u ? a : u;
}

static void count(const char *key, int64_t now)
{
	struct entry *e = find(key, true, now);

	if (now - e->first > wa_login_window) {
		e->first = now;
		e->failures = 0;
	}
	e->failures++;
	e->last = now;
	if (e->failures >= wa_login_max_failures) {
		e->locked_until = now + wa_login_lockout;
		/* After a lock-out the count starts again: one more failure does not lock at once. */
		e->failures = 0;
		e->first = now;
	}
}

void wa_login_failed(const char *addr, const char *account, int64_t now)
{
	char ka[80], ku[80];

	key_of(ka, sizeof(ka), 'a', addr);
	key_of(ku, sizeof(ku), 'u', account);
	pthread_mutex_lock(&lock);
	count(ka, now);
	if (account)
		count(ku, now);
	pthread_mutex_unlock(&lock);
}

void wa_login_succeeded(const char *addr, const char *account)
{
	char ka[80], ku[80];
	struct entry *e;

	key_of(ka, sizeof(ka), 'a', addr);
	key_of(ku, sizeof(ku), 'u', account);
	pthread_mutex_lock(&lock);
	if ((e = find(ka, false, 0)))
		memset(e, 0, sizeof(*e));
	if ((e = find(ku, false, 0)))
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&lock);
}

void wa_ratelimit_clear(void)
{
	pthread_mutex_lock(&lock);
	memset(entries, 0, sizeof(entries));
	pthread_mutex_unlock(&lock);
}
