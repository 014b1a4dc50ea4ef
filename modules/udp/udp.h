/* The udp module's shared state between its socket, receive and send files. */
#ifndef UDP_H
#define UDP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <sipd/stats.h>
#include <sipd/transport.h>

/* One bound socket per udp entry of core.listen. */
struct udp_socket {
	unsigned listen_idx;
	const struct sipd_listen *listen;
	int fd;
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
	    *rx_dropped_kernel;
	struct sipd_stat *tx_packets, *tx_errors;
};

extern struct udp_module udp_mod;

/* udp_socket.c: opens every udp listen entry (init); closes them (stop). */
int udp_sockets_open(void);
void udp_sockets_close(void);

/* udp_recv.c: watches every socket on every worker loop (start); undoes it (stop). */
int udp_recv_start(void);
void udp_recv_stop(void);

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
