/* sipload UAC: paced calls INVITE -> 100/180/200 -> ACK + BYE -> 200, with per-call timings and outcome. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipload.h"

enum { CALL_IDLE, CALL_INVITING, CALL_BYE, CALL_OK, CALL_FAILED, CALL_TIMEOUT };

struct call {
	uint64_t t0;                          /* INVITE queued (µs) */
	uint32_t ring_us, setup_us, total_us; /* INVITE -> 180, -> 200, -> BYE's 200 */
	uint8_t state;
	struct sl_conn *conn; /* per-call mode: its own connection (a reference) */
};

struct sl_uac_stats sl_uac;
static struct call *calls;
static uint32_t n_calls, started, oldest, inflight;
static struct sl_conn *shared;
static uint64_t t_begin;
static char sdp[256], ruri[96], tp[8], tp_lower[8];
static size_t sdp_len;

static void call_end(uint32_t idx, uint8_t outcome, uint64_t now)
{
	struct call *k = &calls[idx];

	if (k->state != CALL_INVITING && k->state != CALL_BYE)
		return;
	k->state = outcome;
	inflight--;
	if (outcome == CALL_OK) {
		sl_uac.ok++;
		k->total_us = (uint32_t)(now - k->t0);
	} else if (outcome == CALL_FAILED) {
		sl_uac.failed++;
	} else {
		sl_uac.timeout++;
	}
	if (k->conn) {
		struct sl_conn *c = k->conn;

		k->conn = NULL;
		sl_conn_close(c);
		sl_conn_unref(c);
	}
}

void sl_uac_init(void)
{
	const char *t[] = {"TCP", "TLS", "WS", "WSS"}, *tl[] = {"tcp", "tls", "ws", "ws"};

	n_calls = (uint32_t)(sl_cfg.rate * sl_cfg.duration + 0.5);
	calls = calloc(n_calls ? n_calls : 1, sizeof(*calls));
	if (!calls) {
		fprintf(stderr, "sipload: out of memory for %u calls\n", n_calls);
		exit(2);
	}
	strcpy(tp, t[sl_cfg.proto]);
	strcpy(tp_lower, tl[sl_cfg.proto]);
	snprintf(ruri, sizeof(ruri), "sip:%s@%s:%d", sl_cfg.user, sl_cfg.host, sl_cfg.port);
	sdp_len = (size_t)snprintf(sdp, sizeof(sdp),
				   "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
				   "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"
				   "a=rtpmap:0 PCMU/8000\r\n");
}

/* Connects the shared connection (one-connection mode); calls start once it is open. */
int sl_uac_start(void)
{
	if (sl_cfg.per_call)
		return 0;
	return sl_conn_connect(&shared, SL_ROLE_UAC, 0);
}

#define ADD(s)     (memcpy(p, (s), strlen(s)), p += strlen(s))
#define ADDN(s, n) (memcpy(p, (s), (n)), p += (n))

static size_t tag_and_id(char *p, uint32_t idx)
{
	char *s = p;

	p += sl_u32toa(p, idx);
	*p++ = '-';
	p += sl_u32toa(p, sl_uac.run_id);
	return (size_t)(p - s);
}

static void send_invite(struct sl_conn *c, uint32_t idx)
{
	char msg[1400], id[24], clen[12], *p = msg;
	size_t idl = tag_and_id(id, idx);

	ADD("INVITE ");
	ADD(ruri);
	ADD(" SIP/2.0\r\nVia: SIP/2.0/");
	ADD(tp);
	*p++ = ' ';
	ADD(c->sent_by);
	ADD(";branch=z9hG4bK-i");
	ADDN(id, idl);
	ADD(";rport\r\nFrom: <sip:uac@127.0.0.1>;tag=");
	ADDN(id, idl);
	ADD("\r\nTo: <");
	ADD(ruri);
	ADD(">\r\nCall-ID: ");
	ADDN(id, idl);
	ADD("@sipload\r\nCSeq: 1 INVITE\r\nContact: <sip:uac@");
	ADD(c->sent_by);
	ADD(";transport=");
	ADD(tp_lower);
	ADD(">\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: ");
	ADDN(clen, sl_u32toa(clen, (uint32_t)sdp_len));
	ADD("\r\n\r\n");
	ADDN(sdp, sdp_len);
	sl_conn_send(c, msg, (size_t)(p - msg));
}

