/* sipload: shared types of the SIP call load generator (UAC + UAS over TCP, TLS, WS, WSS). */
#ifndef SIPLOAD_H
#define SIPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

enum sl_proto { SL_TCP, SL_TLS, SL_WS, SL_WSS };
enum sl_role { SL_ROLE_UAC, SL_ROLE_UAS, SL_ROLE_LISTEN };
enum sl_state { SL_CONNECTING, SL_TLS_HANDSHAKE, SL_WS_HANDSHAKE, SL_OPEN, SL_CLOSED };

struct sl_buf {
	char *p;
	size_t len, cap;
};

struct sl_str {
	const char *p;
	size_t len;
};

struct sl_conn {
	int fd;
	enum sl_proto proto;
	enum sl_role role;
	enum sl_state state;
	SSL *ssl;
	unsigned refs;
	bool dirty; /* on the flush list */
	struct sl_conn *next_dirty, *next_dead, *next_all, *prev_all;
	struct sl_buf in, out, ws_msg; /* received bytes, bytes to send, a fragmented WS message */
	size_t out_off;
	char ws_key[32];
	char sent_by[32]; /* Via sent-by ("127.0.0.1:PORT" or "sipload.invalid") */
	uint32_t call;    /* per-call UAC connection: its call index + 1 (0: shared) */
};

/* What the run was asked to do (main.c fills it from the command line). */
struct sl_config {
	enum sl_proto proto;
	bool per_call;    /* a new connection per call (else one for all calls) */
	bool uac, uas;    /* roles this process plays */
	const char *host; /* the server */
	int port;
	int uas_port;       /* TCP/TLS UAS listen port */
	double rate;        /* calls/s */
	double duration;    /* seconds of starting calls */
	double timeout;     /* seconds a call may take */
	unsigned answer_ms; /* UAS: 180 at once, 200 this much later */
	unsigned max_inflight;
	const char *cert, *key, *origin, *user;
};

extern struct sl_config sl_cfg;
extern int sl_epfd;
extern SSL_CTX *sl_client_ctx, *sl_server_ctx;

/* time.c-like helpers in main.c */
uint64_t sl_now_us(void);

/* buf: append, grow as needed; exits on allocation failure (a load tool has no better answer). */
void sl_buf_add(struct sl_buf *b, const void *p, size_t n);
void sl_buf_reserve(struct sl_buf *b, size_t n);
void sl_buf_consume(struct sl_buf *b, size_t n);
static inline void sl_buf_adds(struct sl_buf *b, const char *s);
size_t sl_u32toa(char *dst, uint32_t v);

/* conn.c */
extern unsigned sl_connect_errors, sl_tls_errors; /* connections that failed to connect / to handshake */
int sl_conn_connect(struct sl_conn **out, enum sl_role role, uint32_t call);
int sl_listen(int port);
void sl_conn_event(struct sl_conn *c, uint32_t events);
void sl_conn_send(struct sl_conn *c, const char *msg, size_t len); /* one SIP message */
void sl_conn_close(struct sl_conn *c);
void sl_conn_ref(struct sl_conn *c);
void sl_conn_unref(struct sl_conn *c);
void sl_conn_flush_all(void);
void sl_conn_reap(void);
void sl_conn_close_all(void);
void sl_conn_mark_dirty(struct sl_conn *c);

/* ws.c */
void sl_ws_handshake_request(struct sl_conn *c);
int sl_ws_handshake_response(struct sl_conn *c); /* 0 done, EAGAIN more bytes, EPROTO refused */
void sl_ws_frame(struct sl_buf *out, int opcode, const char *p, size_t len);
int sl_ws_parse(struct sl_conn *c); /* delivers complete messages; EPROTO on a bad frame or a close */

/* sipmsg.c: a received message, header slices into the receive buffer. */
#define SL_MAX_RR 8
struct sl_msg {
	const char *p;
	size_t len;
	int status; /* response code, 0 for a request */
	struct sl_str method, call_id, cseq_method, contact_uri;
	struct sl_str to_line, rr[SL_MAX_RR]; /* To header line (with name), Record-Route values */
	unsigned n_rr;
	struct sl_str copy[24]; /* Via, From, To, Call-ID, CSeq, Record-Route lines to copy into a response */
	unsigned n_copy;
	bool to_has_tag;
};
int sl_msg_parse(struct sl_msg *m, const char *p, size_t len);
size_t sl_frame_sip(const char *p, size_t len); /* length of the first whole message, 0 if incomplete */

/* uac.c */
struct sl_uac_stats {
	uint32_t run_id, started, ok, failed, timeout, final_errors;
	uint64_t t_begin, t_last_start;
	bool done, broken; /* broken: the shared connection failed before the first call */
};
extern struct sl_uac_stats sl_uac;
void sl_uac_init(void);
int sl_uac_start(void);
bool sl_uac_tick(uint64_t now, bool ready);
void sl_uac_latency(char *out, size_t outlen);
void sl_uac_free(void);
void sl_uas_free(void);

/* uas.c */
extern bool sl_uas_ready;   /* registered (ws/wss) or listening (tcp/tls) */
extern bool sl_uas_refused; /* the registration was refused */
int sl_uas_start(void);

void sl_deliver(struct sl_conn *c, const char *p, size_t len);
void sl_uac_on_msg(struct sl_conn *c, const struct sl_msg *m);
void sl_uac_on_open(struct sl_conn *c);
void sl_uac_on_close(struct sl_conn *c);
void sl_uas_on_msg(struct sl_conn *c, const struct sl_msg *m);
void sl_uas_on_open(struct sl_conn *c);
void sl_uas_tick(uint64_t now);

static inline void sl_buf_adds(struct sl_buf *b, const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	sl_buf_add(b, s, n);
}

#endif
