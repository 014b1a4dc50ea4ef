/* sipload UAS: answers INVITE with 180 then (answer_ms later) 200, BYE with 200; registers over ws/wss. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipload.h"

bool sl_uas_ready, sl_uas_refused;

/* A 200 waiting for its answer time; FIFO, since every INVITE waits the same. */
struct pending {
	uint64_t due;
	struct sl_conn *conn;
	struct pending *next;
	size_t len;
	char msg[];
};

static struct pending *head, *tail;
static uint32_t to_tag;
static char sdp[256];
static size_t sdp_len;

#define ADD(s)     (memcpy(p, (s), strlen(s)), p += strlen(s))
#define ADDN(s, n) (memcpy(p, (s), (n)), p += (n))

int sl_uas_start(void)
{
	struct sl_conn *c;

	sdp_len = (size_t)snprintf(sdp, sizeof(sdp),
				   "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n"
				   "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0\r\n"
				   "a=rtpmap:0 PCMU/8000\r\n");
	if (sl_cfg.proto == SL_WS || sl_cfg.proto == SL_WSS)
		return sl_conn_connect(&c, SL_ROLE_UAS, 0);
	sl_uas_ready = true;
	return sl_listen(sl_cfg.uas_port);
}

/* Over a WebSocket the callee is a browser-like UA: it registers its .invalid contact on the flow. */
void sl_uas_on_open(struct sl_conn *c)
{
	char msg[800];
	int n;

	if (c->proto != SL_WS && c->proto != SL_WSS)
		return;
	n = snprintf(msg, sizeof(msg),
		     "REGISTER sip:%s:%d SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=z9hG4bK-reg%u;rport\r\n"
		     "From: <sip:uas@%s>;tag=reg%u\r\nTo: <sip:uas@%s>\r\nCall-ID: reg%u@sipload\r\n"
		     "CSeq: 1 REGISTER\r\nContact: <sip:uas@%s;transport=ws>;expires=3600\r\n"
		     "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		     sl_cfg.host, sl_cfg.port, c->proto == SL_WS ? "WS" : "WSS", c->sent_by, sl_uac.run_id,
		     sl_cfg.host, sl_uac.run_id, sl_cfg.host, sl_uac.run_id, c->sent_by);
	sl_conn_send(c, msg, (size_t)n);
}

/* The response's copied headers: Via, From, To (with our tag), Call-ID, CSeq and Record-Route. */
static char *copy_headers(char *p, char *end, const struct sl_msg *m, uint32_t tag)
{
	unsigned i;

	for (i = 0; i < m->n_copy; i++) {
		if (p + m->copy[i].len + 24 > end)
			break;
		ADDN(m->copy[i].p, m->copy[i].len);
		if (m->copy[i].p == m->to_line.p && !m->to_has_tag) {
			ADD(";tag=u");
			p += sl_u32toa(p, tag);
		}
		ADD("\r\n");
	}
	return p;
}

static char *contact(char *p, const struct sl_conn *c)
{
	ADD("Contact: <sip:uas@");
	ADD(c->sent_by);
	ADD(c->proto == SL_TCP   ? ";transport=tcp>\r\n"
	    : c->proto == SL_TLS ? ";transport=tls>\r\n"
				 : ";transport=ws>\r\n");
	return p;
}

static void answer_invite(struct sl_conn *c, const struct sl_msg *m)
{
	char msg[3000], *p = msg, *end = msg + sizeof(msg) - 600, clen[12];
	uint32_t tag = ++to_tag;
	struct pending *q;

	ADD("SIP/2.0 180 Ringing\r\n");
	p = copy_headers(p, end, m, tag);
	p = contact(p, c);
	ADD("Content-Length: 0\r\n\r\n");
	sl_conn_send(c, msg, (size_t)(p - msg));
	p = msg;
	ADD("SIP/2.0 200 OK\r\n");
	p = copy_headers(p, end, m, tag);
	p = contact(p, c);
	ADD("Content-Type: application/sdp\r\nContent-Length: ");
	ADDN(clen, sl_u32toa(clen, (uint32_t)sdp_len));
	ADD("\r\n\r\n");
	ADDN(sdp, sdp_len);
	if (!sl_cfg.answer_ms) {
		sl_conn_send(c, msg, (size_t)(p - msg));
		return;
	}
	q = malloc(sizeof(*q) + (size_t)(p - msg));
	if (!q) {
		fprintf(stderr, "sipload: out of memory\n");
		exit(2);
	}
	q->due = sl_now_us() + sl_cfg.answer_ms * 1000ull;
	q->conn = c;
	sl_conn_ref(c);
	q->next = NULL;
	q->len = (size_t)(p - msg);
	memcpy(q->msg, msg, q->len);
	if (tail)
		tail->next = q;
	else
		head = q;
	tail = q;
}

static void answer_200(struct sl_conn *c, const struct sl_msg *m)
{
	char msg[2000], *p = msg;

	ADD("SIP/2.0 200 OK\r\n");
	p = copy_headers(p, msg + sizeof(msg) - 64, m, 0);
	ADD("Content-Length: 0\r\n\r\n");
	sl_conn_send(c, msg, (size_t)(p - msg));
}

void sl_uas_on_msg(struct sl_conn *c, const struct sl_msg *m)
{
	if (m->status) { /* our REGISTER's answer */
		if (m->status >= 200 && m->status < 300) {
			sl_uas_ready = true;
		} else if (m->status >= 300) {
			fprintf(stderr, "sipload: REGISTER answered %d\n", m->status);
			sl_uas_refused = true;
		}
		return;
	}
	if (m->method.len == 6 && memcmp(m->method.p, "INVITE", 6) == 0)
		answer_invite(c, m);
	else if (m->method.len != 3 || memcmp(m->method.p, "ACK", 3) != 0)
		answer_200(c, m);
}

/* Sends the 200s whose answer time has come. */
void sl_uas_tick(uint64_t now)
{
	struct pending *q;

	while ((q = head) && q->due <= now) {
		head = q->next;
		if (!head)
			tail = NULL;
		sl_conn_send(q->conn, q->msg, q->len);
		sl_conn_unref(q->conn);
		free(q);
	}
}

void sl_uas_free(void)
{
	struct pending *q;

	while ((q = head)) {
		head = q->next;
		sl_conn_unref(q->conn);
		free(q);
	}
	tail = NULL;
}
