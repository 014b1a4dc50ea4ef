/* RFC 3263 resolution (NAPTR, SRV, A/AAAA with c-ares) on a helper thread, with a cache; results posted back.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

#define CACHE_SIZE   256
#define CACHE_TTL_MS 60000

struct job {
	struct job *next;
	char host[256];
	enum sipd_proto proto;
	uint16_t port;
	bool explicit_proto, explicit_port;
	struct sipd_loop *loop;
	tm_resolve_fn fn;
	void *arg;
	int err;
	struct sipd_dest dest;
};

struct cache_entry {
	char key[280];
	uint64_t expires;
	struct sipd_dest dest;
};

static pthread_t thread;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct job *queue;
static bool running, stopping;
static struct cache_entry cache[CACHE_SIZE];
static ares_channel channel;

/* Runs c-ares until the outstanding query is answered; only this thread uses the channel. */
static void wait_channel(void)
{
	for (;;) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM), n = 0;
		struct timeval tv, *tvp;

		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = (short)((ARES_GETSOCK_READABLE(bits, i) ? POLLIN : 0) |
					   (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0));
			if (ev)
				pfd[n++] = (struct pollfd){.fd = socks[i], .events = ev};
		}
		if (n == 0)
			return;
		tvp = ares_timeout(channel, NULL, &tv);
		if (poll(pfd, (nfds_t)n, tvp ? (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) : 1000) <= 0) {
			ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
			continue;
		}
		for (int i = 0; i < n; i++)
			ares_process_fd(channel, (pfd[i].revents & POLLIN) ? pfd[i].fd : ARES_SOCKET_BAD,
					(pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
	}
}

struct answer {
	int status;
	unsigned char *buf;
	int len;
};

static void on_query(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct answer *a = arg;

	(void)timeouts;
	a->status = status;
	if (status == ARES_SUCCESS && (a->buf = malloc((size_t)alen))) {
		memcpy(a->buf, abuf, (size_t)alen);
		a->len = alen;
	}
}

static bool query(const char *name, int type, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	ares_query(channel, name, 1 /* C_IN */, type, on_query, a);
	wait_channel();
	return a->status == ARES_SUCCESS && a->buf;
}

/* RFC 3263 4.1: NAPTR picks the transport and the SRV name when the URI names neither. */
static bool naptr(struct job *j, char *srv, size_t size)
{
	struct ares_naptr_reply *r = NULL, *best = NULL;
	struct answer a;

	if (!query(j->host, 35 /* NAPTR */, &a))
		return false;
	if (ares_parse_naptr_reply(a.buf, a.len, &r) == ARES_SUCCESS) {
		for (struct ares_naptr_reply *p = r; p; p = p->next) {
			const char *svc = (const char *)p->service;
			bool udp = !strcasecmp(svc, "SIP+D2U"), tcp = !strcasecmp(svc, "SIP+D2T");

			if ((udp || tcp) && (!best || p->order < best->order ||
					     (p->order == best->order && p->preference < best->preference)))
				best = p;
		}
		if (best) {
			j->proto = !strcasecmp((const char *)best->service, "SIP+D2T") ? SIPD_PROTO_TCP
										       : SIPD_PROTO_UDP;
			snprintf(srv, size, "%s", best->replacement);
		}
		ares_free_data(r);
	}
	free(a.buf);
	return best != NULL;
}

/* RFC 2782: lowest priority; the target and port replace the host and port. */
static bool srv(struct job *j, const char *name)
{
	struct ares_srv_reply *r = NULL, *best = NULL;
	struct answer a;

	if (!query(name, 33 /* SRV */, &a))
		return false;
	if (ares_parse_srv_reply(a.buf, a.len, &r) == ARES_SUCCESS) {
		for (struct ares_srv_reply *p = r; p; p = p->next)
			if (!best || p->priority < best->priority ||
			    (p->priority == best->priority && p->weight > best->weight))
				best = p;
		if (best) {
			snprintf(j->host, sizeof(j->host), "%s", best->host);
			j->port = best->port;
		}
		ares_free_data(r);
	}
	free(a.buf);
	return best != NULL;
}

struct addr_answer {
	int status;
	union sipd_sockaddr addr;
};

static void on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct addr_answer *a = arg;

	(void)timeouts;
	a->status = status;
	if (status == ARES_SUCCESS && res && res->nodes &&
	    res->nodes->ai_addrlen <= (ares_socklen_t)sizeof(a->addr))
		memcpy(&a->addr, res->nodes->ai_addr, res->nodes->ai_addrlen);
	else if (status == ARES_SUCCESS)
		a->status = ARES_ENODATA;
	if (res)
		ares_freeaddrinfo(res);
}

