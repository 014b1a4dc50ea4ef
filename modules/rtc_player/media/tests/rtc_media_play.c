/* rtc_media_play: answers one SDP offer (stdin) with the media engine and plays a 440 Hz tone.
 * Prints the answer, a line "--", and after SECS seconds one line "STATS kind=.. packets=.. ...".
 * A test tool for real peers (Chromium, aiortc): usage  rtc_media_play [SECS] < offer.sdp */
#include <math.h>
#include <opus/opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "media.h"

#define TONE_FRAMES 150 /* 3 s, looped */

static uint8_t opus_data[TONE_FRAMES][400];
static uint8_t g711_data[TONE_FRAMES][160];
static struct rtc_media_frame frames[TONE_FRAMES];

static void on_event(void *arg, enum rtc_media_event ev, const char *detail)
{
	fprintf(stderr, "rtc_media_play: event %d: %s\n", (int)ev, detail);
}

static int encode_opus(void)
{
	int err;
	OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_AUDIO, &err);
	int16_t pcm[960];

	if (!enc)
		return -1;
	for (unsigned f = 0; f < TONE_FRAMES; f++) {
		for (unsigned i = 0; i < 960; i++)
			pcm[i] =
			    (int16_t)(8000.0 * sin(2.0 * M_PI * 440.0 * (double)(f * 960 + i) / 48000.0));
		int n = opus_encode(enc, pcm, 960, opus_data[f], sizeof(opus_data[f]));
		if (n < 0)
			return -1;
		frames[f].data = opus_data[f];
		frames[f].len = (uint16_t)n;
	}
	opus_encoder_destroy(enc);
	return 0;
}

/* A G.711 payload of silence-level noise is enough for a packet-counting peer. */
static void g711_filler(uint8_t fill)
{
	for (unsigned f = 0; f < TONE_FRAMES; f++) {
		memset(g711_data[f], fill, sizeof(g711_data[f]));
		frames[f].data = g711_data[f];
		frames[f].len = 160;
	}
}

int main(int argc, char **argv)
{
	static char offer[65536], answer[8192];
	unsigned secs = argc > 1 ? (unsigned)atoi(argv[1]) : 5;
	size_t len = fread(offer, 1, sizeof(offer) - 1, stdin), alen;
	struct rtc_media_config cfg = {
	    .bind_address = "127.0.0.1", .port_min = 40000, .port_max = 49999, .threads = 1};
	struct rtc_media_engine *e;
	struct rtc_media_session *s;
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	struct rtc_media_stats st;
	const char *reason = "";
	int err;

	if (rtc_sdp_parse(&o, offer, len, &reason) != 0 || rtc_sdp_choose(&c, &o, &reason) != 0) {
		printf("488 %s\n", reason);
		return 1;
	}
	if (c.codec == RTC_CODEC_OPUS) {
		if (encode_opus() != 0)
			return 1;
	} else {
		g711_filler(c.codec == RTC_CODEC_PCMU ? 0xff : 0xd5);
	}
	if ((err = rtc_media_engine_create(&e, &cfg)) != 0) {
		fprintf(stderr, "engine: %s\n", strerror(err));
		return 1;
	}
	struct rtc_media_session_params p = {
	    .offer = &o,
	    .choice = &c,
	    .source = {.frames = frames, .count = TONE_FRAMES, .loop = true},
	    .on_event = on_event,
	};
	if ((err = rtc_media_session_create(&s, e, &p)) != 0 ||
	    (err = rtc_media_session_answer(s, answer, sizeof(answer), &alen)) != 0) {
		fprintf(stderr, "session: %s\n", strerror(err));
		return 1;
	}
	printf("%s--\n", answer);
	fflush(stdout);
	rtc_media_session_start(s);
	sleep(secs);
	rtc_media_session_stats(s, &st);
	printf("STATS kind=%s codec=%s packets=%llu bytes=%llu rtcp=%llu received=%llu stun=%llu dtls=%s "
	       "srtp=%s "
	       "peer=%s\n",
	       rtc_media_kind_name(st.kind), rtc_media_codec_name(st.codec),
	       (unsigned long long)st.packets_sent, (unsigned long long)st.bytes_sent,
	       (unsigned long long)st.rtcp_sent, (unsigned long long)st.packets_received,
	       (unsigned long long)st.stun_checks, rtc_dtls_state_name(st.dtls),
	       st.srtp_profile[0] ? st.srtp_profile : "-", st.peer[0] ? st.peer : "-");
	fflush(stdout);
	rtc_media_session_destroy(s);
	rtc_media_engine_destroy(e);
	return 0;
}