/* ACK (2xx: along the route set, to the Contact; else hop-by-hop with the INVITE's branch) and BYE. */
static void send_ack_bye(struct sl_conn *c, uint32_t idx, const struct sl_msg *m, bool bye)
{
	char msg[2800], id[24], *p = msg;
	size_t idl = tag_and_id(id, idx);
	unsigned i;

	for (int pass = 0; pass < (bye ? 2 : 1); pass++) {
		p = msg;
		ADD(pass ? "BYE " : "ACK ");
		if (bye && m->contact_uri.len && m->contact_uri.len < 400)
			ADDN(m->contact_uri.p, m->contact_uri.len);
		else
			ADD(ruri);
		ADD(" SIP/2.0\r\nVia: SIP/2.0/");
		ADD(tp);
		*p++ = ' ';
		ADD(c->sent_by);
		ADD(!bye ? ";branch=z9hG4bK-i" : pass ? ";branch=z9hG4bK-b" : ";branch=z9hG4bK-a");
		ADDN(id, idl);
		ADD(";rport\r\nFrom: <sip:uac@127.0.0.1>;tag=");
		ADDN(id, idl);
		ADD("\r\n");
		if (m->to_line.len < 400)
			ADDN(m->to_line.p, m->to_line.len);
		ADD("\r\n");
		if (bye && m->n_rr) {
			ADD("Route: ");
			for (i = m->n_rr; i-- > 0;) {
				if (m->rr[i].len > 300)
					continue;
				ADDN(m->rr[i].p, m->rr[i].len);
				if (i)
					ADD(", ");
			}
			ADD("\r\n");
		}
		ADD("Call-ID: ");
		ADDN(id, idl);
		ADD(pass ? "@sipload\r\nCSeq: 2 BYE\r\n" : "@sipload\r\nCSeq: 1 ACK\r\n");
		ADD("Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
		sl_conn_send(c, msg, (size_t)(p - msg));
	}
}

void sl_uac_on_open(struct sl_conn *c)
{
	if (c->call)
		send_invite(c, c->call - 1);
}

void sl_uac_on_close(struct sl_conn *c)
{
	if (c->call)
		call_end(c->call - 1, CALL_FAILED, sl_now_us());
	else if (c == shared && !t_begin)
		sl_uac.broken = true;
	else if (c == shared && !sl_uac.done)
		fprintf(stderr, "sipload: the shared connection closed; remaining calls time out\n");
}

void sl_uac_on_msg(struct sl_conn *c, const struct sl_msg *m)
{
	uint64_t now = sl_now_us();
	char *end;
	unsigned long idx = strtoul(m->call_id.p, &end, 10);
	struct call *k;
	bool invite = m->cseq_method.len == 6 && memcmp(m->cseq_method.p, "INVITE", 6) == 0;

	if (!m->status || end == m->call_id.p || idx >= started)
		return;
	k = &calls[idx];
	if (invite && k->state == CALL_INVITING) {
		if (m->status == 180 && !k->ring_us) {
			k->ring_us = (uint32_t)(now - k->t0);
		} else if (m->status >= 200 && m->status < 300) {
			k->setup_us = (uint32_t)(now - k->t0);
			k->state = CALL_BYE;
			send_ack_bye(c, (uint32_t)idx, m, true);
		} else if (m->status >= 300) {
			sl_uac.final_errors++;
			send_ack_bye(c, (uint32_t)idx, m, false);
			call_end((uint32_t)idx, CALL_FAILED, now);
		}
	} else if (!invite && k->state == CALL_BYE && m->status >= 200) {
		if (m->status >= 300)
			sl_uac.final_errors++;
		call_end((uint32_t)idx, m->status < 300 ? CALL_OK : CALL_FAILED, now);
	}
}

static void start_call(uint64_t now)
{
	uint32_t idx = started++;
	struct call *k = &calls[idx];
	int err;

	k->t0 = now;
	k->state = CALL_INVITING;
	inflight++;
	if (!sl_cfg.per_call) {
		send_invite(shared, idx);
		return;
	}
	err = sl_conn_connect(&k->conn, SL_ROLE_UAC, idx + 1);
	if (err) {
		k->conn = NULL;
		call_end(idx, CALL_FAILED, now);
		return;
	}
	sl_conn_ref(k->conn);
}

/* Starts the calls due by now, times out the old ones; true when every call has ended. */
bool sl_uac_tick(uint64_t now, bool ready)
{
	uint64_t due;

	if (!t_begin) {
		if (!ready || (shared && shared->state != SL_OPEN))
			return false;
		t_begin = now;
		sl_uac.t_begin = now;
	}
	due = (uint64_t)((double)(now - t_begin) * sl_cfg.rate / 1e6) + 1;
	if (due > n_calls)
		due = n_calls;
	while (started < due && inflight < sl_cfg.max_inflight)
		start_call(now);
	if (started == n_calls && !sl_uac.t_last_start)
		sl_uac.t_last_start = now;
	while (oldest < started && calls[oldest].state >= CALL_OK)
		oldest++;
	while (oldest < started && now - calls[oldest].t0 > (uint64_t)(sl_cfg.timeout * 1e6)) {
		call_end(oldest, CALL_TIMEOUT, now);
		oldest++;
		while (oldest < started && calls[oldest].state >= CALL_OK)
			oldest++;
	}
	sl_uac.started = started;
	return started == n_calls && oldest == n_calls;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* p50/p90/p99/max in ms of one timing over the successful calls. */
static void percentiles(const char *name, size_t field, char *out, size_t outlen)
{
	uint32_t *v = malloc((sl_uac.ok ? sl_uac.ok : 1) * sizeof(*v)), n = 0, i;
	double q[3] = {0.50, 0.90, 0.99};
	int w;

	for (i = 0; v && i < started; i++)
		if (calls[i].state == CALL_OK)
			v[n++] = *(const uint32_t *)((const char *)&calls[i] + field);
	if (!v || !n) {
		snprintf(out, outlen, " %s_ms=n/a", name);
		free(v);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_u32);
	w = snprintf(out, outlen, " %s_ms=", name);
	for (i = 0; i < 3 && w > 0 && (size_t)w < outlen; i++)
		w += snprintf(out + w, outlen - (size_t)w, "%.2f/",
			      v[(size_t)(q[i] * (n - 1) + 0.5)] / 1000.0);
	if (w > 0 && (size_t)w < outlen)
		snprintf(out + w, outlen - (size_t)w, "%.2f", v[n - 1] / 1000.0);
	free(v);
}

void sl_uac_latency(char *out, size_t outlen)
{
	size_t n;

	percentiles("ring", offsetof(struct call, ring_us), out, outlen);
	n = strlen(out);
	percentiles("setup", offsetof(struct call, setup_us), out + n, outlen - n);
	n = strlen(out);
	percentiles("call", offsetof(struct call, total_us), out + n, outlen - n);
}

void sl_uac_free(void)
{
	uint32_t i;

	for (i = oldest; i < started; i++)
		if (calls[i].conn)
			sl_conn_unref(calls[i].conn);
	free(calls);
	calls = NULL;
}
