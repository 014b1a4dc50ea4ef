/* rtc_media internals shared between the engine's files and their unit tests. */
#ifndef RTC_MEDIA_INT_H
#define RTC_MEDIA_INT_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media.h"

/* ---- base64 / SDES suites (srtp_keys.c) ---- */

/* Decodes standard base64 into out; returns the byte count, or -1. */
int rtc_base64_decode(uint8_t *out, size_t size, const char *b64);
/* Encodes len bytes; out must hold 4 * ceil(len / 3) + 1. */
void rtc_base64_encode(char *out, const uint8_t *in, size_t len);
/* AES_CM_128_HMAC_SHA1_80 or _32. */
bool rtc_srtp_suite_supported(const char *suite);

/* ---- SDP answer (sdp_answer.c) ---- */

struct rtc_answer_params {
	const struct rtc_sdp_offer *offer;
	const struct rtc_media_choice *choice;
	const char *address; /* media_address */
	int family;          /* AF_INET / AF_INET6 */
	uint16_t port;
	uint64_t sess_id;
	uint32_t ssrc;
	const char *cname;
	const char *ice_ufrag; /* WEBRTC with ICE */
	const char *ice_pwd;
	const char *fingerprint; /* "sha-256 AB:.." for WEBRTC */
	const char *crypto_b64;  /* SDES: our key||salt in base64 */
};

/* Writes the answer; returns 0 or ENOSPC. */
int rtc_sdp_answer_write(char *buf, size_t size, size_t *len, const struct rtc_answer_params *a);

/* ---- STUN for ICE-lite (stun.c, RFC 5389 / 8445) ---- */

#define RTC_STUN_MAX 548

struct rtc_stun_req {
	uint8_t txid[12];
	const uint8_t *username; /* not NUL-terminated */
	size_t username_len;
	bool use_candidate;
	bool has_integrity;
	bool has_fingerprint;
};

/* Parses a Binding request (0x0001). Returns 0, EBADMSG (not STUN / broken),
 * ENOTSUP (another method or class). */
int rtc_stun_parse(struct rtc_stun_req *out, const uint8_t *buf, size_t len);
/* USERNAME is "<local ufrag>:<remote ufrag>" (RFC 8445 §7.2.2). */
bool rtc_stun_username_ok(const struct rtc_stun_req *r, const char *local_ufrag, const char *remote_ufrag);
/* Checks MESSAGE-INTEGRITY (HMAC-SHA1 with key) and, if present, FINGERPRINT.
 * Returns 0 or EACCES. */
int rtc_stun_check(const uint8_t *buf, size_t len, const uint8_t *key, size_t key_len);
/* Builds a Binding success response: [SOFTWARE,] XOR-MAPPED-ADDRESS,
 * MESSAGE-INTEGRITY, FINGERPRINT. Returns the length, or 0 if size is too small. */
size_t rtc_stun_success(uint8_t *buf, size_t size, const uint8_t txid[12], const struct sockaddr *mapped,
			const char *software, const uint8_t *key, size_t key_len);
uint32_t rtc_stun_crc32(const uint8_t *buf, size_t len);
/* Builds a Binding request as a controlling agent sends it (USERNAME, [USE-CANDIDATE],
 * MESSAGE-INTEGRITY, FINGERPRINT): for tests and load clients. Returns the length or 0. */
size_t rtc_stun_request(uint8_t *buf, size_t size, const uint8_t txid[12], const char *username,
			bool use_candidate, const uint8_t *key, size_t key_len);

/* ---- RTP / RTCP (rtp.c, RFC 3550) ---- */

struct rtc_rtp_state {
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	uint32_t ts_step; /* 960 (Opus 20 ms) or 160 (G.711 20 ms) */
	uint8_t pt;
	bool first; /* marker on the next packet */
	uint32_t packets;
	uint32_t octets; /* payload octets, for the SR */
};

void rtc_rtp_init(struct rtc_rtp_state *st, uint8_t pt, uint32_t ts_step, uint32_t ssrc, uint16_t seq,
		  uint32_t ts);
/* Writes header + payload into buf (size >= 12 + len); advances seq/ts. Returns the length. */
size_t rtc_rtp_write(struct rtc_rtp_state *st, uint8_t *buf, const uint8_t *payload, uint16_t len);
/* Skips n frames of timeline (after a stall) without sending. */
void rtc_rtp_skip(struct rtc_rtp_state *st, uint32_t frames);
/* Writes a compound SR + SDES CNAME. now_ns is the wall clock (CLOCK_REALTIME);
 * rtp_ts the timestamp of the last packet sent. Returns the length. */
size_t rtc_rtcp_sr_write(uint8_t *buf, size_t size, const struct rtc_rtp_state *st, uint64_t wall_ns,
			 const char *cname);
/* RFC 5761: is this an RTCP packet (PT 64..95 after the marker bit)? */
bool rtc_rtp_is_rtcp(const uint8_t *buf, size_t len);

/* What a datagram on a media port is, by its first byte (RFC 7983 §7) and, for RTP, RFC 5761. */
enum rtc_packet_kind { RTC_PACKET_OTHER, RTC_PACKET_STUN, RTC_PACKET_DTLS, RTC_PACKET_RTP, RTC_PACKET_RTCP };
enum rtc_packet_kind rtc_packet_kind(const uint8_t *buf, size_t len);

/* ---- SRTP keying (srtp_keys.c) ---- */

