/* A session's receive side: RFC 7983 demultiplexing of STUN, DTLS and RTP/RTCP on one port; timeouts. */
#define _GNU_SOURCE /* sendmmsg, struct mmsghdr */
#include <errno.h>
#include <srtp2/srtp.h>
#include <string.h>
#include <sys/socket.h>

#include "session_int.h"

#define RX_MAX 2048

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

static void on_stun(struct rtc_media_session *s, const uint8_t *buf, size_t len,
		    const struct sockaddr_storage *from, socklen_t from_len, uint64_t now_ms)
{
	struct rtc_stun_req req;
	uint8_t resp[RTC_STUN_MAX];
	size_t n;

	if (!s->want_ice || rtc_stun_parse(&req, buf, len) != 0 || !req.has_integrity ||
	    !rtc_stun_username_ok(&req, s->ice_ufrag, s->remote_ufrag))
		return;
	if (rtc_stun_check(buf, len, (const uint8_t *)s->ice_pwd, strlen(s->ice_pwd)) != 0)
		return;
	n = rtc_stun_success(resp, sizeof(resp), req.txid, (const struct sockaddr *)from, NULL,
			     (const uint8_t *)s->ice_pwd, strlen(s->ice_pwd));
	if (n)
		sendto(s->fd, resp, n, 0, (const struct sockaddr *)from, from_len);
	atomic_store_explicit(&s->stun_checks,
			      atomic_load_explicit(&s->stun_checks, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	s->last_consent_ms = now_ms;
	/* a lite agent sends to the nominated pair, or to the first valid one until then */
	if ((req.use_candidate && (!s->nominated || !same_addr(&s->peer, from))) || !s->have_peer) {
		rtc_session_set_peer(s, (const struct sockaddr *)from, from_len);
		s->nominated = req.use_candidate;
	}
}

static void dtls_done(struct rtc_media_session *s, uint64_t now_ms)
{
	struct rtc_srtp_keys keys;

	if (rtc_dtls_keys(s->dtls, &keys) != 0 || rtc_srtp_create(&s->srtp, &keys, false, s->rtp.ssrc) != 0) {
		atomic_store(&s->dtls_state, RTC_DTLS_FAILED);
		rtc_session_event(s, RTC_MEDIA_DTLS_FAILED,
				  "no SRTP profile or keys after the DTLS handshake");
		return;
	}
	atomic_store(&s->srtp_profile, (int)keys.profile);
	atomic_store(&s->dtls_state, RTC_DTLS_CONNECTED);
	if (s->started)
		rtc_session_begin_sending(s, now_ms);
}

static void on_dtls(struct rtc_media_session *s, const uint8_t *buf, size_t len,
		    const struct sockaddr_storage *from, socklen_t from_len, uint64_t now_ms)
{
	const char *reason = NULL;
	int r;

	if (!s->dtls || s->ended)
		return;
	if (s->want_ice && (!s->have_peer || !same_addr(&s->peer, from)))
		return; /* only from an address that passed a connectivity check */
	if (!s->want_ice && !same_addr(&s->peer, from))
		rtc_session_set_peer(s, (const struct sockaddr *)from, from_len);
	if (atomic_load(&s->dtls_state) == RTC_DTLS_WAITING)
		atomic_store(&s->dtls_state, RTC_DTLS_HANDSHAKE);
	r = rtc_dtls_input(s->dtls, buf, len, &reason);
	if (r == 1) {
		dtls_done(s, now_ms);
	} else if (r == ECONNRESET) {
		rtc_session_event(s, RTC_MEDIA_PEER_GONE, reason);
	} else if (r != 0) {
		if (atomic_load(&s->dtls_state) != RTC_DTLS_CONNECTED) {
			atomic_store(&s->dtls_state, RTC_DTLS_FAILED);
			rtc_session_event(s, RTC_MEDIA_DTLS_FAILED, reason);
		}
	}
}

static void on_rtp(struct rtc_media_session *s, bool rtcp, const struct sockaddr_storage *from,
		   socklen_t from_len, uint64_t now_ms)
{
	atomic_store_explicit(&s->packets_received,
			      atomic_load_explicit(&s->packets_received, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	s->last_rx_ms = now_ms;
	if (rtcp && s->want_ice)
		s->last_consent_ms = now_ms;
	if (s->choice.kind == RTC_MEDIA_WEBRTC)
		return;
	/* symmetric RTP (RFC 4961): send where the peer's packets come from */
	if (!rtcp && (!s->latched || !same_addr(&s->peer, from))) {
		if (!s->latched)
			rtc_session_set_peer(s, (const struct sockaddr *)from, from_len);
		s->latched = true;
	} else if (rtcp && !s->rtcp_mux) {
		memcpy(&s->rtcp_peer, from, from_len);
		s->rtcp_peer_len = from_len;
	}
}

void rtc_session_readable(struct rtc_media_session *s, uint64_t now_ms)
{
	uint8_t buf[RX_MAX];

	for (;;) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(s->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &from_len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN, or an ICMP error we have nothing to do with */
		}
		if (n == 0 || s->ended)
			continue;
		enum rtc_packet_kind kind = rtc_packet_kind(buf, (size_t)n); /* RFC 7983 §7 */

		switch (kind) {
		case RTC_PACKET_STUN:
			on_stun(s, buf, (size_t)n, &from, from_len, now_ms);
			break;
		case RTC_PACKET_DTLS:
			on_dtls(s, buf, (size_t)n, &from, from_len, now_ms);
			break;
		case RTC_PACKET_RTP:
		case RTC_PACKET_RTCP:
			on_rtp(s, kind == RTC_PACKET_RTCP, &from, from_len, now_ms);
			break;
		case RTC_PACKET_OTHER:
			break;
		}
	}
}

void rtc_session_housekeep(struct rtc_media_session *s, uint64_t now_ms)
{
	if (!s->started || s->ended)
		return;
	if (s->dtls && atomic_load(&s->dtls_state) != RTC_DTLS_CONNECTED) {
		if (now_ms - s->start_ms > RTC_DTLS_TIMEOUT || rtc_dtls_timeout(s->dtls) != 0) {
			atomic_store(&s->dtls_state, RTC_DTLS_FAILED);
			rtc_session_event(s, RTC_MEDIA_DTLS_FAILED, "no DTLS handshake within 10 s");
			return;
		}
	}
	if (s->want_ice && now_ms - s->last_consent_ms > s->engine->consent_timeout_ms) {
		rtc_session_event(s, RTC_MEDIA_PEER_GONE, "ICE consent expired (no STUN/RTCP)");
		return;
	}
	if (!s->want_ice && s->engine->rtp_timeout_ms && now_ms - s->last_rx_ms > s->engine->rtp_timeout_ms)
		rtc_session_event(s, RTC_MEDIA_PEER_GONE, "no RTP/RTCP from the peer");
}
