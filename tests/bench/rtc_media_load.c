/* rtc_media_load: N concurrent player sessions (plain RTP, SDES-SRTP, or DTLS-SRTP with ICE-lite against
 * an in-process WebRTC caller) to local receivers;
 * reports CPU per call and send-time lateness percentiles.
 * usage: rtc_media_load [-m rtp|sdes|dtls] [-t media_threads] [-r rt_priority] [-d seconds] N...   (e.g. 100
 * 500 1000 2000) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <poll.h>

#include "media.h"
#include "media_int.h"

#define RECEIVERS 8
#define FRAMES    250 /* 5 s of audio, looped */

static uint8_t payload[FRAMES][160];
static struct rtc_media_frame frames[FRAMES], opus_frames[FRAMES];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       (double)ru.ru_stime.tv_usec / 1e6;
}

/* Receivers nobody reads: the kernel drops what overflows, the sender pays the full send path. */
static int open_receivers(uint16_t *ports)
{
	for (int i = 0; i < RECEIVERS; i++) {
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof(in);
		int fd = socket(AF_INET, SOCK_DGRAM, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof(in)) != 0)
			return errno;
		getsockname(fd, (struct sockaddr *)&in, &len);
		ports[i] = ntohs(in.sin_port);
	}
	return 0;
}

/* A WebRTC caller played by the bench: one socket, an ICE check, a DTLS client handshake. */
struct dtls_peer {
	int fd;
	struct sockaddr_in server;
};

static struct rtc_dtls_cert *client_cert;

static void peer_send(void *arg, const uint8_t *buf, size_t len)
{
	struct dtls_peer *p = arg;

	sendto(p->fd, buf, len, 0, (struct sockaddr *)&p->server, sizeof(p->server));
}

static ssize_t peer_recv(struct dtls_peer *p, uint8_t *buf, size_t size, int ms)
{
	struct pollfd pfd = {.fd = p->fd, .events = POLLIN};

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	return recv(p->fd, buf, size, 0);
}

static int peer_open(struct dtls_peer *p)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(in);

	p->fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (p->fd < 0 || bind(p->fd, (struct sockaddr *)&in, sizeof(in)) != 0)
		return -1;
	getsockname(p->fd, (struct sockaddr *)&in, &len);
	return ntohs(in.sin_port);
}

