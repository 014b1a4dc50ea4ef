/* In-process loopback: an ICE + DTLS client (OpenSSL) and a libsrtp2 receiver against a real session;
 * and a plain RTP caller with symmetric RTP. The decrypted payloads must equal the source frames. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <poll.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "media.h"
#include "media_int.h"

#define FRAMES 12

static uint8_t frame_data[FRAMES][40];
static struct rtc_media_frame frames[FRAMES];
static atomic_int finished, released, events, last_event = -1;

static void on_event(void *arg, enum rtc_media_event ev, const char *detail)
{
	if (ev == RTC_MEDIA_FINISHED)
		atomic_store(&finished, 1);
	atomic_store(&last_event, (int)ev);
	atomic_fetch_add(&events, 1);
}

/* Waits up to ms for an event; returns it, or -1. */
static int wait_event(int ms)
{
	for (int i = 0; i < ms / 10 && atomic_load(&events) == 0; i++)
		usleep(10000);
	return atomic_load(&events) ? atomic_load(&last_event) : -1;
}

static void on_release(void *arg)
{
	atomic_fetch_add(&released, 1);
}

static void make_frames(void)
{
	for (unsigned i = 0; i < FRAMES; i++) {
		memset(frame_data[i], (int)(0x40 + i), sizeof(frame_data[i]));
		frame_data[i][0] = (uint8_t)i;
		frames[i].data = frame_data[i];
		frames[i].len = (uint16_t)(20 + i);
	}
	atomic_store(&finished, 0);
	atomic_store(&released, 0);
	atomic_store(&events, 0);
	atomic_store(&last_event, -1);
}

static struct rtc_media_engine *start_engine_with(unsigned consent, unsigned rtp_timeout)
{
	struct rtc_media_engine *e = NULL;
	uint16_t base;

	RAND_bytes((uint8_t *)&base, sizeof(base));
	base = (uint16_t)(30000 + base % 20000);
	struct rtc_media_config cfg = {
	    .bind_address = "127.0.0.1",
	    .port_min = base,
	    .port_max = (uint16_t)(base + 200),
	    .threads = 1,
	    .consent_timeout = consent,
	    .rtp_timeout = rtp_timeout,
	};
	cr_assert_eq(rtc_media_engine_create(&e, &cfg), 0);
	return e;
}

static struct rtc_media_engine *start_engine(void)
{
	return start_engine_with(30, 0);
}

static int udp_socket(uint16_t *port)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	socklen_t len = sizeof(in);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	cr_assert_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
	getsockname(fd, (struct sockaddr *)&in, &len);
	*port = ntohs(in.sin_port);
	return fd;
}

static ssize_t recv_wait(int fd, uint8_t *buf, size_t size, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, ms) <= 0)
		return -1;
	return recv(fd, buf, size, 0);
}

/* A Binding request as a controlling ICE agent sends it, with a fresh transaction id. */
static size_t stun_request(uint8_t *buf, const char *username, const char *pwd)
{
	uint8_t txid[12];

	RAND_bytes(txid, sizeof(txid));
	return rtc_stun_request(buf, 200, txid, username, true, (const uint8_t *)pwd, strlen(pwd));
}

struct client {
	int fd;
	struct sockaddr_in server;
};

static void client_send(void *arg, const uint8_t *buf, size_t len)
{
	struct client *c = arg;

	sendto(c->fd, buf, len, 0, (struct sockaddr *)&c->server, sizeof(c->server));
}

/* Checks RTP packet k against frame k: payload, marker, sequence and timestamp steps. */
static void check_packet(const uint8_t *pkt, int len, unsigned k, uint8_t pt, uint32_t step, uint16_t *seq0,
			 uint32_t *ts0)
{
	uint16_t seq = (uint16_t)(pkt[2] << 8 | pkt[3]);
	uint32_t ts = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 | (uint32_t)pkt[6] << 8 | pkt[7];

	cr_assert_eq(len, 12 + frames[k].len, "packet %u length", k);
	cr_assert_eq(pkt[1] & 0x7f, pt);
	cr_assert_eq(!!(pkt[1] & 0x80), k == 0, "marker only on the first packet");
	if (k == 0) {
		*seq0 = seq;
		*ts0 = ts;
	}
	cr_assert_eq(seq, (uint16_t)(*seq0 + k));
	cr_assert_eq(ts, *ts0 + k * step);
	cr_assert_eq(memcmp(pkt + 12, frames[k].data, frames[k].len), 0, "payload of packet %u", k);
}

