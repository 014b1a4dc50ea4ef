/* RFC 3263 resolution (NAPTR, SRV, A/AAAA with c-ares) on a helper thread, with a cache; results posted back.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <sipd/log.h>

#include "tm_int.h"

#define CACHE_SIZE   256
#define CACHE_TTL_MS 60000
/*
 * One resolver thread serves every lookup, and c-ares' defaults (5 s, 4 tries,
 * doubling) would hold it for over a minute per dead server: a SIP
 * transaction cannot wait that long anyway (Timer B is 32 s).
 */
#define QUERY_TIMEOUT_MS 1000
#define QUERY_TRIES      2

struct job {
	struct job *next;
	char host[256];
	enum sipd_proto proto;
	uint16_t port;
	bool explicit_proto, explicit_port, sips;
	struct sipd_loop *loop;
	tm_resolve_fn fn;
	void *arg;
	int err;
	/* The SRV targets in the order to try them (RFC 2782), then their addresses (4.3). */
	struct {
		char host[256];
		uint16_t port;
	} srvs[TM_MAX_TARGETS];
	unsigned nsrv, ndest;
	struct sipd_dest dests[TM_MAX_TARGETS];
};

struct cache_entry {
	char key[280];
	uint64_t expires;
	unsigned ndest;
	struct sipd_dest dests[TM_MAX_TARGETS];
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
		unsigned bits = (unsigned)ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
		int n = 0;
		struct timeval tv, *tvp;

		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			/* c-ares' ARES_GETSOCK_* macros shift a signed 1 into the sign bit: test the bits
			 * unsigned. */
			short ev = (short)((bits & (1u << i) ? POLLIN : 0) |
					   (bits & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0));
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

/* An ares status as the errno tm_resolve's callback gets. */
static int status_errno(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
	case ARES_ENODATA:
		return ENOENT;
	case ARES_ETIMEOUT:
		return ETIMEDOUT;
	default:
		return EHOSTUNREACH;
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
	if (status == ARES_SUCCESS) {
		if (!(a->buf = malloc((size_t)alen))) {
			a->status = ARES_ENOMEM;
			return;
		}
		memcpy(a->buf, abuf, (size_t)alen);
		a->len = alen;
	}
}

/* 0 with the answer in a->buf (the caller frees it), or the errno of status_errno(). */
static int query(const char *name, int type, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	a->status = ARES_ENOTFOUND;
	ares_query(channel, name, 1 /* C_IN */, type, on_query, a);
	wait_channel();
	return a->status == ARES_SUCCESS ? 0 : status_errno(a->status);
}

/* Whether we can send over proto with a socket of that very family (any family when family is 0). */
static bool can_send(enum sipd_proto proto, int family)
{
	const struct sipd_listen *l = tm_listen_for(proto, family ? family : AF_INET);

	return l && (!family || l->addr.sa.sa_family == family);
}

/*
 * RFC 3263 4.1: NAPTR picks the transport and the SRV name when the URI names
 * neither; only "S" records of transports we listen on count, and a sips URI
 * takes nothing but SIPS+D2T (never a downgrade to plain UDP or TCP).
 * 0 with srv filled, ENOENT when no record fits, ENXIO when the name does
 * not exist, or a DNS failure.
 */
static int naptr(struct job *j, char *srv, size_t size)
{
	struct ares_naptr_reply *r = NULL, *best = NULL;
	enum sipd_proto best_proto = SIPD_PROTO_NONE;
	struct answer a;
	int err;

	/* NXDOMAIN for the host itself: no SRV or address record can follow. */
	if ((err = query(j->host, 35 /* NAPTR */, &a)))
		return a.status == ARES_ENOTFOUND ? ENXIO : err;
	if (ares_parse_naptr_reply(a.buf, a.len, &r) == ARES_SUCCESS) {
		for (struct ares_naptr_reply *p = r; p; p = p->next) {
			const char *svc = (const char *)p->service;
			enum sipd_proto proto = SIPD_PROTO_NONE;

			if (strcasecmp((const char *)p->flags, "s") || !p->replacement || !*p->replacement)
				continue;
			if (!strcasecmp(svc, "SIPS+D2T"))
				proto = SIPD_PROTO_TLS;
			else if (!j->sips && !strcasecmp(svc, "SIP+D2T"))
				proto = SIPD_PROTO_TCP;
			else if (!j->sips && !strcasecmp(svc, "SIP+D2U"))
				proto = SIPD_PROTO_UDP;
			if (proto == SIPD_PROTO_NONE || !can_send(proto, 0))
				continue;
			if (!best || p->order < best->order ||
			    (p->order == best->order && p->preference < best->preference)) {
				best = p;
				best_proto = proto;
			}
		}
		if (best) {
			j->proto = best_proto;
			snprintf(srv, size, "%s", best->replacement);
		}
		ares_free_data(r);
	}
	free(a.buf);
	return best ? 0 : ENOENT;
}

/* A target of "." says the service is decidedly not there (RFC 2782). */
static bool srv_usable(const struct ares_srv_reply *p)
{
	return p->host && *p->host && strcmp(p->host, ".");
}

/*
 * RFC 2782: among the records of the lowest priority, a random pick weighted
 * by weight; zero-weight records go first in the running sum, so they are
 * chosen only when the draw is 0 (or when every weight is 0).
 */
struct ares_srv_reply *tm_srv_pick(struct ares_srv_reply *r)
{
	unsigned prio = UINT_MAX, sum = 0, run = 0, draw;

