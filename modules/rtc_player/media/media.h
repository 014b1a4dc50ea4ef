/* rtc_media: the media core of rtc_player (SDP offer/answer, ICE-lite, DTLS-SRTP, SDES, RTP pacing). */
#ifndef RTC_MEDIA_H
#define RTC_MEDIA_H

/*
 * Build: static library target `rtc_media` (modules/rtc_player/media/CMakeLists.txt).
 * The module does `add_subdirectory(media)` and
 * `target_link_libraries(rtc_player PRIVATE rtc_media)`; the include directory
 * (this folder) comes with the target, so `#include "media.h"` works.
 *
 * Flow for one call (module side):
 *   rtc_sdp_parse(&offer, body, len, &reason)          EBADMSG -> 488 + Warning(reason)
 *   rtc_sdp_choose(&choice, &offer, &reason)            ENOTSUP -> 488 + Warning(reason)
 *   pick the encoded frames for choice.codec
 *   rtc_media_session_create(&s, engine, &params)       EADDRINUSE (no free port) -> 500/503
 *   rtc_media_session_answer(s, buf, size, &len)        the 200 OK body
 *   rtc_media_session_start(s)                          after the 200 is sent (or on ACK)
 *   ... on_event(FINISHED | PEER_GONE | DTLS_FAILED) from the media thread -> post to a loop, BYE
 *   rtc_media_session_destroy(s)                        on every way the call ends
 *
 * Threads: all functions may be called from any thread except where noted.
 * Callbacks run on a media thread: they must not block and must not call
 * rtc_media_session_destroy() (post the work to a loop instead).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- SDP (RFC 4566 / RFC 3264) ---- */

#define RTC_SDP_MAX_FORMATS    32
#define RTC_SDP_MAX_CANDIDATES 16
#define RTC_SDP_MAX_CRYPTO     8
#define RTC_SDP_MAX_MEDIA      8

enum rtc_sdp_dir { RTC_SDP_SENDRECV, RTC_SDP_SENDONLY, RTC_SDP_RECVONLY, RTC_SDP_INACTIVE };
enum rtc_sdp_setup { RTC_SDP_SETUP_NONE, RTC_SDP_SETUP_ACTPASS, RTC_SDP_SETUP_ACTIVE, RTC_SDP_SETUP_PASSIVE };

/* One a=rtpmap (+ its a=fmtp) of the audio m= line. */
struct rtc_sdp_format {
	uint8_t pt;
	char name[24];    /* encoding name as offered, e.g. "opus", "PCMU" */
	uint32_t rate;    /* clock rate */
	uint8_t channels; /* 1 when absent */
	char fmtp[128];   /* a=fmtp parameters, "" when absent */
};

/* One a=candidate (RFC 8839); only what an ICE-lite answerer needs. */
struct rtc_sdp_candidate {
	char foundation[33];
	uint8_t component;
	bool udp;
	uint32_t priority;
	char addr[64];
	uint16_t port;
	char type[8]; /* host, srflx, prflx, relay */
};

/* One a=crypto line (RFC 4568). key = master key || master salt (30 bytes). */
struct rtc_sdp_crypto {
	uint32_t tag;
	char suite[40];
	uint8_t key[30];
	bool usable; /* a suite we support, no MKI, key of the right length */
};

/* Any m= line, kept so the answer has one m= line per offered one (RFC 3264 §6). */
struct rtc_sdp_mline {
	char media[16]; /* audio, video, application ... */
	char proto[32];
	char fmt[16]; /* the first format, echoed in a rejected line */
	char mid[32]; /* "" when absent */
	uint16_t port;
};

/* A parsed offer. Strings are copied (NUL-terminated), so the SIP message may go. */
struct rtc_sdp_offer {
	uint64_t origin_sess_id;
	char conn_addr[64]; /* audio c= (or the session c=), "" when none */
	int conn_family;    /* AF_INET / AF_INET6, 0 when none */

	/* the m= lines in order; audio_index is the audio line we answer, -1 if none */
	struct rtc_sdp_mline mlines[RTC_SDP_MAX_MEDIA];
	unsigned mline_count;
	int audio_index;

