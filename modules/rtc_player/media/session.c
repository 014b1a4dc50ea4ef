/* A media session's life: create (port, credentials, answer), start, events, stats, destroy. */
#define _GNU_SOURCE /* sendmmsg, struct mmsghdr */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session_int.h"

#define ANSWER_MAX 4096

const char *rtc_dtls_state_name(enum rtc_dtls_state state)
{
	static const char *const names[] = {"none", "waiting", "handshake", "connected", "failed"};

	return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

/* ICE ufrag/pwd characters (RFC 8839 ice-char). */
static void random_ice_chars(char *out, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t r[32];

	RAND_bytes(r, (int)n);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[r[i] & 63];
	out[n] = '\0';
}

void rtc_session_set_peer(struct rtc_media_session *s, const struct sockaddr *sa, socklen_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	} else {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	memcpy(&s->peer, sa, len);
	s->peer_len = len;
	s->have_peer = true;
	if (s->rtcp_mux) {
		memcpy(&s->rtcp_peer, sa, len);
		s->rtcp_peer_len = len;
	}
	pthread_mutex_lock(&s->lock);
	snprintf(s->peer_text, sizeof(s->peer_text), sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
		 port);
	pthread_mutex_unlock(&s->lock);
}

/* The SDP address, if it is numeric, of our family, and not a hold address. */
static void peer_from_sdp(struct rtc_media_session *s, const struct rtc_sdp_offer *o, int family)
{
	struct sockaddr_storage ss;
	uint16_t rport = o->rtcp_port ? o->rtcp_port : (uint16_t)(o->port + 1);
	const char *raddr = o->rtcp_addr[0] ? o->rtcp_addr : o->conn_addr;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		if (inet_pton(AF_INET, o->conn_addr, &in->sin_addr) != 1 || in->sin_addr.s_addr == 0 ||
		    o->port == 0)
			return;
		in->sin_family = AF_INET;
		in->sin_port = htons(o->port);
		rtc_session_set_peer(s, (struct sockaddr *)in, sizeof(*in));
		if (!s->rtcp_mux && inet_pton(AF_INET, raddr, &in->sin_addr) == 1) {
			in->sin_port = htons(rport);
			memcpy(&s->rtcp_peer, in, sizeof(*in));
			s->rtcp_peer_len = sizeof(*in);
		}
		return;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET6, o->conn_addr, &in6->sin6_addr) != 1 ||
	    IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr) || o->port == 0)
		return;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(o->port);
	rtc_session_set_peer(s, (struct sockaddr *)in6, sizeof(*in6));
	if (!s->rtcp_mux && inet_pton(AF_INET6, raddr, &in6->sin6_addr) == 1) {
		in6->sin6_port = htons(rport);
		memcpy(&s->rtcp_peer, in6, sizeof(*in6));
		s->rtcp_peer_len = sizeof(*in6);
	}
}

static void dtls_send(void *arg, const uint8_t *buf, size_t len)
{
	struct rtc_media_session *s = arg;

	if (s->have_peer)
		sendto(s->fd, buf, len, 0, (struct sockaddr *)&s->peer, s->peer_len);
}

