/* SDP offer/answer for each caller kind, with offers captured from Chromium, baresip and linphonec. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "media.h"
#include "media_int.h"

static char *load(const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;

	snprintf(path, sizeof(path), "%s/%s", RTC_FIXTURES, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "fixture %s", path);
	buf = calloc(1, 65536);
	*len = fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

static void parse_fixture(struct rtc_sdp_offer *o, const char *name)
{
	size_t len;
	char *sdp = load(name, &len);
	const char *reason = NULL;

	cr_assert_eq(rtc_sdp_parse(o, sdp, len, &reason), 0, "%s: %s", name, reason);
	free(sdp);
}

static void answer(char *buf, size_t size, const struct rtc_sdp_offer *o, const struct rtc_media_choice *c)
{
	struct rtc_answer_params a = {
	    .offer = o,
	    .choice = c,
	    .address = "127.0.0.1",
	    .family = AF_INET,
	    .port = 40000,
	    .sess_id = 42,
	    .ssrc = 0x11223344,
	    .cname = "cname1",
	    .ice_ufrag = "ufrag123",
	    .ice_pwd = "pwd4567890123456789012345",
	    .fingerprint = "sha-256 AA:BB",
	    .crypto_b64 = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
	};
	size_t len = 0;

	cr_assert_eq(rtc_sdp_answer_write(buf, size, &len, &a), 0);
	cr_assert_eq(strlen(buf), len);
}

Test(sdp, chromium_offer_is_webrtc_with_opus)
{
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	const char *reason = NULL;
	char buf[4096];

	parse_fixture(&o, "chromium_offer.sdp");
	cr_assert_str_eq(o.proto, "UDP/TLS/RTP/SAVPF");
	cr_assert_eq(o.port, 37943);
	cr_assert_str_eq(o.conn_addr, "192.0.2.2");
	cr_assert_eq(o.pt_count, 8);
	cr_assert_str_eq(o.ice_ufrag, "ctfy");
	cr_assert_str_eq(o.ice_pwd, "AoYDTEeV6mZzZxmulzWciX28");
	cr_assert_str_eq(o.fingerprint_alg, "sha-256");
	cr_assert_eq(o.fingerprint_len, 32);
	cr_assert_eq(o.fingerprint[0], 0x61);
	cr_assert_eq(o.fingerprint[31], 0x4F);
	cr_assert_eq(o.setup, RTC_SDP_SETUP_ACTPASS);
	cr_assert(o.rtcp_mux);
	cr_assert_str_eq(o.mid, "0");
	cr_assert(o.bundle);
	cr_assert_eq(o.candidate_count, 2);
	cr_assert_str_eq(o.candidates[1].addr, "fd00::2");
	cr_assert_eq(o.candidates[1].port, 39899);
	cr_assert_eq(o.dir, RTC_SDP_SENDRECV);

	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0, "%s", reason);
	cr_assert_eq(c.kind, RTC_MEDIA_WEBRTC);
	cr_assert_eq(c.codec, RTC_CODEC_OPUS);
	cr_assert_eq(c.pt, 111);
	cr_assert_eq(c.clock, 48000);
	cr_assert(c.ice);

	answer(buf, sizeof(buf), &o, &c);
	cr_assert_not_null(strstr(buf, "a=group:BUNDLE 0\r\n"));
	cr_assert_not_null(strstr(buf, "a=ice-lite\r\n"));
	cr_assert_not_null(strstr(buf, "m=audio 40000 UDP/TLS/RTP/SAVPF 111\r\n"));
	cr_assert_not_null(strstr(buf, "a=mid:0\r\n"));
	cr_assert_not_null(strstr(buf, "a=sendonly\r\n"));
	cr_assert_not_null(strstr(buf, "a=rtcp-mux\r\n"));
	cr_assert_not_null(strstr(buf, "a=rtpmap:111 opus/48000/2\r\n"));
	cr_assert_not_null(strstr(buf, "a=ice-ufrag:ufrag123\r\n"));
	cr_assert_not_null(strstr(buf, "a=fingerprint:sha-256 AA:BB\r\n"));
	cr_assert_not_null(strstr(buf, "a=setup:passive\r\n"));
	cr_assert_not_null(strstr(buf, "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host\r\n"));
	cr_assert_null(strstr(buf, "a=crypto"));

	/* the answer is valid SDP for our own parser too */
	struct rtc_sdp_offer back;
	cr_assert_eq(rtc_sdp_parse(&back, buf, strlen(buf), &reason), 0);
	cr_assert_eq(back.dir, RTC_SDP_SENDONLY);
	cr_assert_eq(back.setup, RTC_SDP_SETUP_PASSIVE);
	cr_assert(back.ice_lite);
	cr_assert_eq(back.candidate_count, 1);
	cr_assert_eq(back.pt_count, 1);
}