	for (struct ares_srv_reply *p = r; p; p = p->next)
		if (srv_usable(p) && p->priority < prio)
			prio = p->priority;
	if (prio == UINT_MAX)
		return NULL;
	for (struct ares_srv_reply *p = r; p; p = p->next)
		if (srv_usable(p) && p->priority == prio)
			sum += p->weight;
	draw = sum ? arc4random_uniform(sum + 1) : 0;
	for (int weighted = 0; weighted < 2; weighted++)
		for (struct ares_srv_reply *p = r; p; p = p->next) {
			if (!srv_usable(p) || p->priority != prio || (p->weight != 0) != weighted)
				continue;
			run += p->weight;
			if (run >= draw)
				return p;
		}
	return NULL;
}

unsigned tm_srv_order(struct ares_srv_reply **out, unsigned max, struct ares_srv_reply *r)
{
	struct ares_srv_reply *all[64], *head = r, *p;
	unsigned n = 0, k = 0;

	for (p = r; p && n < 64; p = p->next)
		all[n++] = p;
	/* Pick, unlink the pick, pick again: each round is RFC 2782's selection among what is left. */
	while (k < max && (p = tm_srv_pick(head))) {
		struct ares_srv_reply **link = &head;

		out[k++] = p;
		while (*link != p)
			link = &(*link)->next;
		*link = p->next;
	}
	/* The chain as it came, for ares_free_data(). */
	for (unsigned i = 0; i + 1 < n; i++)
		all[i]->next = all[i + 1];
	if (n)
		all[n - 1]->next = NULL;
	return k;
}

/* The SRV targets replace host and port, in order: 0, ENOENT (no usable record) or a DNS failure. */
static int srv(struct job *j, const char *name)
{
	struct ares_srv_reply *r = NULL, *order[TM_MAX_TARGETS];
	struct answer a;
	int err;

	if ((err = query(name, 33 /* SRV */, &a)))
		return err;
	j->nsrv = 0;
	if (ares_parse_srv_reply(a.buf, a.len, &r) == ARES_SUCCESS) {
		j->nsrv = tm_srv_order(order, TM_MAX_TARGETS, r);
		for (unsigned i = 0; i < j->nsrv; i++) {
			snprintf(j->srvs[i].host, sizeof(j->srvs[i].host), "%s", order[i]->host);
			j->srvs[i].port = order[i]->port;
		}
		ares_free_data(r);
	}
	free(a.buf);
	return j->nsrv ? 0 : ENOENT;
}

/* The URI's own host and port as the one target (no SRV). */
static void srv_self(struct job *j)
{
	snprintf(j->srvs[0].host, sizeof(j->srvs[0].host), "%s", j->host);
	j->srvs[0].port = j->port;
	j->nsrv = 1;
}

/* "_sip._udp.host", "_sip._tcp.host" or "_sips._tcp.host" for the job's transport. */
static int srv_for_proto(struct job *j)
{
	char name[300];

	snprintf(name, sizeof(name), "%s._%s.%s", j->proto == SIPD_PROTO_TLS ? "_sips" : "_sip",
		 j->proto == SIPD_PROTO_UDP ? "udp" : "tcp", j->host);
	return srv(j, name);
}

/*
 * RFC 3263 4.1, 4.2: with an explicit port only A/AAAA; else NAPTR (when the
 * transport is open too), else SRV for the transport (without NAPTR: UDP,
 * then TCP if we have it), else A/AAAA on port 5060/5061. A failed DNS server
 * ends the lookup: the next query would only wait as long again.
 */
static int find_target(struct job *j)
{
	char name[300];
	int err;

	if (j->explicit_port) {
		srv_self(j);
		return 0;
	}
	if (!j->explicit_proto) {
		if ((err = naptr(j, name, sizeof(name))) == 0 && (err = srv(j, name)) == 0)
			return 0;
		if (err == ENXIO)
			return ENOENT;
		if (err != ENOENT)
			return err;
	}
	if ((err = srv_for_proto(j)) != ENOENT)
		return err;
	if (!j->explicit_proto && j->proto == SIPD_PROTO_UDP && can_send(SIPD_PROTO_TCP, 0)) {
		j->proto = SIPD_PROTO_TCP;
		if ((err = srv_for_proto(j)) != ENOENT)
			return err;
		j->proto = SIPD_PROTO_UDP;
	}
	/* No SRV: the URI's host on the default port of the transport we ended with (4.2). */
	j->port = j->proto == SIPD_PROTO_TLS ? 5061 : 5060;
	srv_self(j);
	return 0;
}

struct addr_answer {
	int status;
	struct job *j;
	uint16_t port;
};

static void add_dest(struct job *j, const struct ares_addrinfo_node *n, uint16_t port)
{
	struct sipd_dest *d = &j->dests[j->ndest++];

	memset(d, 0, sizeof(*d));
	d->proto = j->proto;
	memcpy(&d->addr, n->ai_addr, n->ai_addrlen);
	if (d->addr.sa.sa_family == AF_INET)
		d->addr.sin.sin_port = htons(port);
	else
		d->addr.sin6.sin6_port = htons(port);
	d->from = tm_listen_for(j->proto, d->addr.sa.sa_family);
}

/* Every address of a family we have a listener of, in the answer's order; else the first one. */
static void on_addr(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct addr_answer *a = arg;
	struct ares_addrinfo_node *first = NULL;
	unsigned before = a->j->ndest;

	(void)timeouts;
	a->status = status;
	for (struct ares_addrinfo_node *n = res ? res->nodes : NULL;
	     n && status == ARES_SUCCESS && a->j->ndest < TM_MAX_TARGETS; n = n->ai_next) {
		if (n->ai_addrlen > (ares_socklen_t)sizeof(a->j->dests[0].addr))
			continue;
		if (!first)
			first = n;
		if (can_send(a->j->proto, n->ai_family))
			add_dest(a->j, n, a->port);
	}
	if (a->j->ndest == before && first)
		add_dest(a->j, first, a->port);
	else if (a->j->ndest == before && status == ARES_SUCCESS)
		a->status = ARES_ENODATA;
	if (res)
		ares_freeaddrinfo(res);
}

/* RFC 3263 4.3: the addresses of each SRV target in turn; the first failure is the answer if none has one. */
static void resolve_job(struct job *j)
{
	struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC};
	int first_err = 0;