static int setup_crypto(struct rtc_media_session *s, const struct rtc_sdp_offer *o)
{
	struct rtc_srtp_keys keys;
	int err;

	if (s->choice.kind == RTC_MEDIA_WEBRTC) {
		atomic_store(&s->dtls_state, RTC_DTLS_WAITING);
		return rtc_dtls_create(&s->dtls, s->engine->cert, true, o->fingerprint_alg, o->fingerprint,
				       o->fingerprint_len, dtls_send, s);
	}
	if (s->choice.kind != RTC_MEDIA_SDES)
		return 0;
	const struct rtc_sdp_crypto *cr = &o->crypto[s->choice.crypto_index];
	if (RAND_bytes(s->sdes_key, sizeof(s->sdes_key)) != 1)
		return EIO;
	rtc_base64_encode(s->crypto_b64, s->sdes_key, sizeof(s->sdes_key));
	memset(&keys, 0, sizeof(keys));
	keys.profile = strcmp(cr->suite, "AES_CM_128_HMAC_SHA1_32") == 0 ? RTC_SRTP_AES128_CM_SHA1_32
									 : RTC_SRTP_AES128_CM_SHA1_80;
	keys.key_len = 16;
	keys.salt_len = 14;
	memcpy(keys.local, s->sdes_key, 30);
	memcpy(keys.remote, cr->key, 30);
	if ((err = rtc_srtp_create(&s->srtp, &keys, false, s->rtp.ssrc)) != 0)
		return err;
	atomic_store(&s->srtp_profile, (int)keys.profile);
	return 0;
}

static int build_answer(struct rtc_media_session *s, const struct rtc_sdp_offer *o)
{
	struct rtc_answer_params a = {
	    .offer = o,
	    .choice = &s->choice,
	    .address = s->engine->media_address,
	    .family = s->engine->media_family,
	    .port = s->port,
	    .sess_id = s->sess_id,
	    .ssrc = s->rtp.ssrc,
	    .cname = s->cname,
	    .ice_ufrag = s->ice_ufrag,
	    .ice_pwd = s->ice_pwd,
	    .fingerprint = rtc_dtls_cert_fingerprint(s->engine->cert),
	    .crypto_b64 = s->crypto_b64,
	};

	s->answer = malloc(ANSWER_MAX);
	if (!s->answer)
		return ENOMEM;
	return rtc_sdp_answer_write(s->answer, ANSWER_MAX, &s->answer_len, &a);
}

static struct rtc_media_thread *pick_thread(struct rtc_media_engine *e)
{
	struct rtc_media_thread *best = &e->threads[0];

	for (unsigned i = 1; i < e->nthreads; i++)
		if (atomic_load(&e->threads[i].count) < atomic_load(&best->count))
			best = &e->threads[i];
	return best;
}

int rtc_media_session_create(struct rtc_media_session **out, struct rtc_media_engine *engine,
			     const struct rtc_media_session_params *p)
{
	const struct rtc_sdp_offer *o = p->offer;
	struct rtc_media_session *s;
	struct {
		uint32_t ssrc, ts;
		uint16_t seq;
		uint64_t sess;
		uint8_t cname[12];
	} rnd;
	int err;

	if (!p->source.frames || p->source.count == 0 || o->audio_index < 0 ||
	    (p->choice->kind == RTC_MEDIA_SDES &&
	     (p->choice->crypto_index < 0 || (unsigned)p->choice->crypto_index >= o->crypto_count)))
		return EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->fd = -1;
	s->engine = engine;
	s->choice = *p->choice;
	s->src = p->source;
	s->on_event = p->on_event;
	s->arg = p->arg;
	s->rtcp_mux = o->rtcp_mux;
	s->want_ice = s->choice.kind == RTC_MEDIA_WEBRTC && s->choice.ice;
	memcpy(s->remote_ufrag, o->ice_ufrag, sizeof(s->remote_ufrag));
	atomic_init(&s->srtp_profile, -1);
	atomic_init(&s->dtls_state, RTC_DTLS_NONE);
	pthread_mutex_init(&s->lock, NULL);
	if (RAND_bytes((uint8_t *)&rnd, sizeof(rnd)) != 1) {
		err = EIO;
		goto fail;
	}
	s->sess_id = rnd.sess & 0x7fffffffffffffffULL;
	rtc_base64_encode(s->cname, rnd.cname, sizeof(rnd.cname));
	rtc_rtp_init(&s->rtp, s->choice.pt, s->choice.codec == RTC_CODEC_OPUS ? 960 : 160, rnd.ssrc, rnd.seq,
		     rnd.ts);
	random_ice_chars(s->ice_ufrag, 8);
	random_ice_chars(s->ice_pwd, 24);
	if ((err = rtc_engine_bind(engine, &s->fd, &s->port)) != 0)
		goto fail;
	if (s->choice.kind != RTC_MEDIA_WEBRTC)
		peer_from_sdp(s, o, engine->bind_addr.ss_family);
	if ((err = setup_crypto(s, o)) != 0 || (err = build_answer(s, o)) != 0)
		goto fail;
	s->thread = pick_thread(engine);
	atomic_fetch_add(&s->thread->count, 1);
	rtc_thread_command(s->thread, s, RTC_CMD_ADD);
	*out = s;
	return 0;
fail:
	s->src.release = NULL; /* the frames stay the caller's when create fails */
	rtc_session_free(s);
	return err;
}