Test(loopback, ice_dtls_srtp_opus)
{
	struct rtc_media_engine *e = start_engine();
	struct rtc_dtls_cert *ccert;
	struct client c = {.server = {.sin_family = AF_INET}};
	uint16_t cport;
	char offer[2048], ans[4096];
	struct rtc_sdp_offer o, a;
	struct rtc_media_choice ch;
	struct rtc_media_session *s;
	const char *reason = NULL;
	size_t alen;

	make_frames();
	c.fd = udp_socket(&cport);
	cr_assert_eq(rtc_dtls_cert_create(&ccert), 0);
	snprintf(offer, sizeof(offer),
		 "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
		 "m=audio %u UDP/TLS/RTP/SAVPF 111 0\r\nc=IN IP4 127.0.0.1\r\n"
		 "a=candidate:1 1 udp 2122194687 127.0.0.1 %u typ host\r\n"
		 "a=ice-ufrag:cli1\r\na=ice-pwd:clientpasswordclientpass\r\na=fingerprint:%s\r\n"
		 "a=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n",
		 cport, cport, rtc_dtls_cert_fingerprint(ccert));
	cr_assert_eq(rtc_sdp_parse(&o, offer, strlen(offer), &reason), 0, "%s", reason);
	cr_assert_eq(rtc_sdp_choose(&ch, &o, &reason), 0, "%s", reason);
	struct rtc_media_session_params p = {
	    .offer = &o,
	    .choice = &ch,
	    .source = {.frames = frames, .count = FRAMES, .loop = false, .release = on_release},
	    .on_event = on_event,
	};
	cr_assert_eq(rtc_media_session_create(&s, e, &p), 0);
	cr_assert_eq(rtc_media_session_answer(s, ans, sizeof(ans), &alen), 0);
	cr_assert_eq(rtc_sdp_parse(&a, ans, alen, &reason), 0, "%s", reason);
	cr_assert(a.ice_lite);
	cr_assert_eq(a.setup, RTC_SDP_SETUP_PASSIVE);
	char fp_line[160];
	snprintf(fp_line, sizeof(fp_line), "a=fingerprint:%s\r\n", rtc_media_engine_fingerprint(e));
	cr_assert_not_null(strstr(ans, fp_line), "the answer carries the engine's certificate");
	cr_assert_eq(strncmp(rtc_media_engine_fingerprint(e), "sha-256 ", 8), 0);
	c.server.sin_port = htons(a.port);
	inet_pton(AF_INET, "127.0.0.1", &c.server.sin_addr);
	rtc_media_session_start(s);

	/* ICE: a check with the wrong password gets no answer, the right one a verified success */
	uint8_t buf[2048], req[200];
	char user[128];
	snprintf(user, sizeof(user), "%s:cli1", a.ice_ufrag);
	size_t n = stun_request(req, user, "not-the-password");
	client_send(&c, req, n);
	cr_assert_lt(recv_wait(c.fd, buf, sizeof(buf), 300), 0);
	n = stun_request(req, user, a.ice_pwd);
	client_send(&c, req, n);
	ssize_t r = recv_wait(c.fd, buf, sizeof(buf), 2000);
	cr_assert_gt(r, 20);
	cr_assert_eq(buf[0] << 8 | buf[1], 0x0101);
	cr_assert_eq(memcmp(buf + 8, req + 8, 12), 0);
	cr_assert_eq(rtc_stun_check(buf, (size_t)r, (const uint8_t *)a.ice_pwd, strlen(a.ice_pwd)), 0);

	/* DTLS: we are the client, the session the server; its certificate must match the answer */
	struct rtc_dtls *d;
	struct rtc_srtp_keys keys;
	srtp_t rx;
	int st;
	cr_assert_eq(rtc_dtls_create(&d, ccert, false, a.fingerprint_alg, a.fingerprint, a.fingerprint_len,
				     client_send, &c),
		     0);
	st = rtc_dtls_connect(d, &reason);
	cr_assert_eq(st, 0);
	for (int i = 0; i < 50 && st == 0; i++) {
		r = recv_wait(c.fd, buf, sizeof(buf), 200);
		if (r <= 0) {
			rtc_dtls_timeout(d);
			continue;
		}
		if (buf[0] >= 20 && buf[0] <= 63)
			st = rtc_dtls_input(d, buf, (size_t)r, &reason);
	}
	cr_assert_eq(st, 1, "DTLS handshake: %s", reason ? reason : "timeout");
	cr_assert_eq(rtc_dtls_keys(d, &keys), 0);
	cr_assert_eq(rtc_srtp_create(&rx, &keys, true, 0), 0);

	/* SRTP: every frame once, in order, then FINISHED */
	uint16_t seq0 = 0;
	uint32_t ts0 = 0;
	unsigned got = 0;
	while (got < FRAMES) {
		r = recv_wait(c.fd, buf, sizeof(buf), 1000);
		cr_assert_gt(r, 0, "packet %u did not come", got);
		if (buf[0] < 128 || rtc_rtp_is_rtcp(buf, (size_t)r))
			continue;
		int len = (int)r;
		cr_assert_eq(srtp_unprotect(rx, buf, &len), srtp_err_status_ok);
		check_packet(buf, len, got, 111, 960, &seq0, &ts0);
		got++;
	}
	for (int i = 0; i < 20 && !atomic_load(&finished); i++)
		usleep(10000);
	cr_assert(atomic_load(&finished));

	struct rtc_media_stats stats;
	rtc_media_session_stats(s, &stats);
	cr_assert_eq(stats.kind, RTC_MEDIA_WEBRTC);
	cr_assert_eq(stats.packets_sent, FRAMES);
	cr_assert_eq(stats.stun_checks, 1);
	cr_assert_eq(stats.dtls, RTC_DTLS_CONNECTED);
	cr_assert(stats.srtp_profile[0] != '\0');
	cr_assert_not_null(strstr(stats.peer, "127.0.0.1:"));

	rtc_media_session_destroy(s);
	rtc_media_engine_destroy(e);
	cr_assert_eq(atomic_load(&released), 1);
	srtp_dealloc(rx);
	rtc_dtls_free(d);
	rtc_dtls_cert_free(ccert);
	close(c.fd);
}

