/* Foreign connections: sockets another module owns (ws on civetweb), listed and limited with ours. */
#include <errno.h>
#include <stdlib.h>

#include <sipd/loop.h>

#include "tcp.h"

#define BUCKETS 256

struct foreign {
	struct foreign *next;
	uint64_t id;
	enum sipd_proto proto;
	bool inbound;
	bool kept;
	union sipd_sockaddr peer, local;
	const struct stream_foreign_ops *ops;
	void *arg;
	uint64_t created_ms, active_ms, rx_bytes, tx_bytes;
	int busy; /* calls into ops running outside the lock */
};

/* One lock for all: foreign connections are few next to ours, and their owners do their own I/O. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static struct foreign *table[BUCKETS];

/* lock held */
static struct foreign **find(uint64_t id)
{
	struct foreign **pp = &table[id % BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

int tcp_foreign_add(uint64_t *id, enum sipd_proto proto, bool inbound, const union sipd_sockaddr *peer,
		    const union sipd_sockaddr *local, const struct stream_foreign_ops *ops, void *arg)
{
	struct foreign *f;
	int err;

	if (!id || !peer || !ops || !ops->send)
		return EINVAL;
	if ((err = tcp_admit(peer, inbound)))
		return err;
	if (!(f = calloc(1, sizeof(*f)))) {
		tcp_release(peer, inbound);
		return ENOMEM;
	}
	f->id = sipd_conn_id_next();
	f->proto = proto;
	f->inbound = inbound;
	f->peer = *peer;
	if (local)
		f->local = *local;
	f->ops = ops;
	f->arg = arg;
	f->created_ms = f->active_ms = sipd_now_ms();
	pthread_mutex_lock(&lock);
	f->next = table[f->id % BUCKETS];
	table[f->id % BUCKETS] = f;
	pthread_mutex_unlock(&lock);
	*id = f->id;
	return 0;
}

void tcp_foreign_activity(uint64_t id, size_t rx, size_t tx)
{
	struct foreign *f;

	pthread_mutex_lock(&lock);
	if ((f = *find(id))) {
		f->rx_bytes += rx;
		f->tx_bytes += tx;
		f->active_ms = sipd_now_ms();
	}
	pthread_mutex_unlock(&lock);
}

void tcp_foreign_remove(uint64_t id)
{
	struct foreign **pp, *f;

	pthread_mutex_lock(&lock);
	pp = find(id);
	f = *pp;
	if (f) {
		*pp = f->next;
		while (f->busy)
			pthread_cond_wait(&idle, &lock);
	}
	pthread_mutex_unlock(&lock);
	if (!f)
		return;
	tcp_release(&f->peer, f->inbound);
	free(f);
}

int tcp_foreign_send(uint64_t id, const char *buf, size_t len)
{
	struct foreign *f;
	int err;

	pthread_mutex_lock(&lock);
	f = *find(id);
	if (f)
		f->busy++;
	pthread_mutex_unlock(&lock);
	if (!f)
		return ENOTCONN;
	err = f->ops->send(f->arg, buf, len);
	pthread_mutex_lock(&lock);
	if (!err) {
		f->tx_bytes += len;
		f->active_ms = sipd_now_ms();
	}
	if (--f->busy == 0)
		pthread_cond_broadcast(&idle);
	pthread_mutex_unlock(&lock);
	return err;
}

int tcp_foreign_keep(uint64_t id, bool keep)
{
	struct foreign *f;

	pthread_mutex_lock(&lock);
	if ((f = *find(id)))
		f->kept = keep;
	pthread_mutex_unlock(&lock);
	return f ? 0 : ENOENT;
}

bool tcp_foreign_alive(uint64_t id)
{
	pthread_mutex_lock(&lock);
	bool alive = *find(id) != NULL;
	pthread_mutex_unlock(&lock);
	return alive;
}

void tcp_foreign_list(json_t *arr, size_t limit, uint64_t now)
{
	char peer[INET6_ADDRSTRLEN + 8], local[INET6_ADDRSTRLEN + 8], detail[128];

	pthread_mutex_lock(&lock);
	for (unsigned i = 0; i < BUCKETS; i++)
		for (struct foreign *f = table[i]; f && json_array_size(arr) < limit; f = f->next) {
			detail[0] = '\0';
			if (f->ops->describe)
				f->ops->describe(f->arg, detail, sizeof(detail));
			json_array_append_new(
			    arr,
			    json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:s, s:b, s:s}",
				      "id", (json_int_t)f->id, "proto", sipd_proto_name(f->proto), "peer",
				      tcp_addr_str(&f->peer, peer, sizeof(peer)), "local",
				      tcp_addr_str(&f->local, local, sizeof(local)), "direction",
				      f->inbound ? "in" : "out", "age_s",
				      (json_int_t)((now - f->created_ms) / 1000), "idle_s",
				      (json_int_t)(now > f->active_ms ? (now - f->active_ms) / 1000 : 0),
				      "rx_bytes", (json_int_t)f->rx_bytes, "tx_bytes",
				      (json_int_t)f->tx_bytes, "queued", (json_int_t)0, "state", "open",
				      "kept", f->kept, "detail", detail));
		}
	pthread_mutex_unlock(&lock);
}