	if ((j->err = find_target(j)))
		return;
	j->ndest = 0;
	for (unsigned i = 0; i < j->nsrv && j->ndest < TM_MAX_TARGETS; i++) {
		struct addr_answer aa = {.status = ARES_ENOTFOUND, .j = j, .port = j->srvs[i].port};

		ares_getaddrinfo(channel, j->srvs[i].host, NULL, &hints, on_addr, &aa);
		wait_channel();
		if (aa.status != ARES_SUCCESS && !first_err)
			first_err = status_errno(aa.status);
		/* A DNS server that fails would fail the next target as slowly. */
		if (aa.status != ARES_SUCCESS && status_errno(aa.status) != ENOENT)
			break;
	}
	j->err = j->ndest ? 0 : (first_err ? first_err : ENOENT);
}

static void deliver(void *arg)
{
	struct job *j = arg;

	j->fn(j->arg, j->err, j->err ? NULL : j->dests, j->err ? 0 : j->ndest);
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
			e->ndest = j->ndest;
			memcpy(e->dests, j->dests, sizeof(e->dests));
		}
		pthread_mutex_unlock(&lock);
		/* No loop to answer on (shutting down): the caller's reference comes back all the same. */
		if (sipd_loop_post(j->loop, deliver, j)) {
			j->fn(j->arg, ECANCELED, NULL, 0);
			free(j);
		}
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* One entry of dns_servers: "1.2.3.4", "1.2.3.4:53", "::1" or "[::1]:53". */
static bool server_ok(const char *e, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8], *host = buf, *port = NULL, *end;
	unsigned char bin[sizeof(struct in6_addr)];

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, e, len);
	buf[len] = '\0';
	if (buf[0] == '[') {
		if (!(end = strchr(buf, ']')) || (end[1] && end[1] != ':'))
			return false;
		*end = '\0';
		host = buf + 1;
		port = end[1] ? end + 2 : NULL;
		if (inet_pton(AF_INET6, host, bin) != 1)
			return false;
	} else if (inet_pton(AF_INET6, buf, bin) != 1) {
		if ((port = strchr(buf, ':')))
			*port++ = '\0';
		if (inet_pton(AF_INET, buf, bin) != 1)
			return false;
	}
	if (port) {
		unsigned long v;

		if (*port < '0' || *port > '9')
			return false;
		v = strtoul(port, &end, 10);
		if (*end || v == 0 || v > 65535)
			return false;
	}
	return true;
}

