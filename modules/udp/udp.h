/* The udp module's shared state between its socket, receive and send files. */
#ifndef UDP_H
#define UDP_H

#include <stddef.h>

#include <sipd/stats.h>
#include <sipd/transport.h>

/* One bound socket per udp entry of core.listen. */
struct udp_socket {
	unsigned listen_idx;
	const struct sipd_listen *listen;
	int fd;
};

struct udp_module {
	/* parameters */
	int rcvbuf;
	int sndbuf;
	int max_message_size;
	int batch;

	struct udp_socket *socks;
	unsigned sock_count;

	struct sipd_stat *rx_packets, *rx_bytes, *rx_dropped_oversized, *rx_dropped_empty, *rx_errors;
	struct sipd_stat *tx_packets, *tx_errors;
};

extern struct udp_module udp_mod;

/* udp_socket.c: opens every udp listen entry (init); closes them (stop). */
int udp_sockets_open(void);
void udp_sockets_close(void);

/* udp_recv.c: watches every socket on every worker loop (start); undoes it (stop). */
int udp_recv_start(void);
void udp_recv_stop(void);

/* udp_send.c: the transport registered for SIPD_PROTO_UDP. */
extern const struct sipd_transport udp_transport;

#endif