Test(sdp, baresip_sdes_offer)
{
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	const char *reason = NULL;
	char buf[4096];

	parse_fixture(&o, "baresip_sdes.sdp");
	cr_assert_str_eq(o.proto, "RTP/SAVP");
	cr_assert_str_eq(o.conn_addr, "127.0.0.1"); /* from the session level */
	cr_assert_eq(o.crypto_count, 1);
	cr_assert_eq(o.crypto[0].tag, 1);
	cr_assert_str_eq(o.crypto[0].suite, "AES_CM_128_HMAC_SHA1_80");
	cr_assert(o.crypto[0].usable);
	/* inline:1deVaVhG... decodes to key||salt starting d5 d7 95 */
	cr_assert_eq(o.crypto[0].key[0], 0xd5);
	cr_assert_eq(o.crypto[0].key[1], 0xd7);
	cr_assert_eq(o.crypto[0].key[2], 0x95);
	cr_assert(!o.rtcp_mux);

	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0, "%s", reason);
	cr_assert_eq(c.kind, RTC_MEDIA_SDES);
	cr_assert_eq(c.codec, RTC_CODEC_OPUS);
	cr_assert_eq(c.pt, 96);
	cr_assert_eq(c.crypto_index, 0);

	answer(buf, sizeof(buf), &o, &c);
	cr_assert_not_null(strstr(buf, "m=audio 40000 RTP/SAVP 96\r\n"));
	cr_assert_not_null(strstr(buf, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QUFB"));
	cr_assert_not_null(strstr(buf, "a=rtcp:40000\r\n"));
	cr_assert_not_null(strstr(buf, "a=sendrecv\r\n"));
	cr_assert_null(strstr(buf, "a=ice-lite"));
	cr_assert_null(strstr(buf, "a=fingerprint"));
	cr_assert_null(strstr(buf, "BUNDLE"));
}

Test(sdp, baresip_dtls_offer_without_ice)
{
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	const char *reason = NULL;
	char buf[4096];

	parse_fixture(&o, "baresip_dtls.sdp");
	cr_assert_str_eq(o.fingerprint_alg, "sha-256"); /* offered as SHA-256 */
	cr_assert_eq(o.fingerprint_len, 32);
	cr_assert_eq(o.setup, RTC_SDP_SETUP_ACTPASS); /* session level */
	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0, "%s", reason);
	cr_assert_eq(c.kind, RTC_MEDIA_WEBRTC);
	cr_assert(!c.ice);
	cr_assert_eq(c.pt, 96);

	answer(buf, sizeof(buf), &o, &c);
	cr_assert_not_null(strstr(buf, "m=audio 40000 UDP/TLS/RTP/SAVPF 96\r\n"));
	cr_assert_not_null(strstr(buf, "a=setup:passive\r\n"));
	cr_assert_not_null(strstr(buf, "a=fingerprint:sha-256 AA:BB\r\n"));
	cr_assert_not_null(strstr(buf, "a=sendonly\r\n"));
	cr_assert_null(strstr(buf, "a=ice-lite"));
	cr_assert_null(strstr(buf, "a=candidate"));
}

