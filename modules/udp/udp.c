/* The udp module: SIP over UDP on every udp entry of core.listen. */
#include <errno.h>

#include <sipd/log.h>
#include <sipd/module.h>

#include "udp.h"

struct udp_module udp_mod = {
    .rcvbuf = 8 * 1024 * 1024,
    .sndbuf = 4 * 1024 * 1024,
    .max_message_size = 65536,
    .batch = 32,
    .drop_log_interval = 10,
};

static const struct sipd_param_def udp_params[] = {
    {.name = "rcvbuf",
     .type = SIPD_PARAM_INT,
     .var = &udp_mod.rcvbuf,
     .min = 4096,
     .max = 1 << 30,
     .help = "socket receive buffer in bytes (absorbs bursts; drops are counted by the kernel)"},
    {.name = "sndbuf",
     .type = SIPD_PARAM_INT,
     .var = &udp_mod.sndbuf,
     .min = 4096,
     .max = 1 << 30,
     .help = "socket send buffer in bytes"},
    {.name = "max_message_size",
     .type = SIPD_PARAM_INT,
     .var = &udp_mod.max_message_size,
     .min = 512,
     .max = 65536,
     .help = "largest datagram accepted; longer ones are dropped and counted"},
    {.name = "batch",
     .type = SIPD_PARAM_INT,
     .var = &udp_mod.batch,
     .min = 1,
     .max = 256,
     .help = "datagrams read per recvmmsg call"},
    {.name = "drop_log_interval",
     .type = SIPD_PARAM_INT,
     .var = &udp_mod.drop_log_interval,
     .min = 1,
     .max = 86400,
     .help = "seconds between two warnings about datagrams the kernel dropped (full receive buffer)"},
    {.name = NULL},
};

static int register_stats(void)
{
	udp_mod.rx_packets = sipd_stat_register("udp", "rx_packets", "datagrams read");
	udp_mod.rx_bytes = sipd_stat_register("udp", "rx_bytes", "bytes read");
	udp_mod.rx_dropped_oversized = sipd_stat_register("udp", "rx_dropped_oversized",
							  "datagrams dropped: longer than max_message_size");
	udp_mod.rx_dropped_empty =
	    sipd_stat_register("udp", "rx_dropped_empty", "datagrams dropped: empty or CRLF keep-alive");
	udp_mod.rx_errors = sipd_stat_register("udp", "rx_errors", "receive errors (ICMP reports)");
	udp_mod.rx_dropped_kernel = sipd_stat_register(
	    "udp", "rx_dropped_kernel", "datagrams the kernel dropped: receive buffer full (overload)");
	udp_mod.rx_handed_over = sipd_stat_register(
	    "udp", "rx_handed_over", "datagrams handed to the worker handling their call's earlier ones");
	udp_mod.tx_packets = sipd_stat_register("udp", "tx_packets", "datagrams sent");
	udp_mod.tx_errors =
	    sipd_stat_register("udp", "tx_errors", "datagrams not sent (EMSGSIZE, EAGAIN, ...)");
	if (!udp_mod.rx_packets || !udp_mod.rx_bytes || !udp_mod.rx_dropped_oversized ||
	    !udp_mod.rx_dropped_empty || !udp_mod.rx_errors || !udp_mod.rx_dropped_kernel ||
	    !udp_mod.rx_handed_over || !udp_mod.tx_packets || !udp_mod.tx_errors)
		return ENOMEM;
	return 0;
}

static int udp_init(void)
{
	int err;

	err = register_stats();
	if (err)
		goto out;
	err = udp_sockets_open();
	if (err)
		goto out;
	err = sipd_transport_register(&udp_transport);
	if (!err)
		err = sipd_transport_batch_register(&udp_transport_batch);
	if (err)
		udp_sockets_close();
out:
	return err;
}

static int udp_start(void)
{
	int err = udp_send_start();

	if (!err && (err = udp_recv_start()) != 0)
		udp_send_stop();
	return err;
}

static void udp_stop(void)
{
	udp_recv_stop();
	udp_send_stop();
	udp_sockets_close();
}

static const char *const udp_requires[] = {"parser", NULL};

SIPD_MODULE_EXPORT = {
    SIPD_MODULE_HEADER,
    .name = "udp",
    .version = "1.0",
    .description = "SIP over UDP: shared sockets read by every worker with recvmmsg",
    .requires = udp_requires,
    .params = udp_params,
    .init = udp_init,
    .start = udp_start,
    .stop = udp_stop,
};
