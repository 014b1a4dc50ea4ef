/* Connection objects: reference counts, the id and peer-address hashes, limits, closing. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sipd/log.h>

#include "tcp.h"

#define CONN_BUCKETS 4096
#define IP_BUCKETS   1024

struct bucket {
	pthread_mutex_t lock;
	struct tcp_conn *head;
};

/* Inbound connections per source IP, for max_connections_per_ip (and per protocol, for a framer's own). */
struct ip_count {
	struct ip_count *next;
	union sipd_sockaddr ip; /* port zeroed */
	int count;
	int per_proto[TCP_PROTO_SLOTS];
};

/* Connections over the limits kept only for their framer to say so (each until its handshake timeout). */
#define MAX_REFUSING 64

static struct bucket *by_id, *by_peer;
static struct ip_count *ip_counts[IP_BUCKETS];
static pthread_mutex_t ip_lock = PTHREAD_MUTEX_INITIALIZER;
static int total;    /* atomic; live connections, both directions */
static int refusing; /* atomic; connections not admitted, being told so */
static bool shutting_down;

static uint32_t hash_bytes(const void *p, size_t n, uint32_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static uint32_t hash_ip(const union sipd_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET6)
		return hash_bytes(&a->sin6.sin6_addr, 16, 2166136261u);
	return hash_bytes(&a->sin.sin_addr, 4, 2166136261u);
}

static uint32_t hash_peer(const union sipd_sockaddr *a)
{
	uint16_t port = sipd_sockaddr_port(a);
	return hash_bytes(&port, sizeof(port), hash_ip(a));
}

static bool ip_eq(const union sipd_sockaddr *a, const union sipd_sockaddr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET6)
		return memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr, 16) == 0;
	return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
}

bool tcp_addr_eq(const union sipd_sockaddr *a, const union sipd_sockaddr *b)
{
	return ip_eq(a, b) && sipd_sockaddr_port(a) == sipd_sockaddr_port(b);
}

const char *tcp_addr_str(const union sipd_sockaddr *a, char *buf, size_t size)
{
	char ip[INET6_ADDRSTRLEN];

	if (a->sa.sa_family != AF_INET && a->sa.sa_family != AF_INET6) {
		snprintf(buf, size, "-");
		return buf;
	}
	sipd_sockaddr_ip(a, ip, sizeof(ip));
	snprintf(buf, size, a->sa.sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, sipd_sockaddr_port(a));
	return buf;
}

int tcp_conns_init(void)
{
	by_id = calloc(CONN_BUCKETS, sizeof(*by_id));
	by_peer = calloc(CONN_BUCKETS, sizeof(*by_peer));
	if (!by_id || !by_peer) {
		free(by_id);
		free(by_peer);
		by_id = by_peer = NULL;
		return ENOMEM;
	}
	for (unsigned i = 0; i < CONN_BUCKETS; i++) {
		pthread_mutex_init(&by_id[i].lock, NULL);
		pthread_mutex_init(&by_peer[i].lock, NULL);
	}
	shutting_down = false;
	return 0;
}

/* Takes one slot of max_connections and, for inbound ones, of max_connections_per_ip; p's own when it has
 * them. */
int tcp_admit(struct tcp_proto *p, const union sipd_sockaddr *peer, bool inbound)
{
	const struct stream_framer *fr = p->framer;
	int err = 0;

	if (__atomic_add_fetch(&total, 1, __ATOMIC_RELAXED) > tcp_cfg.max_connections) {
		__atomic_sub_fetch(&total, 1, __ATOMIC_RELAXED);
		return EMFILE;
	}
	if (__atomic_add_fetch(&p->count, 1, __ATOMIC_RELAXED) >
	    (fr && fr->max_connections ? fr->max_connections : INT32_MAX)) {
		err = EMFILE;
		goto undo_total;
	}
	if (!inbound)
		return 0;

	struct ip_count **slot = &ip_counts[hash_ip(peer) % IP_BUCKETS], *e;
	pthread_mutex_lock(&ip_lock);
	for (e = *slot; e && !ip_eq(&e->ip, peer); e = e->next)
		;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			err = ENOMEM;
			goto out;
		}
		e->ip = *peer;
		e->next = *slot;
		*slot = e;
	}
	if (e->count >= tcp_cfg.max_connections_per_ip ||
	    (fr && fr->max_connections_per_ip && e->per_proto[p->proto] >= fr->max_connections_per_ip)) {
		err = EAGAIN;
		goto out;
	}
	e->count++;
	e->per_proto[p->proto]++;
