/* Test doubles for tm: a fake clock with manual timers, a recording transport, the real parser. */
#ifndef TM_TEST_FAKE_H
#define TM_TEST_FAKE_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parser_int.h"
#include "tm_int.h"

#define FAKE_MAX_TIMERS 256
#define FAKE_MAX_SENT   64

static uint64_t fake_clock = 1000;
static struct sipd_timer *fake_timers[FAKE_MAX_TIMERS];
static unsigned fake_ntimers;
static char *fake_sent[FAKE_MAX_SENT];
static struct sipd_dest fake_sent_dst[FAKE_MAX_SENT];
static unsigned fake_nsent;
static int fake_send_error;

static uint64_t fake_now(void)
{
	return fake_clock;
}

static bool fake_stop(struct sipd_timer *t)
{
	for (unsigned i = 0; i < fake_ntimers; i++)
		if (fake_timers[i] == t) {
			fake_timers[i] = fake_timers[--fake_ntimers];
			t->pending = false;
			return true;
		}
	return false;
}

static void fake_start(struct sipd_timer *t, uint64_t ms)
{
	fake_stop(t);
	t->expires = fake_clock + ms;
	t->pending = true;
	fake_timers[fake_ntimers++] = t;
}

static int fake_send(const struct sipd_dest *d, const char *buf, size_t len)
{
	if (fake_send_error)
		return fake_send_error;
	if (fake_nsent < FAKE_MAX_SENT) {
		fake_sent[fake_nsent] = strndup(buf, len);
		fake_sent_dst[fake_nsent++] = *d;
	}
	return 0;
}

static const struct tm_sys fake_sys = {
    .now = fake_now, .timer_start = fake_start, .timer_stop = fake_stop, .send = fake_send};

/* Moves the clock forward, firing due timers in order (as the loop would). */
static inline void fake_advance(uint64_t ms)
{
	uint64_t end = fake_clock + ms;

	for (;;) {
		struct sipd_timer *next = NULL;

		for (unsigned i = 0; i < fake_ntimers; i++)
			if (fake_timers[i]->expires <= end &&
			    (!next || fake_timers[i]->expires < next->expires))
				next = fake_timers[i];
		if (!next)
			break;
		fake_stop(next);
		if (next->expires > fake_clock)
			fake_clock = next->expires;
		next->fn(next->arg);
	}
	fake_clock = end;
}

static void fake_clear_sent(void)
{
	for (unsigned i = 0; i < fake_nsent; i++)
		free(fake_sent[i]);
	fake_nsent = 0;
}

/* How many sent messages start with prefix. */
static inline unsigned fake_count(const char *prefix)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fake_nsent; i++)
		n += !strncmp(fake_sent[i], prefix, strlen(prefix));
	return n;
}

static const struct sipd_parser_api fake_parser_api = {
    .parse = parser_parse,
    .free = parser_free,
    .frame_length = parser_frame_length,
    .check_request = parser_check_request,
    .uri_parse = parser_uri_parse,
};

static struct sipd_listen fake_listen = {.proto = SIPD_PROTO_UDP, .host = "127.0.0.1", .port = 5060};

static inline void fake_setup(void)
{
	fake_clock = 1000;
	fake_ntimers = 0;
	fake_send_error = 0;
	fake_clear_sent();
	tm_sys = &fake_sys;
	tm_parser = &fake_parser_api;
	tm_cfg = (struct tm_cfg){.t1 = 500, .t2 = 4000, .t4 = 5000, .timer_c = 180000, .buckets = 64};
	tm_stats_init();
	tm_table_init(64);
	fake_listen.addr.sin.sin_family = AF_INET;
	fake_listen.addr.sin.sin_port = htons(5060);
	inet_pton(AF_INET, "127.0.0.1", &fake_listen.addr.sin.sin_addr);
}

static inline struct sipd_rcvinfo fake_rcv(enum sipd_proto proto)
{
	struct sipd_rcvinfo r = {
	    .proto = proto, .listen = &fake_listen, .conn_id = proto == SIPD_PROTO_UDP ? 0 : 7};

	r.src.sin.sin_family = AF_INET;
	r.src.sin.sin_port = htons(5999);
	inet_pton(AF_INET, "127.0.0.1", &r.src.sin.sin_addr);
	return r;
}

/* Parses text (its buffer must outlive the message). */
static inline struct sipd_msg *fake_msg(const char *text, const struct sipd_rcvinfo *rcv)
{
	struct sipd_msg *m = NULL;

	if (parser_parse(&m, text, strlen(text), rcv, NULL))
		return NULL;
	return m;
}

#define REQ(method, branch, cseq_method)                                                                     \
	method " sip:bob@127.0.0.1:5070 SIP/2.0\r\n"                                                         \
	       "Via: SIP/2.0/UDP 127.0.0.1:5999;branch=" branch ";rport\r\n"                                 \
	       "From: <sip:alice@127.0.0.1>;tag=a1\r\n"                                                      \
	       "To: <sip:bob@127.0.0.1>\r\n"                                                                 \
	       "Call-ID: call-1@test\r\n"                                                                    \
	       "CSeq: 1 " cseq_method "\r\n"                                                                 \
	       "Max-Forwards: 70\r\n"                                                                        \
	       "Content-Length: 0\r\n\r\n"

#endif