int tm_dns_servers_check(const char *csv)
{
	const char *p = csv;

	if (!csv || !*csv)
		return 0;
	for (;;) {
		size_t len = strcspn(p, ",");

		if (!server_ok(p, len)) {
			SIPD_ERR("dns_servers = \"%s\": \"%.*s\" is not an IP address with an optional port "
				 "(ip[:port][,ip[:port]...], IPv6 as [addr]:port)",
				 csv, (int)len, p);
			return EINVAL;
		}
		if (!p[len])
			return 0;
		p += len + 1;
	}
}

int tm_resolver_start(void)
{
	struct ares_options o = {.timeout = QUERY_TIMEOUT_MS, .tries = QUERY_TRIES};
	const char *servers = tm_cfg.dns_servers;
	bool have_channel = false;
	int err = EIO, st;

	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return EIO;
	if ((st = ares_init_options(&channel, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES)) != ARES_SUCCESS) {
		SIPD_ERR("cannot set up c-ares: %s", ares_strerror(st));
		goto out;
	}
	have_channel = true;
	if (servers && *servers && (st = ares_set_servers_ports_csv(channel, servers)) != ARES_SUCCESS) {
		SIPD_ERR("dns_servers = \"%s\" refused by c-ares: %s", servers, ares_strerror(st));
		err = EINVAL;
		goto out;
	}
	stopping = false;
	if ((err = pthread_create(&thread, NULL, resolver_main, NULL)))
		goto out;
	running = true;
	SIPD_DBG("resolver on %s", servers && *servers ? servers : "the system's DNS servers");
out:
	if (err) {
		if (have_channel)
			ares_destroy(channel);
		ares_library_cleanup();
	}
	return err;
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
		j->fn(j->arg, ECANCELED, NULL, 0);
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
	j->sips = u.scheme == SIPD_URI_SIPS;
	j->loop = loop ? loop : sipd_loop_get(0);
	j->fn = fn;
	j->arg = arg;
	cache_key(key, sizeof(key), j);
	pthread_mutex_lock(&lock);
	e = cache_slot(key);
	if (!strcmp(e->key, key) && e->expires > sipd_now_ms()) {
		j->ndest = e->ndest;
		memcpy(j->dests, e->dests, sizeof(j->dests));
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