Test(loopback, plain_rtp_pcmu_is_symmetric)
{
	struct rtc_media_engine *e = start_engine();
	uint16_t port1, port2;
	int fd1 = udp_socket(&port1), fd2 = udp_socket(&port2);
	char offer[512], ans[4096];
	struct rtc_sdp_offer o, a;
	struct rtc_media_choice ch;
	struct rtc_media_session *s;
	const char *reason = NULL;
	uint8_t buf[2048];
	size_t alen;

	make_frames();
	snprintf(offer, sizeof(offer),
		 "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
		 port1);
	cr_assert_eq(rtc_sdp_parse(&o, offer, strlen(offer), &reason), 0);
	cr_assert_eq(rtc_sdp_choose(&ch, &o, &reason), 0);
	cr_assert_eq(ch.codec, RTC_CODEC_PCMU);
	struct rtc_media_session_params p = {
	    .offer = &o,
	    .choice = &ch,
	    .source = {.frames = frames, .count = FRAMES, .loop = true},
	    .on_event = on_event,
	};
	cr_assert_eq(rtc_media_session_create(&s, e, &p), 0);
	cr_assert_eq(rtc_media_session_answer(s, ans, sizeof(ans), &alen), 0);
	cr_assert_eq(rtc_sdp_parse(&a, ans, alen, &reason), 0);
	rtc_media_session_start(s);

	/* to the SDP address first */
	uint16_t seq0 = 0;
	uint32_t ts0 = 0;
	for (unsigned k = 0; k < 3; k++) {
		ssize_t r = recv_wait(fd1, buf, sizeof(buf), 1000);
		cr_assert_gt(r, 0);
		check_packet(buf, (int)r, k, 0, 160, &seq0, &ts0);
	}
	/* the caller's RTP comes from another port (a NAT): media follows it */
	struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(a.port)};
	uint8_t rtp[12 + 160] = {0x80, 0};
	inet_pton(AF_INET, "127.0.0.1", &srv.sin_addr);
	sendto(fd2, rtp, sizeof(rtp), 0, (struct sockaddr *)&srv, sizeof(srv));
	ssize_t r = recv_wait(fd2, buf, sizeof(buf), 1000);
	cr_assert_gt(r, 12, "media moved to the latched address");

	/* the loop goes on past the last frame */
	for (int i = 0; i < 30; i++)
		recv_wait(fd2, buf, sizeof(buf), 100);
	struct rtc_media_stats stats;
	rtc_media_session_stats(s, &stats);
	cr_assert_gt(stats.packets_sent, FRAMES);
	cr_assert_eq(stats.packets_received, 1);
	cr_assert(!atomic_load(&finished));
	char want[32];
	snprintf(want, sizeof(want), "127.0.0.1:%u", port2);
	cr_assert_str_eq(stats.peer, want);

	struct rtc_media_jitter j;
	rtc_media_engine_jitter(e, &j);
	cr_assert_geq(j.packets, stats.packets_sent);
	rtc_media_session_destroy(s);
	rtc_media_engine_destroy(e);
	close(fd1);
	close(fd2);
}

