/* The stream protocols served: plain tcp, the layers (tls) and framers (ws, wss) other modules register, with
 * their counters. */
#include <errno.h>
#include <string.h>

#include <sipd/log.h>

#include "tcp.h"

#define PROTO_SLOTS TCP_PROTO_SLOTS

/* Filled by init hooks on the main thread before any worker runs, read-only afterwards. */
static struct tcp_proto *protos[PROTO_SLOTS];
static struct tcp_proto tcp_plain = {.proto = SIPD_PROTO_TCP, .name = "tcp"};
static struct tcp_proto layered[PROTO_SLOTS];

struct stat_def {
	size_t off;
	const char *name, *help;
};

#define STAT(field, name, help)                                                                              \
	{                                                                                                    \
		offsetof(struct tcp_counters, field), name, help                                             \
	}

static const struct stat_def stat_defs[] = {
    STAT(open, "connections_open", "connections open now (gauge)"),
    STAT(accepted, "accepted", "inbound connections accepted"),
    STAT(connected, "connected", "outbound connections established"),
    STAT(closed_idle, "closed_idle", "closed after idle_timeout"),
    STAT(closed_read_timeout, "closed_read_timeout", "closed: a message did not complete in read_timeout"),
    STAT(closed_write_timeout, "closed_write_timeout", "closed: the peer did not read for write_timeout"),
    STAT(closed_error, "closed_error",
	 "closed on a socket error, failed connect or handshake, or bad framing"),
    STAT(closed_limit, "closed_limit", "closed: max_write_queue or max_message_size exceeded"),
    STAT(closed_peer, "closed_peer", "closed by the peer (EOF)"),
    STAT(rejected_limit, "rejected_limit", "refused: max_connections or max_connections_per_ip"),
    STAT(rx_messages, "rx_messages", "SIP messages received"),
    STAT(bad_framing, "bad_framing", "messages without valid Content-Length or too large"),
    STAT(keepalive_pongs, "keepalive_pongs", "CRLFCRLF pings answered with CRLF"),
    STAT(write_queue_full, "write_queue_full", "sends refused because max_write_queue was reached"),
    STAT(bytes_queued, "bytes_queued", "bytes the socket could not take at once (back-pressure)"),
    STAT(bytes_dropped, "bytes_dropped", "queued bytes dropped when their connection closed"),
    STAT(spread, "spread", "messages handed to another worker by their Call-ID (spread)"),
};

static int register_stats(struct tcp_proto *p)
{
	for (size_t i = 0; i < sizeof(stat_defs) / sizeof(stat_defs[0]); i++) {
		struct sipd_stat **slot = (struct sipd_stat **)((char *)&p->st + stat_defs[i].off);

		*slot = sipd_stat_register(p->name, stat_defs[i].name, stat_defs[i].help);
		if (!*slot)
			return ENOMEM;
	}
	if (p->layer || (p->framer && p->framer->layer_proto != SIPD_PROTO_NONE)) {
		p->st.handshake_failed =
		    sipd_stat_register(p->name, "handshake_failed",
				       "handshakes that failed or timed out (also in closed_error)");
		if (!p->st.handshake_failed)
			return ENOMEM;
	}
	return 0;
}

static int serve(struct tcp_proto *p)
{
	int err;

	p->transport = (struct sipd_transport){.proto = p->proto, .name = p->name, .send = tcp_send};
	if (!p->framer) {
		p->idle_ms = (uint64_t)tcp_cfg.idle_timeout * 1000;
		p->max_input = (size_t)tcp_cfg.max_message_size;
	}
	if ((err = register_stats(p)))
		return err;
	if ((err = sipd_transport_register(&p->transport))) {
		SIPD_ERR("cannot register the %s transport: %s", p->name, strerror(err));
		return err;
	}
	if ((err = tcp_listeners_open_proto(p)))
		return err;
	protos[p->proto] = p;
	return 0;
}

int tcp_protos_init(void)
{
	memset(protos, 0, sizeof(protos));
	memset(layered, 0, sizeof(layered));
	return serve(&tcp_plain);
}

struct tcp_proto *tcp_proto_get(enum sipd_proto p)
{
	return p > SIPD_PROTO_NONE && p < PROTO_SLOTS ? protos[p] : NULL;
}

int tcp_layer_register(const struct stream_layer *layer)
{
	struct tcp_proto *p;

	if (!layer || !layer->name || !layer->open || !layer->handshake || !layer->read || !layer->write ||
	    !layer->close || layer->proto <= SIPD_PROTO_NONE || layer->proto >= PROTO_SLOTS)
		return EINVAL;
	if (protos[layer->proto])
		return EEXIST;
	p = &layered[layer->proto];
	*p = (struct tcp_proto){.proto = layer->proto, .name = layer->name, .layer = layer};
	return serve(p);
}

int tcp_framer_register(const struct stream_framer *fr)
{
	struct tcp_proto *p;

	if (!fr || !fr->name || !fr->open || !fr->input || !fr->frame || !fr->close ||
	    (fr->keepalive_ms && !fr->keepalive) || (fr->idle_timeout_ms && !fr->idle) ||
	    fr->proto <= SIPD_PROTO_NONE || fr->proto >= PROTO_SLOTS || fr->max_input < 1024)
		return EINVAL;
	if (protos[fr->proto])
		return EEXIST;
	p = &layered[fr->proto];
	*p = (struct tcp_proto){.proto = fr->proto,
				.name = fr->name,
				.framer = fr,
				.idle_ms = fr->idle_timeout_ms,
				.max_input = fr->max_input};
	return serve(p);
}

static bool has_listen(enum sipd_proto proto)
{
	for (unsigned i = 0; i < sipd_listen_count(); i++)
		if (sipd_listen_get(i)->proto == proto)
			return true;
	return false;
}

int tcp_protos_resolve(void)
{
	for (unsigned i = 0; i < PROTO_SLOTS; i++) {
		struct tcp_proto *p = protos[i], *under;

		if (!p || !p->framer || p->framer->layer_proto == SIPD_PROTO_NONE)
			continue;
		under = tcp_proto_get(p->framer->layer_proto);
		p->layer = under ? under->layer : NULL;
		if (!p->layer && has_listen(p->proto)) {
			SIPD_ERR("%s: listen entries need the %s module loaded (its certificate serves them)",
				 p->name, sipd_proto_name(p->framer->layer_proto));
			return ENOTSUP;
		}
	}
	return 0;
}