Test(sdp, linphone_plain_rtp_offer)
{
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	const char *reason = NULL;
	char buf[4096];

	parse_fixture(&o, "linphone_rtp.sdp");
	cr_assert_str_eq(o.proto, "RTP/AVP");
	cr_assert_eq(o.port, 25280);
	cr_assert_eq(o.pt_count, 9);
	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0, "%s", reason);
	cr_assert_eq(c.kind, RTC_MEDIA_RTP);
	cr_assert_eq(c.codec, RTC_CODEC_OPUS);
	cr_assert_eq(c.pt, 96);
	answer(buf, sizeof(buf), &o, &c);
	cr_assert_not_null(strstr(buf, "m=audio 40000 RTP/AVP 96\r\n"));
	cr_assert_not_null(strstr(buf, "a=sendrecv\r\n"),
			   "phones get sendrecv (their RTP keeps NAT latching)");
	cr_assert_null(strstr(buf, "a=crypto"));
}

Test(sdp, g711_without_rtpmap_falls_back_to_pcmu_then_pcma)
{
	static const char pcmu[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
				   "m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
	static const char pcma[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
				   "m=audio 4000 RTP/AVP 8\r\n";
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	const char *reason = NULL;

	cr_assert_eq(rtc_sdp_parse(&o, pcmu, strlen(pcmu), &reason), 0);
	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0);
	cr_assert_eq(c.codec, RTC_CODEC_PCMU);
	cr_assert_eq(c.pt, 0);
	cr_assert_eq(c.clock, 8000);
	cr_assert_eq(rtc_sdp_parse(&o, pcma, strlen(pcma), &reason), 0);
	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0);
	cr_assert_eq(c.codec, RTC_CODEC_PCMA);
	cr_assert_eq(c.pt, 8);
}

Test(sdp, other_media_lines_are_rejected_in_place)
{
	static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
				  "m=video 5000 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n"
				  "m=audio 4000 RTP/AVP 0\r\n";
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	const char *reason = NULL;
	char buf[4096];

	cr_assert_eq(rtc_sdp_parse(&o, sdp, strlen(sdp), &reason), 0);
	cr_assert_eq(o.mline_count, 2);
	cr_assert_eq(o.audio_index, 1);
	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0);
	answer(buf, sizeof(buf), &o, &c);
	char *video = strstr(buf, "m=video 0 RTP/AVP 96\r\n");
	char *audio = strstr(buf, "m=audio 40000 RTP/AVP 0\r\n");
	cr_assert_not_null(video);
	cr_assert_not_null(audio);
	cr_assert(video < audio, "m= lines keep the offer's order");
}

Test(sdp, nothing_acceptable_is_488_with_a_reason)
{
	static const struct {
		const char *sdp, *reason;
	} cases[] = {
	    {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5000 RTP/AVP "
	     "96\r\n",
	     "no audio stream offered"},
	    {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 9\r\n"
	     "a=rtpmap:9 G722/8000\r\n",
	     "no common codec (we offer opus, PCMU, PCMA)"},
	    {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/SAVP "
	     "0\r\n",
	     "no usable a=crypto (AES_CM_128_HMAC_SHA1_80/32, inline key, no MKI)"},
	    {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/SAVP "
	     "0\r\n"
	     "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n",
	     "no usable a=crypto (AES_CM_128_HMAC_SHA1_80/32, inline key, no MKI)"},
	    {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 "
	     "UDP/TLS/RTP/SAVPF 0\r\n",
	     "DTLS-SRTP offer without a=fingerprint"},
	    {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 TCP/MRCPv2 "
	     "1\r\n",
	     "unsupported media transport protocol"},
	    {"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n"
	     "a=sendonly\r\n",
	     "the offer does not receive audio (sendonly/inactive)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rtc_sdp_offer o;
		struct rtc_media_choice c;
		const char *reason = NULL;

		cr_assert_eq(rtc_sdp_parse(&o, cases[i].sdp, strlen(cases[i].sdp), &reason), 0, "case %zu",
			     i);
		cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), ENOTSUP, "case %zu", i);
		cr_assert_str_eq(reason, cases[i].reason, "case %zu", i);
	}
}