Test(loopback, port_range_exhaustion_is_eaddrinuse)
{
	struct rtc_media_engine *e = NULL;
	uint16_t port;
	int fd = udp_socket(&port);
	struct rtc_media_config cfg = {
	    .bind_address = "127.0.0.1", .port_min = port, .port_max = port, .threads = 1};
	static const char offer[] =
	    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	    "m=audio 5000 RTP/AVP 0\r\n";
	struct rtc_sdp_offer o;
	struct rtc_media_choice ch;
	struct rtc_media_session *s;
	const char *reason;

	make_frames();
	cr_assert_eq(rtc_media_engine_create(&e, &cfg), 0);
	cr_assert_eq(rtc_sdp_parse(&o, offer, strlen(offer), &reason), 0);
	cr_assert_eq(rtc_sdp_choose(&ch, &o, &reason), 0);
	struct rtc_media_session_params p = {
	    .offer = &o, .choice = &ch, .source = {.frames = frames, .count = FRAMES, .release = on_release}};
	cr_assert_eq(rtc_media_session_create(&s, e, &p), EADDRINUSE);
	cr_assert_eq(atomic_load(&released), 0, "a failed create leaves the frames to the caller");
	rtc_media_engine_destroy(e);
	close(fd);

	struct rtc_media_config bad = {
	    .bind_address = "not-an-ip", .port_min = 1, .port_max = 2, .threads = 1};
	cr_assert_eq(rtc_media_engine_create(&e, &bad), EINVAL);
}

/* A WebRTC offer from cport with the given certificate's fingerprint; returns the session and its answer. */
static struct rtc_media_session *webrtc_session(struct rtc_media_engine *e, uint16_t cport,
						const char *fingerprint, struct rtc_sdp_offer *a)
{
	char offer[2048], ans[4096];
	struct rtc_sdp_offer o;
	struct rtc_media_choice ch;
	struct rtc_media_session *s;
	const char *reason = NULL;
	size_t alen;

	snprintf(offer, sizeof(offer),
		 "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
		 "m=audio %u UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\n"
		 "a=ice-ufrag:cli1\r\na=ice-pwd:clientpasswordclientpass\r\na=fingerprint:%s\r\n"
		 "a=setup:actpass\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n",
		 cport, fingerprint);
	cr_assert_eq(rtc_sdp_parse(&o, offer, strlen(offer), &reason), 0, "%s", reason);
	cr_assert_eq(rtc_sdp_choose(&ch, &o, &reason), 0, "%s", reason);
	struct rtc_media_session_params p = {
	    .offer = &o,
	    .choice = &ch,
	    .source = {.frames = frames, .count = FRAMES, .loop = true},
	    .on_event = on_event,
	};
	cr_assert_eq(rtc_media_session_create(&s, e, &p), 0);
	cr_assert_eq(rtc_media_session_answer(s, ans, sizeof(ans), &alen), 0);
	cr_assert_eq(rtc_sdp_parse(a, ans, alen, &reason), 0, "%s", reason);
	return s;
}

