/*
 * The ws connection table: lookups by id and by peer address, the module's own limits (civetweb's
 * thread pool), and the registration of each connection in the tcp module's stream table (ids,
 * shared limits, `sipctl conns list`) when that service is there.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream_api.h"
#include "ws.h"

#define BUCKETS 1024

static pthread_rwlock_t table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct ws_conn **by_id, **by_ip;
static unsigned total, limit_total, limit_per_ip;
static const struct stream_api *stream; /* NULL without the tcp module */
static const struct stream_foreign_ops *foreign_ops;

void ws_conns_use_stream(const void *api, const void *ops)
{
	stream = api;
	foreign_ops = ops;
}

int ws_conns_init(unsigned max_total, unsigned max_per_ip)
{
	by_id = calloc(BUCKETS, sizeof(*by_id));
	by_ip = calloc(BUCKETS, sizeof(*by_ip));
	if (!by_id || !by_ip) {
		ws_conns_fini();
		return ENOMEM;
	}
	limit_total = max_total;
	limit_per_ip = max_per_ip;
	total = 0;
	return 0;
}

void ws_conns_fini(void)
{
	/* Connections still linked belong to civetweb threads that are gone by now (servers stopped). */
	for (unsigned i = 0; by_id && i < BUCKETS; i++)
		while (by_id[i]) {
			struct ws_conn *c = by_id[i];

			by_id[i] = c->next_id;
			c->next_id = c->next_peer = NULL;
			ws_conn_unref(c);
		}
	free(by_id);
	free(by_ip);
	by_id = by_ip = NULL;
	total = 0;
}

static unsigned ip_hash(const union sipd_sockaddr *a)
{
	const unsigned char *p;
	size_t n;
	unsigned h = 2166136261u;

	if (a->sa.sa_family == AF_INET6) {
		p = (const unsigned char *)&a->sin6.sin6_addr;
		n = 16;
	} else {
		p = (const unsigned char *)&a->sin.sin_addr;
		n = 4;
	}
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h % BUCKETS;
}

static bool same_ip(const union sipd_sockaddr *a, const union sipd_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	return !memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, sizeof(a->sin6.sin6_addr));
}

bool ws_addr_eq(const union sipd_sockaddr *a, const union sipd_sockaddr *b)
{
	return same_ip(a, b) && sipd_sockaddr_port(a) == sipd_sockaddr_port(b);
}

const char *ws_addr_str(const union sipd_sockaddr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	sipd_sockaddr_ip(a, ip, sizeof(ip));
	snprintf(buf, size, a->sa.sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, sipd_sockaddr_port(a));
	return buf;
}

/* Under the table lock. */
static int admit_locked(const union sipd_sockaddr *peer)
{
	unsigned n = 0;

	if (total >= limit_total)
		return EMFILE;
	for (struct ws_conn *c = by_ip[ip_hash(peer)]; c; c = c->next_peer)
		if (same_ip(&c->peer, peer) && ++n >= limit_per_ip)
			return EAGAIN;
	return 0;
}

int ws_conn_admit(const union sipd_sockaddr *peer)
{
	int err;

	pthread_rwlock_rdlock(&table_lock);
	err = by_id ? admit_locked(peer) : ESHUTDOWN;
	pthread_rwlock_unlock(&table_lock);
	return err;
}