static void resolve_job(struct job *j)
{
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC};
	struct addr_answer aa = {.status = ARES_ENOTFOUND};
	char name[300];

	if (!j->explicit_port) {
		bool found = false;

		if (!j->explicit_proto && naptr(j, name, sizeof(name)))
			found = srv(j, name);
		if (!found) {
			snprintf(name, sizeof(name), "_sip._%s.%s",
				 j->proto == SIPD_PROTO_TCP ? "tcp" : "udp", j->host);
			srv(j, name);
		}
	}
	ares_getaddrinfo(channel, j->host, NULL, &hints, on_addr, &aa);
	wait_channel();
	if (aa.status != ARES_SUCCESS) {
		j->err = aa.status == ARES_ENOTFOUND || aa.status == ARES_ENODATA ? ENOENT : EHOSTUNREACH;
		return;
	}
	memset(&j->dest, 0, sizeof(j->dest));
	j->dest.proto = j->proto;
	j->dest.addr = aa.addr;
	if (aa.addr.sa.sa_family == AF_INET)
		j->dest.addr.sin.sin_port = htons(j->port);
	else
		j->dest.addr.sin6.sin6_port = htons(j->port);
	j->dest.from = tm_listen_for(j->proto, aa.addr.sa.sa_family);
	j->err = 0;
}

static void deliver(void *arg)
{
	struct job *j = arg;

	j->fn(j->arg, j->err, j->err ? NULL : &j->dest);
	free(j);
}

static void cache_key(char *key, size_t size, const struct job *j)
{
	snprintf(key, size, "%s|%d|%u|%d|%d", j->host, j->proto, j->port, j->explicit_proto,
		 j->explicit_port);
}

static struct cache_entry *cache_slot(const char *key)
{
	return &cache[tm_hash(sipd_str_c(key), 11) % CACHE_SIZE];
}

static void *resolver_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct job *j = queue;
		char key[280];

		if (!j) {
			pthread_cond_wait(&cond, &lock);
			continue;
		}
		queue = j->next;
		pthread_mutex_unlock(&lock);
		cache_key(key, sizeof(key), j);
		resolve_job(j);
		pthread_mutex_lock(&lock);
		if (!j->err) {
			struct cache_entry *e = cache_slot(key);

			snprintf(e->key, sizeof(e->key), "%s", key);
			e->expires = sipd_now_ms() + CACHE_TTL_MS;
			e->dest = j->dest;
		}
		pthread_mutex_unlock(&lock);
		if (sipd_loop_post(j->loop, deliver, j))
			free(j);
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

int tm_resolver_start(void)
{
	int err;

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS || ares_init(&channel) != ARES_SUCCESS)
		return EIO;
	stopping = false;
	if ((err = pthread_create(&thread, NULL, resolver_main, NULL))) {
		ares_destroy(channel);
		return err;
	}
	running = true;
	return 0;
}

void tm_resolver_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	running = false;
	/* Unanswered lookups hold their callers' references: hand them back as cancelled. */
	while (queue) {
		struct job *j = queue;
		queue = j->next;
		j->fn(j->arg, ECANCELED, NULL);
		free(j);
	}
	ares_destroy(channel);
	ares_library_cleanup();
}

int tm_resolve(struct sipd_str uri, struct sipd_loop *loop, tm_resolve_fn fn, void *arg)
{
	struct sipd_uri u;
	struct job *j;
	struct cache_entry *e;
	char key[280];
	int err;

	if (!running)
		return ENOTSUP;
	if (!(j = calloc(1, sizeof(*j))))
		return ENOMEM;
	if ((err = tm_uri_target(&u, uri, &j->proto, &j->port)))
		goto fail;
	if (u.host.len >= sizeof(j->host)) {
		err = ENAMETOOLONG;
		goto fail;
	}
	memcpy(j->host, u.maddr.len ? u.maddr.p : u.host.p, u.maddr.len ? u.maddr.len : u.host.len);
	j->explicit_proto = u.transport.len > 0;
	j->explicit_port = u.port != 0;
	j->loop = loop ? loop : sipd_loop_get(0);
	j->fn = fn;
	j->arg = arg;
	cache_key(key, sizeof(key), j);
	pthread_mutex_lock(&lock);
	e = cache_slot(key);
	if (!strcmp(e->key, key) && e->expires > sipd_now_ms()) {
		j->dest = e->dest;
		pthread_mutex_unlock(&lock);
		/* Posted even on a hit: the caller holds its cell lock and expects the answer later. */
		if ((err = sipd_loop_post(j->loop, deliver, j)))
			goto fail;
		return 0;
	}
	j->next = queue;
	queue = j;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return 0;
fail:
	free(j);
	return err;
}