static void ice_check(struct client *c, const struct rtc_sdp_offer *a)
{
	uint8_t req[200], buf[512];
	char user[128];

	snprintf(user, sizeof(user), "%s:cli1", a->ice_ufrag);
	size_t n = stun_request(req, user, a->ice_pwd);
	client_send(c, req, n);
	cr_assert_gt(recv_wait(c->fd, buf, sizeof(buf), 2000), 20, "no STUN response");
}

Test(loopback, consent_expiry_is_peer_gone)
{
	struct rtc_media_engine *e = start_engine_with(1, 0);
	struct rtc_dtls_cert *ccert;
	struct client c = {.server = {.sin_family = AF_INET}};
	struct rtc_sdp_offer a;
	uint16_t cport;

	make_frames();
	c.fd = udp_socket(&cport);
	cr_assert_eq(rtc_dtls_cert_create(&ccert), 0);
	struct rtc_media_session *s = webrtc_session(e, cport, rtc_dtls_cert_fingerprint(ccert), &a);
	c.server.sin_port = htons(a.port);
	inet_pton(AF_INET, "127.0.0.1", &c.server.sin_addr);
	rtc_media_session_start(s);
	ice_check(&c, &a);
	cr_assert_eq(wait_event(3000), RTC_MEDIA_PEER_GONE);
	cr_assert_eq(atomic_load(&events), 1, "one event per session");
	rtc_media_session_destroy(s);
	rtc_media_engine_destroy(e);
	rtc_dtls_cert_free(ccert);
	close(c.fd);
}

Test(loopback, wrong_certificate_is_dtls_failed)
{
	struct rtc_media_engine *e = start_engine();
	struct rtc_dtls_cert *offered, *used;
	struct client c = {.server = {.sin_family = AF_INET}};
	struct rtc_sdp_offer a;
	struct rtc_dtls *d;
	const char *reason = NULL;
	uint8_t buf[2048];
	uint16_t cport;
	int st = 0;

	make_frames();
	c.fd = udp_socket(&cport);
	cr_assert_eq(rtc_dtls_cert_create(&offered), 0);
	cr_assert_eq(rtc_dtls_cert_create(&used), 0);
	struct rtc_media_session *s = webrtc_session(e, cport, rtc_dtls_cert_fingerprint(offered), &a);
	c.server.sin_port = htons(a.port);
	inet_pton(AF_INET, "127.0.0.1", &c.server.sin_addr);
	rtc_media_session_start(s);

	/* DTLS before any ICE check is ignored: nothing comes back */
	cr_assert_eq(rtc_dtls_create(&d, used, false, a.fingerprint_alg, a.fingerprint, a.fingerprint_len,
				     client_send, &c),
		     0);
	cr_assert_eq(rtc_dtls_connect(d, &reason), 0);
	cr_assert_lt(recv_wait(c.fd, buf, sizeof(buf), 300), 0);
	rtc_dtls_free(d);

	ice_check(&c, &a);
	cr_assert_eq(rtc_dtls_create(&d, used, false, a.fingerprint_alg, a.fingerprint, a.fingerprint_len,
				     client_send, &c),
		     0);
	st = rtc_dtls_connect(d, &reason);
	for (int i = 0; i < 30 && st == 0 && atomic_load(&events) == 0; i++) {
		ssize_t r = recv_wait(c.fd, buf, sizeof(buf), 100);
		if (r > 0 && buf[0] >= 20 && buf[0] <= 63)
			st = rtc_dtls_input(d, buf, (size_t)r, &reason);
	}
	cr_assert_eq(wait_event(2000), RTC_MEDIA_DTLS_FAILED);
	struct rtc_media_stats stats;
	rtc_media_session_stats(s, &stats);
	cr_assert_eq(stats.dtls, RTC_DTLS_FAILED);
	cr_assert_eq(stats.packets_sent, 0, "no media without keys");
	rtc_media_session_destroy(s);
	rtc_media_engine_destroy(e);
	rtc_dtls_free(d);
	rtc_dtls_cert_free(offered);
	rtc_dtls_cert_free(used);
	close(c.fd);
}