int rtc_media_session_answer(const struct rtc_media_session *s, char *buf, size_t size, size_t *len)
{
	if (size <= s->answer_len)
		return ENOSPC;
	memcpy(buf, s->answer, s->answer_len + 1);
	*len = s->answer_len;
	return 0;
}

void rtc_media_session_start(struct rtc_media_session *s)
{
	rtc_thread_command(s->thread, s, RTC_CMD_START);
}

void rtc_media_session_destroy(struct rtc_media_session *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->closing = true;
	pthread_mutex_unlock(&s->lock);
	rtc_thread_command(s->thread, s, RTC_CMD_DESTROY);
}

void rtc_session_event(struct rtc_media_session *s, enum rtc_media_event ev, const char *detail)
{
	rtc_pace_remove(&s->thread->pace, &s->pace);
	s->sending = false;
	s->ended = true;
	pthread_mutex_lock(&s->lock);
	if (!s->closing && !s->event_fired && s->on_event) {
		s->event_fired = true;
		s->on_event(s->arg, ev, detail);
	}
	pthread_mutex_unlock(&s->lock);
}

void rtc_session_begin_sending(struct rtc_media_session *s, uint64_t now_ms)
{
	if (s->sending || s->ended)
		return;
	s->sending = true;
	/* the first packet goes out on the next millisecond tick */
	rtc_pace_add(&s->thread->pace, &s->pace, now_ms + 1);
}

void rtc_session_free(struct rtc_media_session *s)
{
	if (!s)
		return;
	if (s->src.release)
		s->src.release(s->src.release_arg);
	if (s->srtp)
		srtp_dealloc(s->srtp);
	rtc_dtls_free(s->dtls);
	if (s->fd >= 0)
		close(s->fd);
	free(s->answer);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void rtc_media_session_stats(const struct rtc_media_session *cs, struct rtc_media_stats *out)
{
	struct rtc_media_session *s = (struct rtc_media_session *)cs;
	int profile = atomic_load_explicit(&s->srtp_profile, memory_order_relaxed);

	memset(out, 0, sizeof(*out));
	out->kind = s->choice.kind;
	out->codec = s->choice.codec;
	out->local_port = s->port;
	out->packets_sent = atomic_load_explicit(&s->packets_sent, memory_order_relaxed);
	out->bytes_sent = atomic_load_explicit(&s->bytes_sent, memory_order_relaxed);
	out->rtcp_sent = atomic_load_explicit(&s->rtcp_sent, memory_order_relaxed);
	out->packets_received = atomic_load_explicit(&s->packets_received, memory_order_relaxed);
	out->stun_checks = atomic_load_explicit(&s->stun_checks, memory_order_relaxed);
	out->dtls = (enum rtc_dtls_state)atomic_load_explicit(&s->dtls_state, memory_order_relaxed);
	out->srtp_profile = profile < 0 ? "" : rtc_srtp_profile_name((enum rtc_srtp_profile)profile);
	pthread_mutex_lock(&s->lock);
	memcpy(out->peer, s->peer_text, sizeof(out->peer));
	pthread_mutex_unlock(&s->lock);
}
