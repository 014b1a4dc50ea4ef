/* The engine's and the session's private structures, shared by engine.c and session*.c. */
#ifndef RTC_SESSION_INT_H
#define RTC_SESSION_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>

#include "media.h"
#include "media_int.h"

#define RTC_TX_BATCH     8 /* packets one session may send in one sendmmsg */
#define RTC_PKT_MAX      1500
#define RTC_HOUSEKEEP_MS 100   /* DTLS retransmission and timeout checks */
#define RTC_DTLS_TIMEOUT 10000 /* ms from start() to a finished handshake */
#define RTC_SR_PACKETS   250   /* an RTCP SR every 250 packets = 5 s */
#define RTC_MAX_CATCHUP  5     /* later than this many periods: skip instead of bursting */

enum { RTC_CMD_ADD = 1, RTC_CMD_START = 2, RTC_CMD_DESTROY = 4 };

struct rtc_media_thread {
	struct rtc_media_engine *engine;
	pthread_t tid;
	int epfd, timerfd, eventfd;
	char timer_tag, event_tag; /* epoll data.ptr markers */
	struct rtc_pace pace;
	uint64_t last_ms, armed_ms, next_housekeep_ms;
	struct rtc_media_session *sessions; /* every session of this thread (thread-owned list) */
	pthread_mutex_t cmd_lock;
	struct rtc_media_session *cmd_head; /* sessions with pending commands */
	atomic_bool stop;
	bool running;
	_Atomic unsigned count;
	struct rtc_jitter_hist jitter;
	/* transmit scratch, used by one session at a time */
	uint8_t pkt[RTC_TX_BATCH + 1][RTC_PKT_MAX];
	struct iovec iov[RTC_TX_BATCH + 1];
	struct mmsghdr msgs[RTC_TX_BATCH + 1];
	uint64_t due_ns[RTC_TX_BATCH];
};

struct rtc_media_engine {
	struct sockaddr_storage bind_addr;
	socklen_t bind_len;
	char media_address[64];
	int media_family;
	uint16_t port_min, port_max, port_next;
	pthread_mutex_t port_lock;
	unsigned consent_timeout_ms, rtp_timeout_ms;
	int rt_priority;
	struct rtc_dtls_cert *cert;
	unsigned nthreads;
	struct rtc_media_thread *threads;
};

struct rtc_media_session {
	struct rtc_media_engine *engine;
	struct rtc_media_thread *thread;
	struct rtc_pace_entry pace;         /* first member used by container_of below */
	struct rtc_media_session *next;     /* thread->sessions */
	struct rtc_media_session *cmd_next; /* thread->cmd_head */
	unsigned cmd;                       /* RTC_CMD_* pending, under thread->cmd_lock */
	int fd;
	uint16_t port;

	/* negotiated */
	struct rtc_media_choice choice;
	bool rtcp_mux, want_ice;
	char remote_ufrag[64];
	char ice_ufrag[9], ice_pwd[25];
	char crypto_b64[44];
	uint8_t sdes_key[30];
	uint64_t sess_id;
	char cname[17];
	char *answer; /* built once at create */
	size_t answer_len;

	/* media source */
	struct rtc_media_source src;
	size_t frame;

	/* transport state, owned by the media thread */
	struct sockaddr_storage peer, rtcp_peer;
	socklen_t peer_len, rtcp_peer_len;
	bool have_peer, latched, nominated;
	struct rtc_dtls *dtls;
	struct srtp_ctx_t_ *srtp;
	struct rtc_rtp_state rtp;
	bool started, sending, ended;
	uint64_t start_ms, last_rx_ms, last_consent_ms;

	/* events: the lock orders on_event against destroy() */
	pthread_mutex_t lock;
	bool closing, event_fired;
	void (*on_event)(void *arg, enum rtc_media_event event, const char *detail);
	void *arg;

	/* counters for rtc_media_session_stats */
	_Atomic uint64_t packets_sent, bytes_sent, rtcp_sent, packets_received, stun_checks;
	_Atomic int dtls_state;
	_Atomic int srtp_profile; /* -1 none */
	char peer_text[64];       /* under lock */
};

static inline struct rtc_media_session *rtc_session_of(struct rtc_pace_entry *e)
{
	return (struct rtc_media_session *)((char *)e - offsetof(struct rtc_media_session, pace));
}

/* engine.c */
uint64_t rtc_now_ns(void);
void rtc_thread_command(struct rtc_media_thread *t, struct rtc_media_session *s, unsigned cmd);
int rtc_engine_bind(struct rtc_media_engine *e, int *fd, uint16_t *port);

/* session.c */
void rtc_session_event(struct rtc_media_session *s, enum rtc_media_event ev, const char *detail);
void rtc_session_set_peer(struct rtc_media_session *s, const struct sockaddr *sa, socklen_t len);
void rtc_session_begin_sending(struct rtc_media_session *s, uint64_t now_ms);
void rtc_session_free(struct rtc_media_session *s);

/* session_rx.c */
void rtc_session_readable(struct rtc_media_session *s, uint64_t now_ms);
void rtc_session_housekeep(struct rtc_media_session *s, uint64_t now_ms);

/* session_tx.c */
unsigned rtc_session_tick(struct rtc_pace_entry *e, uint64_t now_ms, void *thread);

#endif