enum rtc_srtp_profile { RTC_SRTP_AES128_CM_SHA1_80, RTC_SRTP_AES128_CM_SHA1_32, RTC_SRTP_AEAD_AES_128_GCM };

struct rtc_srtp_keys {
	enum rtc_srtp_profile profile;
	uint8_t local[32]; /* key || salt we send with */
	uint8_t remote[32];
	unsigned key_len, salt_len;
};

/* Splits the RFC 5764 §4.2 keying material (client key | server key | client
 * salt | server salt) for the DTLS server. Returns 0 or EINVAL. */
int rtc_srtp_keys_from_dtls(struct rtc_srtp_keys *out, enum rtc_srtp_profile profile, const uint8_t *material,
			    size_t len, bool server);
/* Length of the exporter output for a profile (60 for AES-CM, 56 for GCM). */
size_t rtc_srtp_material_len(enum rtc_srtp_profile profile);
const char *rtc_srtp_profile_name(enum rtc_srtp_profile profile);
/* The DTLS profile name (SSL_get_selected_srtp_profile) to ours; -1 if unknown. */
int rtc_srtp_profile_from_name(const char *name);

struct srtp_ctx_t_;
/* Creates a libsrtp session that sends SSRC ssrc with keys->local, or (inbound)
 * receives any SSRC with keys->remote. Returns 0 or EPROTO. */
int rtc_srtp_create(struct srtp_ctx_t_ **out, const struct rtc_srtp_keys *keys, bool inbound, uint32_t ssrc);
/* Initialises libsrtp once per process. */
int rtc_srtp_global_init(void);

/* ---- DTLS (dtls.c) ---- */

struct rtc_dtls_cert;
/* Makes a self-signed EC P-256 certificate and the SSL_CTX (DTLS 1.2, use_srtp). */
int rtc_dtls_cert_create(struct rtc_dtls_cert **out);
void rtc_dtls_cert_free(struct rtc_dtls_cert *cert);
const char *rtc_dtls_cert_fingerprint(const struct rtc_dtls_cert *cert);

/* One DTLS association over datagrams the caller moves. */
struct rtc_dtls;
typedef void (*rtc_dtls_send_fn)(void *arg, const uint8_t *buf, size_t len);
int rtc_dtls_create(struct rtc_dtls **out, const struct rtc_dtls_cert *cert, bool server, const char *fp_alg,
		    const uint8_t *fp, size_t fp_len, rtc_dtls_send_fn send, void *arg);
void rtc_dtls_free(struct rtc_dtls *d);
/* Feeds one datagram. Returns 0 (more to do), 1 (handshake done: keys ready),
 * or EPROTO (failed; reason set). */
int rtc_dtls_input(struct rtc_dtls *d, const uint8_t *buf, size_t len, const char **reason);
/* Starts the handshake (client side). Same results as input. */
int rtc_dtls_connect(struct rtc_dtls *d, const char **reason);
/* Retransmits if the DTLS timer is due; returns 0 or EPROTO. */
int rtc_dtls_timeout(struct rtc_dtls *d);
/* After success: the keys for our side. */
int rtc_dtls_keys(struct rtc_dtls *d, struct rtc_srtp_keys *out);

/* ---- pacing (pace.c): 20 ms slots on a millisecond wheel ---- */

#define RTC_PACE_SLOTS  20
#define RTC_PACE_PERIOD 20 /* ms between packets of one session */

struct rtc_pace_entry {
	struct rtc_pace_entry *next, *prev;
	uint64_t due_ms; /* absolute ms of the next packet */
	bool linked;
};

struct rtc_pace {
	struct rtc_pace_entry slots[RTC_PACE_SLOTS]; /* list heads */
	unsigned counts[RTC_PACE_SLOTS];
	unsigned total;
};

void rtc_pace_init(struct rtc_pace *p);
/* Adds e with its first packet due at due_ms (the slot is due_ms % 20). */
void rtc_pace_add(struct rtc_pace *p, struct rtc_pace_entry *e, uint64_t due_ms);
void rtc_pace_remove(struct rtc_pace *p, struct rtc_pace_entry *e);
/* Calls fn for every entry whose due_ms <= now_ms, in slot order, starting at
 * the slot after last_ms. fn returns how many periods it consumed (>= 1) and
 * the entry's due_ms advances by that many periods; fn may remove the entry. */
typedef unsigned (*rtc_pace_fn)(struct rtc_pace_entry *e, uint64_t now_ms, void *arg);
void rtc_pace_run(struct rtc_pace *p, uint64_t last_ms, uint64_t now_ms, rtc_pace_fn fn, void *arg);
/* The first ms after now_ms whose slot holds an entry, or UINT64_MAX when empty. */
uint64_t rtc_pace_next(const struct rtc_pace *p, uint64_t now_ms);

/* ---- lateness histogram (jitter.c) ---- */

#define RTC_JITTER_BUCKETS 260

struct rtc_jitter_hist {
	_Atomic uint64_t counts[RTC_JITTER_BUCKETS];
	_Atomic uint32_t max_us;
};

void rtc_jitter_record(struct rtc_jitter_hist *h, uint64_t late_us);
/* Sums several histograms into percentiles. */
void rtc_jitter_summarise(struct rtc_media_jitter *out, struct rtc_jitter_hist *const *hists, unsigned n);
void rtc_jitter_clear(struct rtc_jitter_hist *h);

#endif