int ws_conn_add(struct ws_conn **out, enum sipd_proto proto, const struct sipd_listen *ls,
		const union sipd_sockaddr *peer, void *mg)
{
	struct ws_conn *c = calloc(1, sizeof(*c));
	unsigned hi, hp;
	int err;

	if (!c)
		return ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->drained, NULL);
	c->refs = 2; /* the table's and the caller's */
	c->proto = proto;
	c->listen = ls;
	c->peer = *peer;
	c->mg = mg;
	c->created_ms = c->active_ms = sipd_now_ms();
	pthread_rwlock_wrlock(&table_lock);
	if (!by_id)
		err = ESHUTDOWN;
	else
		err = admit_locked(peer);
	if (err) {
		pthread_rwlock_unlock(&table_lock);
		c->refs = 1;
		ws_conn_unref(c);
		return err;
	}
	/* The shared stream table's limits too, and its id; else an id of the core's sequence. */
	if (stream &&
	    (err = stream->foreign_add(&c->id, proto, true, peer, ls ? &ls->addr : NULL, foreign_ops, c))) {
		pthread_rwlock_unlock(&table_lock);
		c->refs = 1;
		ws_conn_unref(c);
		return err;
	}
	c->foreign = stream != NULL;
	if (!stream)
		c->id = sipd_conn_id_next();
	hi = (unsigned)(c->id % BUCKETS);
	hp = ip_hash(peer);
	c->next_id = by_id[hi];
	by_id[hi] = c;
	c->next_peer = by_ip[hp];
	by_ip[hp] = c;
	total++;
	pthread_rwlock_unlock(&table_lock);
	*out = c;
	return 0;
}

void ws_conn_unlink(struct ws_conn *c)
{
	bool found = false;

	pthread_rwlock_wrlock(&table_lock);
	for (struct ws_conn **pp = by_id ? &by_id[c->id % BUCKETS] : NULL; pp && *pp; pp = &(*pp)->next_id)
		if (*pp == c) {
			*pp = c->next_id;
			found = true;
			break;
		}
	if (found) {
		for (struct ws_conn **pp = &by_ip[ip_hash(&c->peer)]; *pp; pp = &(*pp)->next_peer)
			if (*pp == c) {
				*pp = c->next_peer;
				break;
			}
		total--;
	}
	pthread_rwlock_unlock(&table_lock);
	if (found)
		ws_conn_unref(c);
}

void ws_conn_forget(struct ws_conn *c)
{
	/* Not under the table lock: foreign_remove waits for calls into foreign_ops to end. */
	if (c->foreign && stream)
		stream->foreign_remove(c->id);
	c->foreign = false;
}

void ws_conn_activity(struct ws_conn *c, size_t rx, size_t tx)
{
	if (c->foreign && stream)
		stream->foreign_activity(c->id, rx, tx);
}

void ws_conn_ref(struct ws_conn *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

void ws_conn_unref(struct ws_conn *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL))
		return;
	ws_asm_free(&c->asm_);
	pthread_cond_destroy(&c->drained);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct ws_conn *ws_conn_by_id(uint64_t id)
{
	struct ws_conn *c = NULL;

	pthread_rwlock_rdlock(&table_lock);
	for (c = by_id ? by_id[id % BUCKETS] : NULL; c && c->id != id; c = c->next_id)
		;
	if (c)
		ws_conn_ref(c);
	pthread_rwlock_unlock(&table_lock);
	return c;
}

struct ws_conn *ws_conn_by_peer(enum sipd_proto proto, const union sipd_sockaddr *peer)
{
	struct ws_conn *c = NULL;

	pthread_rwlock_rdlock(&table_lock);
	for (c = by_ip ? by_ip[ip_hash(peer)] : NULL; c; c = c->next_peer)
		if (c->proto == proto && ws_addr_eq(&c->peer, peer))
			break;
	if (c)
		ws_conn_ref(c);
	pthread_rwlock_unlock(&table_lock);
	return c;
}

void ws_conn_foreach(void (*fn)(struct ws_conn *c, void *arg), void *arg)
{
	struct ws_conn **all = NULL;
	unsigned n = 0;

	pthread_rwlock_rdlock(&table_lock);
	if (total && (all = malloc(total * sizeof(*all))))
		for (unsigned i = 0; i < BUCKETS; i++)
			for (struct ws_conn *c = by_id[i]; c; c = c->next_id) {
				ws_conn_ref(c);
				all[n++] = c;
			}
	pthread_rwlock_unlock(&table_lock);
	for (unsigned i = 0; i < n; i++) {
		fn(all[i], arg);
		ws_conn_unref(all[i]);
	}
	free(all);
}

unsigned ws_conn_count(void)
{
	unsigned n;

	pthread_rwlock_rdlock(&table_lock);
	n = total;
	pthread_rwlock_unlock(&table_lock);
	return n;
}