	/* of the audio line */
	uint16_t port;
	char proto[32];
	uint8_t pts[RTC_SDP_MAX_FORMATS]; /* payload types in m= order */
	unsigned pt_count;
	struct rtc_sdp_format formats[RTC_SDP_MAX_FORMATS]; /* those with a=rtpmap, or static 0/8 */
	unsigned format_count;
	char rtcp_addr[64]; /* a=rtcp (RFC 3605), "" when absent */
	uint16_t rtcp_port; /* 0 when absent */
	bool rtcp_mux;
	char mid[32];
	bool bundle; /* a=group:BUNDLE lists this mid */
	enum rtc_sdp_dir dir;

	/* ICE (session or media level, media wins) */
	char ice_ufrag[64];
	char ice_pwd[257];
	bool ice_lite;
	struct rtc_sdp_candidate candidates[RTC_SDP_MAX_CANDIDATES];
	unsigned candidate_count;

	/* DTLS-SRTP (RFC 5763/8842) */
	char fingerprint_alg[16]; /* "sha-256", "" when absent */
	uint8_t fingerprint[64];
	unsigned fingerprint_len;
	enum rtc_sdp_setup setup;

	/* SDES (RFC 4568) */
	struct rtc_sdp_crypto crypto[RTC_SDP_MAX_CRYPTO];
	unsigned crypto_count;
};

/* Parses an SDP body. Returns 0, or EBADMSG with *reason set to a static
 * string fit for a Warning header (out is only valid on success). */
int rtc_sdp_parse(struct rtc_sdp_offer *out, const char *sdp, size_t len, const char **reason);

enum rtc_media_kind {
	RTC_MEDIA_WEBRTC, /* UDP/TLS/RTP/SAVP(F): DTLS-SRTP, ICE-lite when the offer has ICE */
	RTC_MEDIA_SDES,   /* RTP/SAVP(F) with a=crypto */
	RTC_MEDIA_RTP,    /* RTP/AVP(F) */
};

enum rtc_media_codec { RTC_CODEC_OPUS, RTC_CODEC_PCMU, RTC_CODEC_PCMA };

/* What we answer with. */
struct rtc_media_choice {
	enum rtc_media_kind kind;
	enum rtc_media_codec codec;
	uint8_t pt;       /* payload type to send, from the offer */
	uint32_t clock;   /* 48000 (Opus) or 8000 */
	int crypto_index; /* SDES: index into offer->crypto, else -1 */
	bool ice;         /* WEBRTC: the offer carried ice-ufrag/pwd */
};

/* Classifies the caller and picks the codec: Opus (the offer's pt) first,
 * then PCMU, then PCMA. Returns 0, or ENOTSUP with *reason set (reply 488
 * with a Warning: 305/304/302 ... "reason"). */
int rtc_sdp_choose(struct rtc_media_choice *out, const struct rtc_sdp_offer *offer, const char **reason);

/* Short names for logs and rtc.calls: "webrtc", "sdes", "rtp"; "opus", "pcmu", "pcma". */
const char *rtc_media_kind_name(enum rtc_media_kind kind);
const char *rtc_media_codec_name(enum rtc_media_codec codec);

/* ---- the engine: ports, media threads, the DTLS certificate ---- */

struct rtc_media_config {
	const char *bind_address;  /* IP the media sockets bind to, e.g. "0.0.0.0" or "127.0.0.1" */
	const char *media_address; /* IP written into c= and the host candidate (NAT); NULL = bind_address */
	uint16_t port_min;         /* inclusive port range, one port per call */
	uint16_t port_max;
	unsigned threads;         /* media threads, >= 1 (module param media_threads, default 1) */
	unsigned consent_timeout; /* s without STUN/RTCP from an ICE peer -> PEER_GONE (30) */
	unsigned rtp_timeout;     /* s without RTP/RTCP from a non-ICE peer -> PEER_GONE; 0 = never */
	/* SCHED_FIFO priority (1..99) of the media threads, 0 = normal scheduling: keeps the 20 ms
	 * pacing on time on a busy host. Needs CAP_SYS_NICE, else a warning and normal scheduling. */
	int rt_priority;
};

struct rtc_media_engine;

/* Creates the DTLS certificate (self-signed EC P-256) and starts the media
 * threads. Returns 0, EINVAL (bad address or range, *with a log line*), ENOMEM,
 * or an errno from thread creation. */
int rtc_media_engine_create(struct rtc_media_engine **out, const struct rtc_media_config *cfg);

/* Stops the threads and frees every session still open (their release
 * callbacks run; no on_event does). */
void rtc_media_engine_destroy(struct rtc_media_engine *engine);