Test(loopback, rtp_timeout_is_peer_gone)
{
	struct rtc_media_engine *e = start_engine_with(30, 1);
	uint16_t port;
	int fd = udp_socket(&port);
	char offer[512];
	struct rtc_sdp_offer o;
	struct rtc_media_choice ch;
	struct rtc_media_session *s;
	const char *reason;

	make_frames();
	snprintf(offer, sizeof(offer),
		 "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %u "
		 "RTP/AVP 8\r\n",
		 port);
	cr_assert_eq(rtc_sdp_parse(&o, offer, strlen(offer), &reason), 0);
	cr_assert_eq(rtc_sdp_choose(&ch, &o, &reason), 0);
	struct rtc_media_session_params p = {.offer = &o,
					     .choice = &ch,
					     .source = {.frames = frames, .count = FRAMES, .loop = true},
					     .on_event = on_event};
	cr_assert_eq(rtc_media_session_create(&s, e, &p), 0);
	rtc_media_session_start(s);
	cr_assert_eq(wait_event(3000), RTC_MEDIA_PEER_GONE);
	rtc_media_session_destroy(s);
	rtc_media_engine_destroy(e);
	close(fd);
}

Test(loopback, sdes_keys_from_the_answer_decrypt_rtp_and_rtcp, .timeout = 20)
{
	struct rtc_media_engine *e = start_engine();
	uint16_t port;
	int fd = udp_socket(&port);
	char offer[512], ans[4096];
	struct rtc_sdp_offer o, a;
	struct rtc_media_choice ch;
	struct rtc_media_session *s;
	const char *reason;
	uint8_t buf[2048];
	size_t alen;

	make_frames();
	snprintf(offer, sizeof(offer),
		 "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
		 "m=audio %u RTP/SAVP 0\r\na=rtcp-mux\r\n"
		 "a=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n",
		 port);
	cr_assert_eq(rtc_sdp_parse(&o, offer, strlen(offer), &reason), 0);
	cr_assert_eq(rtc_sdp_choose(&ch, &o, &reason), 0);
	struct rtc_media_session_params p = {
	    .offer = &o, .choice = &ch, .source = {.frames = frames, .count = FRAMES, .loop = true}};
	cr_assert_eq(rtc_media_session_create(&s, e, &p), 0);
	cr_assert_eq(rtc_media_session_answer(s, ans, sizeof(ans), &alen), 0);
	cr_assert_eq(rtc_sdp_parse(&a, ans, alen, &reason), 0);
	cr_assert_eq(a.crypto_count, 1);
	cr_assert_eq(a.crypto[0].tag, 7);
	cr_assert(a.crypto[0].usable);

	/* the receiver's inbound key is the one the answer announces */
	struct rtc_srtp_keys keys = {.profile = RTC_SRTP_AES128_CM_SHA1_32, .key_len = 16, .salt_len = 14};
	srtp_t rx;
	memcpy(keys.remote, a.crypto[0].key, 30);
	cr_assert_eq(rtc_srtp_create(&rx, &keys, true, 0), 0);
	rtc_media_session_start(s);

	uint16_t seq0 = 0;
	uint32_t ts0 = 0;
	unsigned got = 0, sr = 0;
	for (int i = 0; i < 400 && (got < 260 || sr == 0); i++) {
		ssize_t r = recv_wait(fd, buf, sizeof(buf), 1000);
		cr_assert_gt(r, 0);
		int len = (int)r;
		if (rtc_rtp_is_rtcp(buf, (size_t)r)) {
			cr_assert_eq(srtp_unprotect_rtcp(rx, buf, &len), srtp_err_status_ok);
			cr_assert_eq(buf[1], 200, "a sender report");
			sr++;
			continue;
		}
		cr_assert_eq(len, 12 + frames[got % FRAMES].len + 4, "an 32-bit tag");
		cr_assert_eq(srtp_unprotect(rx, buf, &len), srtp_err_status_ok);
		if (got < FRAMES)
			check_packet(buf, len, got, 0, 160, &seq0, &ts0);
		got++;
	}
	cr_assert_geq(sr, 1, "an SRTCP sender report within 250 packets");
	srtp_dealloc(rx);
	rtc_media_session_destroy(s);
	rtc_media_engine_destroy(e);
	close(fd);
}

