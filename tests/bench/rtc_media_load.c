/* rtc_media_load: N concurrent player sessions (plain RTP or SDES-SRTP) to local receivers;
 * reports CPU per call and send-time lateness percentiles.
 * usage: rtc_media_load [-m rtp|sdes] [-t media_threads] [-r rt_priority] [-d seconds] N...   (e.g. 100 500
 * 1000 2000) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "media.h"

#define RECEIVERS 8
#define FRAMES    250 /* 5 s of audio, looped */

static uint8_t payload[FRAMES][160];
static struct rtc_media_frame frames[FRAMES];

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
	struct rtc_media_jitter j;
	uint64_t pkts = 0;
	int err;

	if (!s || (err = rtc_media_engine_create(&e, &cfg)) != 0) {
		fprintf(stderr, "engine: %s\n", strerror(s ? err : ENOMEM));
		free(s);
		return 1;
	}
	for (unsigned i = 0; i < n; i++) {
		char sdp[512];
		const char *reason;
		struct rtc_sdp_offer o;
		struct rtc_media_choice c;
		bool sdes = strcmp(mode, "sdes") == 0;

		snprintf(sdp, sizeof(sdp),
			 "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
			 "m=audio %u %s 0\r\n%s",
			 ports[i % RECEIVERS], sdes ? "RTP/SAVP" : "RTP/AVP",
			 sdes ? "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
				"inline:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n"
			      : "");
		if (rtc_sdp_parse(&o, sdp, strlen(sdp), &reason) != 0 ||
		    rtc_sdp_choose(&c, &o, &reason) != 0) {
			fprintf(stderr, "offer: %s\n", reason);
			return 1;
		}
		struct rtc_media_session_params p = {
		    .offer = &o, .choice = &c, .source = {.frames = frames, .count = FRAMES, .loop = true}};
		if ((err = rtc_media_session_create(&s[i], e, &p)) != 0) {
			fprintf(stderr, "session %u: %s\n", i, strerror(err));
			return 1;
		}
		rtc_media_session_start(s[i]);
	}
	sleep(2); /* warm-up: every session running */
	rtc_media_engine_jitter_reset(e);
	double c0 = cpu_s(), t0 = now_s();
	sleep(seconds);
	double cpu = cpu_s() - c0, wall = now_s() - t0;
	rtc_media_engine_jitter(e, &j);
	for (unsigned i = 0; i < n; i++) {
		struct rtc_media_stats st;

		rtc_media_session_stats(s[i], &st);
		pkts += st.packets_sent;
		rtc_media_session_destroy(s[i]);
	}
	rtc_media_engine_destroy(e);
	free(s);
	printf("%-5s N=%-5u threads=%u rt=%d  cpu=%5.1f%% of one core  %.1f us CPU per call per second  "
	       "%.2f us per packet  pkts/s=%.0f  late p50=%u us p99=%u us p99.9=%u us max=%u us\n",
	       mode, n, threads, prio, 100.0 * cpu / wall, 1e6 * cpu / wall / n,
	       1e6 * cpu / (double)j.packets, (double)j.packets / wall, j.p50_us, j.p99_us, j.p999_us,
	       j.max_us);
	(void)pkts;
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
	if (optind == argc || (strcmp(mode, "rtp") != 0 && strcmp(mode, "sdes") != 0)) {
		fprintf(stderr, "usage: %s [-m rtp|sdes] [-t threads] [-r rt_priority] [-d seconds] N...\n",
			argv[0]);
		return 2;
	}
	for (unsigned i = 0; i < FRAMES; i++) {
		memset(payload[i], (int)(i & 0xff), sizeof(payload[i]));
		frames[i].data = payload[i];
		frames[i].len = sizeof(payload[i]);
	}
	if (open_receivers(ports) != 0) {
		perror("receivers");
		return 1;
	}
	for (int i = optind; i < argc && rc == 0; i++)
		rc = run((unsigned)atoi(argv[i]), mode, threads, prio, seconds, ports);
	return rc;
}