/* The certificate fingerprint as written in a=fingerprint: "sha-256 AB:CD:...". */
const char *rtc_media_engine_fingerprint(const struct rtc_media_engine *engine);

/* Send-time lateness over all threads (µs after the packet's due time). */
struct rtc_media_jitter {
	uint64_t packets;
	uint32_t p50_us, p99_us, p999_us, max_us;
};
void rtc_media_engine_jitter(const struct rtc_media_engine *engine, struct rtc_media_jitter *out);
void rtc_media_engine_jitter_reset(struct rtc_media_engine *engine);

/* ---- a media session: one call, one UDP port ---- */

/* One encoded 20 ms frame (Opus packet or 160 G.711 bytes). */
struct rtc_media_frame {
	const uint8_t *data;
	uint16_t len;
};

/* The frames to play. They stay owned by the caller and must stay valid
 * until release(release_arg) runs (on the media thread, once, when the
 * session is freed); release may be NULL. */
struct rtc_media_source {
	const struct rtc_media_frame *frames;
	size_t count;
	bool loop; /* false: play once, then RTC_MEDIA_FINISHED */
	void (*release)(void *release_arg);
	void *release_arg;
};

enum rtc_media_event {
	RTC_MEDIA_FINISHED,    /* played once to the end (loop = false) */
	RTC_MEDIA_PEER_GONE,   /* ICE consent expired or no RTP/RTCP for rtp_timeout */
	RTC_MEDIA_DTLS_FAILED, /* handshake failed, fingerprint mismatch, or no handshake in 10 s */
};

struct rtc_media_session_params {
	const struct rtc_sdp_offer *offer; /* copied what is needed; may go after create */
	const struct rtc_media_choice *choice;
	struct rtc_media_source source;
	/* Runs on a media thread, at most once per session; detail is a short
	 * static text for logs. Not called once destroy() has returned. */
	void (*on_event)(void *arg, enum rtc_media_event event, const char *detail);
	void *arg;
};

struct rtc_media_session;

/* Binds a port from the range, makes ICE credentials, SSRC, sequence and
 * timestamp bases, and the SDES key; no packet is sent before start().
 * Returns 0, EINVAL (source empty, choice/offer mismatch), EADDRINUSE (no free
 * port in the range), ENOMEM. */
int rtc_media_session_create(struct rtc_media_session **out, struct rtc_media_engine *engine,
			     const struct rtc_media_session_params *params);

/* Writes the SDP answer (NUL-terminated). The same text every time, so a
 * re-INVITE or a retransmitted 200 gets the same answer. Returns 0 or ENOSPC. */
int rtc_media_session_answer(const struct rtc_media_session *session, char *buf, size_t size, size_t *len);

/* Starts the pacing: plain RTP/SDES send at once (to the latched or SDP
 * address), WebRTC once DTLS is connected. Idempotent. */
void rtc_media_session_start(struct rtc_media_session *session);

/* Stops and frees the session (asynchronously on its media thread; the
 * release callback runs there). After it returns no on_event call happens
 * and the session pointer must not be used. Not from inside on_event. */
void rtc_media_session_destroy(struct rtc_media_session *session);

enum rtc_dtls_state {
	RTC_DTLS_NONE,
	RTC_DTLS_WAITING,
	RTC_DTLS_HANDSHAKE,
	RTC_DTLS_CONNECTED,
	RTC_DTLS_FAILED
};

/* Counters for rtc.calls, readable from any thread (counters are atomics;
 * peer and dtls are copied under the session's lock). */
struct rtc_media_stats {
	enum rtc_media_kind kind;
	enum rtc_media_codec codec;
	uint16_t local_port;
	char peer[64]; /* "ip:port" media goes to, "" before it is known */
	uint64_t packets_sent;
	uint64_t bytes_sent; /* RTP payload + header bytes as sent (after SRTP) */
	uint64_t rtcp_sent;
	uint64_t packets_received; /* RTP/RTCP from the peer */
	uint64_t stun_checks;      /* valid STUN binding requests answered */
	enum rtc_dtls_state dtls;
	const char *srtp_profile; /* "SRTP_AES128_CM_SHA1_80", ... or "" */
};
void rtc_media_session_stats(const struct rtc_media_session *session, struct rtc_media_stats *out);
const char *rtc_dtls_state_name(enum rtc_dtls_state state);

#endif