out:
	pthread_mutex_unlock(&ip_lock);
	if (!err)
		return 0;
	__atomic_sub_fetch(&p->count, 1, __ATOMIC_RELAXED);
undo_total:
	__atomic_sub_fetch(&total, 1, __ATOMIC_RELAXED);
	return err;
}

void tcp_release(struct tcp_proto *p, const union sipd_sockaddr *peer, bool inbound)
{
	__atomic_sub_fetch(&total, 1, __ATOMIC_RELAXED);
	__atomic_sub_fetch(&p->count, 1, __ATOMIC_RELAXED);
	if (!inbound)
		return;
	struct ip_count **pp = &ip_counts[hash_ip(peer) % IP_BUCKETS];
	pthread_mutex_lock(&ip_lock);
	for (; *pp; pp = &(*pp)->next) {
		struct ip_count *e = *pp;
		if (!ip_eq(&e->ip, peer))
			continue;
		e->per_proto[p->proto]--;
		if (--e->count == 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&ip_lock);
}

/* A new connection on fd, with its layer's and framer's state when the protocol has them. */
static int conn_new(struct tcp_conn **out, struct tcp_proto *p, int fd, const union sipd_sockaddr *peer,
		    struct sipd_loop *loop, bool outbound, const char *server_name, int refused)
{
	struct tcp_conn *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return ENOMEM;
	if (p->framer && (err = p->framer->open(&c->fstate, refused))) {
		free(c);
		return err;
	}
	if (p->layer && (err = p->layer->open(&c->io, fd, outbound, server_name))) {
		if (p->framer)
			p->framer->close(c->fstate);
		free(c);
		return err;
	}
	c->admitted = !refused;
	c->id = sipd_conn_id_next();
	c->proto = p;
	c->st = &p->st;
	c->refs = 1; /* the "linked" reference, dropped by tcp_conn_close */
	c->fd = fd;
	c->state = outbound ? TCP_ST_CONNECTING : p->layer ? TCP_ST_HANDSHAKE : TCP_ST_OPEN;
	c->outbound = outbound;
	c->loop = loop;
	c->peer = *peer;
	pthread_mutex_init(&c->lock, NULL);
	tcp_writeq_init(&c->wq);
	tcp_timer_init(c);
	c->created_ms = c->active_ms = c->wprogress_ms = c->rx_ms = sipd_now_ms();
	if (c->state == TCP_ST_HANDSHAKE)
		c->hs_start_ms = c->created_ms;
	sipd_stat_inc(c->st->open);
	*out = c;
	return 0;
}

static void link_id(struct tcp_conn *c)
{
	struct bucket *b = &by_id[c->id % CONN_BUCKETS];
	pthread_mutex_lock(&b->lock);
	c->next_id = b->head;
	b->head = c;
	pthread_mutex_unlock(&b->lock);
}

/* Peer bucket lock held. */
static void link_peer_locked(struct bucket *b, struct tcp_conn *c)
{
	c->next_peer = b->head;
	b->head = c;
}

static void unlink_all(struct tcp_conn *c)
{
	struct bucket *b = &by_id[c->id % CONN_BUCKETS];
	pthread_mutex_lock(&b->lock);
	for (struct tcp_conn **pp = &b->head; *pp; pp = &(*pp)->next_id)
		if (*pp == c) {
			*pp = c->next_id;
			break;
		}
	pthread_mutex_unlock(&b->lock);

	b = &by_peer[hash_peer(&c->peer) % CONN_BUCKETS];
	pthread_mutex_lock(&b->lock);
	for (struct tcp_conn **pp = &b->head; *pp; pp = &(*pp)->next_peer)
		if (*pp == c) {
			*pp = c->next_peer;
			break;
		}
	pthread_mutex_unlock(&b->lock);
}

int tcp_conn_accepted(struct tcp_conn **out, struct tcp_proto *p, int fd, const union sipd_sockaddr *peer,
		      struct sipd_loop *loop, const struct sipd_listen *ls)
{
	struct tcp_conn *c;
	int refused = tcp_admit(p, peer, true), err;
	/* A framed protocol answers the refusal in its own terms (HTTP 503), a few at a time. */
	if (refused && (!p->framer || __atomic_add_fetch(&refusing, 1, __ATOMIC_RELAXED) > MAX_REFUSING)) {
		if (p->framer)
			__atomic_sub_fetch(&refusing, 1, __ATOMIC_RELAXED);
		return refused;
	}
	if ((err = conn_new(&c, p, fd, peer, loop, false, NULL, refused))) {
		if (refused)
			__atomic_sub_fetch(&refusing, 1, __ATOMIC_RELAXED);
		else
			tcp_release(p, peer, true);
		return err;
	}
	c->listen = ls;
	if (refused)
		sipd_stat_inc(p->st.rejected_limit);
	socklen_t sl = sizeof(c->local);
	if (getsockname(fd, &c->local.sa, &sl) != 0)
		memset(&c->local, 0, sizeof(c->local));
	link_id(c);
	struct bucket *b = &by_peer[hash_peer(peer) % CONN_BUCKETS];
	pthread_mutex_lock(&b->lock);
	link_peer_locked(b, c);
	pthread_mutex_unlock(&b->lock);
	*out = c;
	return 0;
}

void tcp_conn_ref(struct tcp_conn *c)
{
	__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
}

void tcp_conn_unref(struct tcp_conn *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	tcp_writeq_clear(&c->wq);
	tcp_framer_free(&c->fr);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct tcp_conn *tcp_conn_by_id(uint64_t id)
{
	struct bucket *b = &by_id[id % CONN_BUCKETS];
	struct tcp_conn *c;

	pthread_mutex_lock(&b->lock);
	for (c = b->head; c && c->id != id; c = c->next_id)
		;
	if (c)
		tcp_conn_ref(c);
	pthread_mutex_unlock(&b->lock);
	return c;
}

int tcp_conn_by_peer_or_new(struct tcp_conn **out, bool *created, struct tcp_proto *p,
			    const union sipd_sockaddr *peer, const char *server_name, struct sipd_loop *loop)
{
	struct bucket *b = &by_peer[hash_peer(peer) % CONN_BUCKETS];
	struct tcp_conn *c;
	int err = 0;

	pthread_mutex_lock(&b->lock);
	/*
	 * The newest usable one (accepted connections are aliases of their
	 * source address); one about to close is passed over for a new one.
	 */
	for (c = b->head; c; c = c->next_peer) {
		uint8_t st = __atomic_load_n(&c->state, __ATOMIC_ACQUIRE);
		if (c->proto == p &&
		    (st == TCP_ST_OPEN || st == TCP_ST_CONNECTING || st == TCP_ST_HANDSHAKE) &&
		    !TCP_LOAD(c->peer_eof) && !TCP_LOAD(c->close_posted) && tcp_addr_eq(&c->peer, peer))
			break;
	}
	if (c) {
		tcp_conn_ref(c);
		*created = false;
		goto out;
	}
	/* Nothing connects out with a framer (a browser cannot be called): its connection is gone. */
	if (p->framer) {
		err = ENOTCONN;
		goto out;
	}
	err = tcp_admit(p, peer, false);
	if (err)
		goto out;
	int fd = socket(peer->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		tcp_release(p, peer, false);
		goto out;
	}
	/* Without a name the layer checks the certificate against the address itself. */
	char ip[INET6_ADDRSTRLEN];
	if (!server_name && p->layer)
		server_name = sipd_sockaddr_ip(peer, ip, sizeof(ip));
	if ((err = conn_new(&c, p, fd, peer, loop, true, server_name, 0))) {
		close(fd);
		tcp_release(p, peer, false);
		goto out;
	}
	c->listen = tcp_listener_for(p->proto, peer->sa.sa_family);
	link_id(c);
	link_peer_locked(b, c);
	tcp_conn_ref(c);
	*created = true;
out:
	pthread_mutex_unlock(&b->lock);
	if (!err)
		*out = c;
	return err;
}

const char *tcp_conn_state_name(const struct tcp_conn *c)
{
	switch (c->state) {
	case TCP_ST_CONNECTING:
		return "connecting";
	case TCP_ST_HANDSHAKE:
		return "handshake";
	case TCP_ST_OPEN:
		return TCP_LOAD(c->peer_eof) ? "half-closed" : "open";
	case TCP_ST_CLOSING:
		return "closing";
	default:
		return "closed";
	}
}

/*
 * Closing with unread input makes the kernel send RST, which can destroy
 * the error answer still in flight: say FIN first and discard what waits.
 */
static void drain_before_close(int fd)
{
	char sink[4096];

	shutdown(fd, SHUT_WR);
	for (int i = 0; i < 64 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
}

void tcp_conn_close(struct tcp_conn *c, struct sipd_stat *counter, int err, const char *why)
{
	char peer[INET6_ADDRSTRLEN + 8];

	pthread_mutex_lock(&c->lock);
	if (c->state == TCP_ST_CLOSED) {
		pthread_mutex_unlock(&c->lock);
		return;
	}
	bool was_connecting = c->state == TCP_ST_CONNECTING || c->state == TCP_ST_HANDSHAKE;
	__atomic_store_n(&c->state, TCP_ST_CLOSED, __ATOMIC_RELEASE);
	size_t dropped = tcp_writeq_clear(&c->wq);
	if (err == EBADMSG && c->io)
		tcp_io_close(c); /* close_notify before the FIN below */
	pthread_mutex_unlock(&c->lock);

	unlink_all(c);
	if (c->watch)
		sipd_io_remove(c->watch);
	c->watch = NULL;
	if (err == EBADMSG)
		drain_before_close(c->fd);
	/* The layer's state goes with the fd: every use of it checks the state under the lock first. */
	pthread_mutex_lock(&c->lock);
	tcp_io_close(c);
	close(c->fd);
	c->fd = -1;
	if (c->fstate)
		c->proto->framer->close(c->fstate);
	c->fstate = NULL;
	pthread_mutex_unlock(&c->lock);
	tcp_timer_stop(c);
	if (c->admitted)
		tcp_release(c->proto, &c->peer, !c->outbound);
	else
		__atomic_sub_fetch(&refusing, 1, __ATOMIC_RELAXED);

	sipd_stat_add(c->st->open, -1);
	if (counter)
		sipd_stat_inc(counter);
	if (dropped)
		sipd_stat_add(c->st->bytes_dropped, (int64_t)dropped);

	tcp_addr_str(&c->peer, peer, sizeof(peer));
	if (err && err != EBADMSG) /* bad framing was logged when found */
		SIPD_INFO("%s connection %llu %s %s closed: %s (%s), %zu bytes unsent", c->proto->name,
			  (unsigned long long)c->id, c->outbound ? "to" : "from", peer, why, strerror(err),
			  dropped);
	else
		SIPD_DBG("%s connection %llu %s %s closed: %s, %zu bytes unsent", c->proto->name,
			 (unsigned long long)c->id, c->outbound ? "to" : "from", peer, why, dropped);

	/*
	 * Let tm fail the transactions whose messages died here; over a framed
	 * protocol also those waiting for an answer: nothing can reach that peer again.
	 * A connection that only carried responses has none waiting (tm scans its whole
	 * table for them, too much per call when every call brings its own connection).
	 */
	if (!shutting_down && (dropped || was_connecting ||
			       (c->proto->framer && TCP_LOAD(c->ready) && TCP_LOAD(c->sent_request)))) {
		struct sipd_dest dst = {
		    .proto = c->proto->proto, .addr = c->peer, .from = c->listen, .conn_id = c->id};
		sipd_transport_error(&dst, err ? err : ECONNRESET);
	}
	tcp_conn_unref(c);
}

static void posted_close(void *arg)
{
	struct tcp_conn *c = arg;

	tcp_conn_close(c, c->close_counter, c->close_err, c->close_why);
	tcp_conn_unref(c);
}

void tcp_conn_close_async(struct tcp_conn *c, struct sipd_stat *counter, int err, const char *why)
{
	pthread_mutex_lock(&c->lock);
	bool post = c->state != TCP_ST_CLOSED && !c->close_posted;
	if (post) {
		TCP_STORE(c->close_posted, true); /* read unlocked by the loop */
		c->close_err = err;
		c->close_counter = counter;
		c->close_why = why;
		tcp_conn_ref(c);
	}
	pthread_mutex_unlock(&c->lock);
	if (post && sipd_loop_post(c->loop, posted_close, c) != 0) {
		SIPD_ERR("connection %llu: cannot post its close", (unsigned long long)c->id);
		tcp_conn_unref(c);
	}
}

void tcp_conn_foreach(void (*fn)(struct tcp_conn *c, void *arg), void *arg)
{
	for (unsigned i = 0; by_id && i < CONN_BUCKETS; i++) {
		pthread_mutex_lock(&by_id[i].lock);
		for (struct tcp_conn *c = by_id[i].head; c; c = c->next_id)
			fn(c, arg);
		pthread_mutex_unlock(&by_id[i].lock);
	}
}

/* Runs after the loops stopped: nothing else touches the connections. */
void tcp_conns_shutdown(void)
{
	if (!by_id)
		return;
	shutting_down = true;
	for (unsigned i = 0; i < CONN_BUCKETS; i++)
		while (by_id[i].head)
			tcp_conn_close(by_id[i].head, NULL, 0, "shutdown");
	for (unsigned i = 0; i < CONN_BUCKETS; i++) {
		pthread_mutex_destroy(&by_id[i].lock);
		pthread_mutex_destroy(&by_peer[i].lock);
	}
	free(by_id);
	free(by_peer);
	by_id = by_peer = NULL;
}