/* ICE check + DTLS handshake against the session's answer; then the socket stops caring. */
static int peer_connect(struct dtls_peer *p, const struct rtc_sdp_offer *a)
{
	uint8_t buf[2048], txid[12] = {0};
	char user[128];
	struct rtc_dtls *d;
	const char *reason = "timeout";
	int st, one = 1;
	size_t n;

	p->server = (struct sockaddr_in){
	    .sin_family = AF_INET, .sin_port = htons(a->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	snprintf(user, sizeof(user), "%s:bench", a->ice_ufrag);
	n = rtc_stun_request(buf, sizeof(buf), txid, user, true, (const uint8_t *)a->ice_pwd,
			     strlen(a->ice_pwd));
	peer_send(p, buf, n);
	if (peer_recv(p, buf, sizeof(buf), 2000) <= 0)
		return -1;
	if (rtc_dtls_create(&d, client_cert, false, a->fingerprint_alg, a->fingerprint, a->fingerprint_len,
			    peer_send, p) != 0)
		return -1;
	st = rtc_dtls_connect(d, &reason);
	for (int i = 0; i < 100 && st == 0; i++) {
		ssize_t r = peer_recv(p, buf, sizeof(buf), 100);
		if (r <= 0)
			rtc_dtls_timeout(d);
		else if (buf[0] >= 20 && buf[0] <= 63)
			st = rtc_dtls_input(d, buf, (size_t)r, &reason);
	}
	rtc_dtls_free(d);
	if (st != 1) {
		fprintf(stderr, "dtls: %s\n", reason);
		return -1;
	}
	/* what follows is dropped by the kernel: the sender pays the whole path */
	setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &one, sizeof(one));
	return 0;
}

static int make_session(struct rtc_media_session **out, struct rtc_media_engine *e, const char *mode,
			uint16_t rx_port, struct dtls_peer *peer)
{
	char sdp[1024], ans[4096];
	const char *reason = "";
	struct rtc_sdp_offer o, a;
	struct rtc_media_choice c;
	size_t alen;
	int err;

	if (strcmp(mode, "dtls") == 0) {
		int port = peer_open(peer);
		if (port < 0)
			return errno;
		snprintf(sdp, sizeof(sdp),
			 "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
			 "m=audio %d UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\n"
			 "a=ice-ufrag:bench\r\na=ice-pwd:benchbenchbenchbenchbench\r\na=fingerprint:%s\r\n"
			 "a=setup:actpass\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n",
			 port, rtc_dtls_cert_fingerprint(client_cert));
	} else {
		bool sdes = strcmp(mode, "sdes") == 0;
		snprintf(sdp, sizeof(sdp),
			 "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			 "m=audio %u %s 0\r\n%s",
			 rx_port, sdes ? "RTP/SAVP" : "RTP/AVP",
			 sdes ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
				"inline:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"
			      : "");
	}
	if (rtc_sdp_parse(&o, sdp, strlen(sdp), &reason) != 0 || rtc_sdp_choose(&c, &o, &reason) != 0) {
		fprintf(stderr, "offer: %s\n", reason);
		return EINVAL;
	}
	/* G.711 frames are 160 bytes; an Opus voice frame at 32 kbit/s is 80 */
	struct rtc_media_session_params p = {
	    .offer = &o,
	    .choice = &c,
	    .source = {
		.frames = c.codec == RTC_CODEC_OPUS ? opus_frames : frames, .count = FRAMES, .loop = true}};
	if ((err = rtc_media_session_create(out, e, &p)) != 0)
		return err;
	rtc_media_session_start(*out);
	if (c.kind != RTC_MEDIA_WEBRTC)
		return 0;
	if (rtc_media_session_answer(*out, ans, sizeof(ans), &alen) != 0 ||
	    rtc_sdp_parse(&a, ans, alen, &reason) != 0 || peer_connect(peer, &a) != 0)
		return EPROTO;
	return 0;
}

static int run(unsigned n, const char *mode, unsigned threads, int prio, unsigned seconds,
	       const uint16_t *ports)
{
	struct rtc_media_config cfg = {
	    .bind_address = "127.0.0.1",
	    .port_min = 20000,
	    .port_max = 29999,
	    .threads = threads,
	    .rt_priority = prio,
	};
	struct rtc_media_engine *e = NULL;
	struct rtc_media_session **s = calloc(n, sizeof(*s));
	struct dtls_peer *peers = calloc(n, sizeof(*peers));
	struct rtc_media_jitter j;
	double setup = now_s();
	int err = ENOMEM;

	if (!s || !peers || (err = rtc_media_engine_create(&e, &cfg)) != 0) {
		fprintf(stderr, "engine: %s\n", strerror(s && peers ? err : ENOMEM));
		free(s);
		free(peers);
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		peers[i].fd = -1;
		if ((err = make_session(&s[i], e, mode, ports[i % RECEIVERS], &peers[i])) != 0) {
			fprintf(stderr, "session %u: %s\n", i, strerror(err));
			return 1;
		}
	}
	setup = now_s() - setup;
	sleep(2); /* warm-up: every session running */
	rtc_media_engine_jitter_reset(e);
	double c0 = cpu_s(), t0 = now_s();
	sleep(seconds);
	double cpu = cpu_s() - c0, wall = now_s() - t0;
	rtc_media_engine_jitter(e, &j);
	for (unsigned i = 0; i < n; i++) {
		struct rtc_media_stats st;

		rtc_media_session_stats(s[i], &st);
		rtc_media_session_destroy(s[i]);
		if (peers[i].fd >= 0)
			close(peers[i].fd);
	}
	rtc_media_engine_destroy(e);
	free(s);
	free(peers);
	printf(
	    "%-5s N=%-5u threads=%u rt=%d  cpu=%5.1f%% of one core  %.1f us CPU per call per second  "
	    "%.2f us per packet  pkts/s=%.0f  setup=%.1fs  late p50=%u us p99=%u us p99.9=%u us max=%u us\n",
	    mode, n, threads, prio, 100.0 * cpu / wall, 1e6 * cpu / wall / n, 1e6 * cpu / (double)j.packets,
	    (double)j.packets / wall, setup, j.p50_us, j.p99_us, j.p999_us, j.max_us);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = "rtp";
	unsigned threads = 1, seconds = 10;
	int prio = 0;
	uint16_t ports[RECEIVERS];
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "m:t:r:d:")) != -1) {
		if (opt == 'm')
			mode = optarg;
		else if (opt == 't')
			threads = (unsigned)atoi(optarg);
		else if (opt == 'r')
			prio = atoi(optarg);
		else if (opt == 'd')
			seconds = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (optind == argc ||
	    (strcmp(mode, "rtp") != 0 && strcmp(mode, "sdes") != 0 && strcmp(mode, "dtls") != 0)) {
		fprintf(stderr,
			"usage: %s [-m rtp|sdes|dtls] [-t threads] [-r rt_priority] [-d seconds] N...\n",
			argv[0]);
		return 2;
	}
	for (unsigned i = 0; i < FRAMES; i++) {
		memset(payload[i], (int)(i & 0xff), sizeof(payload[i]));
		frames[i].data = payload[i];
		frames[i].len = sizeof(payload[i]);
		opus_frames[i].data = payload[i];
		opus_frames[i].len = 80;
	}
	if (rtc_dtls_cert_create(&client_cert) != 0) {
		fprintf(stderr, "client certificate\n");
		return 1;
	}
	if (open_receivers(ports) != 0) {
		perror("receivers");
		return 1;
	}
	for (int i = optind; i < argc && rc == 0; i++)
		rc = run((unsigned)atoi(argv[i]), mode, threads, prio, seconds, ports);
	return rc;
}
