/* The udp module's shared state between its socket, receive and send files. */
#ifndef UDP_H
#define UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sipd/stats.h>
#include <sipd/transport.h>

struct udp_order;

/* One bound socket per udp entry of core.listen. */
struct udp_socket {
	unsigned listen_idx;
	const struct sipd_listen *listen;
	int fd;
	struct udp_order *order; /* udp_order.c: its read lock and its calls in progress (two workers or more) */
	/* udp_drops.c, atomic: the kernel's drop total last seen, when and at what total it was logged */
	uint32_t drops_seen, drops_at_log;
	uint64_t drops_logged_ms;
};

struct udp_module {
	/* parameters */
	int rcvbuf;
	int sndbuf;
	int max_message_size;
	int batch;
	int drop_log_interval; /* seconds between two reports of kernel drops */

	struct udp_socket *socks;
	unsigned sock_count;

	struct sipd_stat *rx_packets, *rx_bytes, *rx_dropped_oversized, *rx_dropped_empty, *rx_errors,
	    *rx_dropped_kernel, *rx_handed_over;
	struct sipd_stat *tx_packets, *tx_errors;
};

extern struct udp_module udp_mod;

/* udp_socket.c: opens every udp listen entry (init); closes them (stop). */
int udp_sockets_open(void);
void udp_sockets_close(void);

/* udp_recv.c: watches every socket on every worker loop (start); undoes it (stop). */
int udp_recv_start(void);
void udp_recv_stop(void);

/*
 * udp_order.c: the datagrams of one Call-ID, read from one socket by several
 * workers, are handled one at a time in the order they came. Calls go to
 * UDP_ORDER_STRIPES stripes by a hash of the Call-ID.
 */
#define UDP_ORDER_STRIPES 4096
int udp_order_new(struct udp_order **out);
void udp_order_free(struct udp_order *o);
/* Around reading a batch and claiming its datagrams: readers take turns. */
void udp_order_read_begin(struct udp_order *o);
void udp_order_read_end(struct udp_order *o);
/* The stripe of a datagram's Call-ID (read before parsing; one stripe for those without). */
uint32_t udp_order_key(const char *buf, size_t len);
/*
 * Between read_begin and read_end: claims a datagram of stripe key read by
 * worker me. Returns the worker to handle it: me with *queue false when none
 * of the stripe's earlier datagrams is still being handled (handle it now);
 * otherwise the worker handling them, with *queue true (post it to that
 * worker, even when that is me, before read_end).
 */
unsigned udp_order_claim(struct udp_order *o, uint32_t key, unsigned me, bool *queue);
/* After a claimed datagram was handled (or dropped). */
void udp_order_done(struct udp_order *o, uint32_t key);

/* udp_drops.c: asks the kernel for its drop counter on fd (SO_RXQ_OVFL); 0 or errno (logged). */
int udp_drops_enable(int fd, const char *name);
/* The drop total a received datagram carries (0 when none was attached). */
uint32_t udp_drops_cmsg(const struct msghdr *h);
/* Accounts for a drop total read on s: counts the increase, logs once per drop_log_interval. */
void udp_drops_seen(struct udp_socket *s, uint32_t total);

/* udp_send.c: the transport registered for SIPD_PROTO_UDP, and its batched sending for the worker loops. */
extern const struct sipd_transport udp_transport;
extern const struct sipd_transport_batch udp_transport_batch;
/* One queue per worker loop (start, before the loops run); freed after they stopped (stop). */
int udp_send_start(void);
void udp_send_stop(void);

/* udp_batch.c: datagrams queued by one thread, sent together with sendmmsg in queue order. */
#define UDP_BATCH_MSGS  64
#define UDP_BATCH_BYTES 65536
struct udp_batch;
/* What a flush did: datagrams sent, datagrams not sent, and the errno of the last failure. */
struct udp_batch_result {
	unsigned sent, failed;
	int err;
};
int udp_batch_new(struct udp_batch **out);
void udp_batch_free(struct udp_batch *b);
unsigned udp_batch_count(const struct udp_batch *b);
/*
 * Queues a copy of buf for to on fd, flushing first when the batch is full (res says what that
 * flush did). 0, or EMSGSIZE when buf or to does not fit a batch: the caller sends it alone.
 */
int udp_batch_add(struct udp_batch *b, int fd, const union sipd_sockaddr *to, socklen_t tolen,
		  const char *buf, size_t len, struct udp_batch_result *res);
/* Sends everything queued, in order (one sendmmsg per run of the same socket), and empties b. */
void udp_batch_flush(struct udp_batch *b, struct udp_batch_result *res);

#endif