/* Sessions created and destroyed from several threads while the media thread sends. */
static void *churn(void *arg)
{
	struct rtc_media_engine *e = arg;
	static const char offer[] =
	    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	    "m=audio 9 RTP/AVP 0\r\n";
	struct rtc_sdp_offer o;
	struct rtc_media_choice ch;
	const char *reason;

	rtc_sdp_parse(&o, offer, strlen(offer), &reason);
	rtc_sdp_choose(&ch, &o, &reason);
	for (int i = 0; i < 200; i++) {
		struct rtc_media_session *s;
		struct rtc_media_session_params p = {
		    .offer = &o,
		    .choice = &ch,
		    .source = {.frames = frames, .count = FRAMES, .loop = true, .release = on_release},
		    .on_event = on_event};
		if (rtc_media_session_create(&s, e, &p) != 0)
			return (void *)1;
		rtc_media_session_start(s);
		if (i % 3 == 0)
			usleep(1000);
		struct rtc_media_stats st;
		rtc_media_session_stats(s, &st);
		rtc_media_session_destroy(s);
	}
	return NULL;
}

Test(loopback, create_destroy_from_many_threads)
{
	struct rtc_media_engine *e = NULL;
	struct rtc_media_config cfg = {
	    .bind_address = "127.0.0.1", .port_min = 0, .port_max = 0, .threads = 2};
	pthread_t t[4];
	uint16_t base;

	make_frames();
	RAND_bytes((uint8_t *)&base, sizeof(base));
	cfg.port_min = (uint16_t)(30000 + base % 20000);
	cfg.port_max = (uint16_t)(cfg.port_min + 500);
	cr_assert_eq(rtc_media_engine_create(&e, &cfg), 0);
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, e);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		cr_assert_null(r);
	}
	rtc_media_engine_destroy(e);
	cr_assert_eq(atomic_load(&released), 800, "every session freed once");
}

Test(loopback, ipv6_plain_rtp)
{
	struct rtc_media_engine *e = NULL;
	struct rtc_media_config cfg = {.bind_address = "::1", .threads = 1};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	socklen_t len = sizeof(in6);
	char offer[512], ans[4096];
	struct rtc_sdp_offer o;
	struct rtc_media_choice ch;
	struct rtc_media_session *s;
	const char *reason;
	uint8_t buf[2048];
	size_t alen;
	uint16_t base;
	int fd = socket(AF_INET6, SOCK_DGRAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&in6, sizeof(in6)) != 0) {
		cr_log_warn("no IPv6 loopback here: skipped");
		return;
	}
	getsockname(fd, (struct sockaddr *)&in6, &len);
	make_frames();
	RAND_bytes((uint8_t *)&base, sizeof(base));
	cfg.port_min = (uint16_t)(30000 + base % 20000);
	cfg.port_max = (uint16_t)(cfg.port_min + 100);
	cr_assert_eq(rtc_media_engine_create(&e, &cfg), 0);
	snprintf(offer, sizeof(offer),
		 "v=0\r\no=- 1 2 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio %u RTP/AVP 0\r\n",
		 ntohs(in6.sin6_port));
	cr_assert_eq(rtc_sdp_parse(&o, offer, strlen(offer), &reason), 0);
	cr_assert_eq(o.conn_family, AF_INET6);
	cr_assert_eq(rtc_sdp_choose(&ch, &o, &reason), 0);
	struct rtc_media_session_params p = {
	    .offer = &o, .choice = &ch, .source = {.frames = frames, .count = FRAMES, .loop = true}};
	cr_assert_eq(rtc_media_session_create(&s, e, &p), 0);
	cr_assert_eq(rtc_media_session_answer(s, ans, sizeof(ans), &alen), 0);
	cr_assert_not_null(strstr(ans, "c=IN IP6 ::1\r\n"));
	rtc_media_session_start(s);
	uint16_t seq0 = 0;
	uint32_t ts0 = 0;
	for (unsigned k = 0; k < 3; k++) {
		ssize_t r = recv_wait(fd, buf, sizeof(buf), 1000);
		cr_assert_gt(r, 0);
		check_packet(buf, (int)r, k, 0, 160, &seq0, &ts0);
	}
	rtc_media_session_destroy(s);
	rtc_media_engine_destroy(e);
	close(fd);
}