Test(sdp, malformed_sdp_is_refused)
{
	static const char *const bad[] = {
	    "",
	    "hello",
	    "o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n",
	    "v=0\r\nm=audio\r\n",
	    "v=0\r\nm=audio 70000 RTP/AVP 0\r\n",
	    "v=0\r\nm=audio 5000 RTP/AVP zero\r\n",
	    "v=0\r\nc=IN IP4\r\n",
	    "v=0\r\nm=audio 5000 RTP/AVP 0\r\na=rtpmap:0\r\n",
	    "v=0\r\nm=audio 5000 RTP/AVP 0\r\na=fingerprint:sha-256 ZZ:11\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rtc_sdp_offer o;
		const char *reason = NULL;

		cr_assert_eq(rtc_sdp_parse(&o, bad[i], strlen(bad[i]), &reason), EBADMSG, "case %zu", i);
		cr_assert_not_null(reason);
	}
}

Test(sdp, answer_too_small_is_enospc)
{
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	const char *reason;
	struct rtc_answer_params a = {.address = "127.0.0.1", .family = AF_INET, .cname = "x"};
	char buf[64];
	size_t len;

	parse_fixture(&o, "linphone_rtp.sdp");
	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0);
	a.offer = &o;
	a.choice = &c;
	cr_assert_eq(rtc_sdp_answer_write(buf, sizeof(buf), &len, &a), ENOSPC);
}

Test(sdp, a_recvonly_phone_gets_sendonly)
{
	static const char sdp[] = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
				  "m=audio 4000 RTP/AVP 0\r\na=recvonly\r\n";
	struct rtc_sdp_offer o;
	struct rtc_media_choice c;
	const char *reason = NULL;
	char buf[4096];

	cr_assert_eq(rtc_sdp_parse(&o, sdp, strlen(sdp), &reason), 0);
	cr_assert_eq(o.dir, RTC_SDP_RECVONLY);
	cr_assert_eq(rtc_sdp_choose(&c, &o, &reason), 0);
	answer(buf, sizeof(buf), &o, &c);
	cr_assert_not_null(strstr(buf, "a=sendonly\r\n"));
}

/* A body ends where its length says, with no NUL after it: the last payload type is read only up to there
 * (found by tests/fuzz/fuzz_sdp: strtoul ran past the end of the body). */
Test(sdp, last_payload_type_ends_at_the_body_length)
{
	static const char text[] = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0 89";
	struct rtc_sdp_offer o;
	const char *reason = NULL;
	size_t len = strlen(text) - 1; /* the body stops after "8"; the "9" behind it is not part of it */
	char *body = malloc(len + 1);

	cr_assert_not_null(body);
	memcpy(body, text, len + 1);
	cr_assert_eq(rtc_sdp_parse(&o, body, len, &reason), 0, "%s", reason);
	cr_assert_eq(o.pt_count, 2);
	cr_assert_eq(o.pts[0], 0);
	cr_assert_eq(o.pts[1], 8);
	free(body);
}

/* RFC 4566 has no NUL or bare CR inside a line: such an offer is refused with a reason, so an answer never
 * echoes a token cut short at a NUL (found by tests/fuzz/fuzz_sdp: the answer to it did not parse). */
Test(sdp, nul_or_cr_inside_a_line_is_refused)
{
	static const char nul[] =
	    "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\nm=video 9 \0SAVPF 31\r\n";
	static const char cr[] = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4000 RTP/AVP 0\ra=sendrecv\r\n";
	struct rtc_sdp_offer o;
	const char *reason = NULL;

	cr_assert_eq(rtc_sdp_parse(&o, nul, sizeof(nul) - 1, &reason), EBADMSG);
	cr_assert_str_eq(reason, "NUL or CR inside an SDP line");
	reason = NULL;
	cr_assert_eq(rtc_sdp_parse(&o, cr, sizeof(cr) - 1, &reason), EBADMSG);
	cr_assert_str_eq(reason, "NUL or CR inside an SDP line");
}
