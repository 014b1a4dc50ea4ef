/* SDP offer/answer (RFC 3264): classify the caller, choose the codec, write the answer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "media.h"
#include "media_int.h"

const char *rtc_media_kind_name(enum rtc_media_kind kind)
{
	switch (kind) {
	case RTC_MEDIA_WEBRTC:
		return "webrtc";
	case RTC_MEDIA_SDES:
		return "sdes";
	case RTC_MEDIA_RTP:
		return "rtp";
	}
	return "?";
}

const char *rtc_media_codec_name(enum rtc_media_codec codec)
{
	switch (codec) {
	case RTC_CODEC_OPUS:
		return "opus";
	case RTC_CODEC_PCMU:
		return "pcmu";
	case RTC_CODEC_PCMA:
		return "pcma";
	}
	return "?";
}

static const char *codec_rtpmap(enum rtc_media_codec codec)
{
	return codec == RTC_CODEC_OPUS ? "opus/48000/2" : codec == RTC_CODEC_PCMU ? "PCMU/8000" : "PCMA/8000";
}

/* The offered format for a codec, in the offer's order; NULL if absent. */
static const struct rtc_sdp_format *find_codec(const struct rtc_sdp_offer *o, enum rtc_media_codec codec)
{
	for (unsigned i = 0; i < o->pt_count; i++)
		for (unsigned j = 0; j < o->format_count; j++) {
			const struct rtc_sdp_format *f = &o->formats[j];

			if (f->pt != o->pts[i])
				continue;
			if (codec == RTC_CODEC_OPUS && strcasecmp(f->name, "opus") == 0 && f->rate == 48000)
				return f;
			if (codec == RTC_CODEC_PCMU && strcasecmp(f->name, "PCMU") == 0 && f->rate == 8000)
				return f;
			if (codec == RTC_CODEC_PCMA && strcasecmp(f->name, "PCMA") == 0 && f->rate == 8000)
				return f;
		}
	return NULL;
}

static int classify(struct rtc_media_choice *c, const struct rtc_sdp_offer *o, const char **reason)
{
	const char *proto = o->proto;

	c->crypto_index = -1;
	c->ice = false;
	if (strcasecmp(proto, "UDP/TLS/RTP/SAVPF") == 0 || strcasecmp(proto, "UDP/TLS/RTP/SAVP") == 0) {
		c->kind = RTC_MEDIA_WEBRTC;
		if (o->fingerprint_len == 0) {
			*reason = "DTLS-SRTP offer without a=fingerprint";
			return ENOTSUP;
		}
		if (o->setup == RTC_SDP_SETUP_PASSIVE) {
			*reason = "DTLS a=setup:passive offers are not supported (we are the DTLS server)";
			return ENOTSUP;
		}
		c->ice = o->ice_ufrag[0] != '\0' && o->ice_pwd[0] != '\0';
		return 0;
	}
	if (strcasecmp(proto, "RTP/SAVP") == 0 || strcasecmp(proto, "RTP/SAVPF") == 0) {
		c->kind = RTC_MEDIA_SDES;
		for (unsigned i = 0; i < o->crypto_count; i++)
			if (o->crypto[i].usable) {
				c->crypto_index = (int)i;
				return 0;
			}
		*reason = "no usable a=crypto (AES_CM_128_HMAC_SHA1_80/32, inline key, no MKI)";
		return ENOTSUP;
	}
	if (strcasecmp(proto, "RTP/AVP") == 0 || strcasecmp(proto, "RTP/AVPF") == 0) {
		c->kind = RTC_MEDIA_RTP;
		return 0;
	}
	*reason = "unsupported media transport protocol";
	return ENOTSUP;
}

int rtc_sdp_choose(struct rtc_media_choice *out, const struct rtc_sdp_offer *offer, const char **reason)
{
	static const enum rtc_media_codec order[] = {RTC_CODEC_OPUS, RTC_CODEC_PCMU, RTC_CODEC_PCMA};
	struct rtc_media_choice c;
	int err;

	memset(&c, 0, sizeof(c));
	if (offer->audio_index < 0) {
		*reason = "no audio stream offered";
		return ENOTSUP;
	}
	if (offer->dir == RTC_SDP_SENDONLY || offer->dir == RTC_SDP_INACTIVE) {
		*reason = "the offer does not receive audio (sendonly/inactive)";
		return ENOTSUP;
	}
	if ((err = classify(&c, offer, reason)) != 0)
		return err;
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		const struct rtc_sdp_format *f = find_codec(offer, order[i]);

		if (!f)
			continue;
		c.codec = order[i];
		c.pt = f->pt;
		c.clock = f->rate;
		*out = c;
		return 0;
	}
	*reason = "no common codec (we offer opus, PCMU, PCMA)";
	return ENOTSUP;
}

struct writer {
	char *buf;
	size_t size, len;
	bool overflow;
};

static void put(struct writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct writer *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->len, w->size - w->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->size - w->len) {
		w->overflow = true;
		return;
	}
	w->len += (size_t)n;
}

static void put_rejected(struct writer *w, const struct rtc_sdp_mline *m)
{
	put(w, "m=%s 0 %s %s\r\n", m->media, m->proto, m->fmt);
	if (m->mid[0])
		put(w, "a=mid:%s\r\n", m->mid);
}

/* We only send, but a phone that offers sendrecv gets sendrecv: baresip 1.0 does not start
 * its player for a recvonly stream (plain RTP and SDES), and the phone's own RTP is what
 * symmetric RTP latches onto and what rtp_timeout watches. WebRTC and recvonly offers get
 * sendonly (the browser then sends nothing). */
static const char *answer_dir(const struct rtc_sdp_offer *o, const struct rtc_media_choice *c)
{
	return o->dir == RTC_SDP_SENDRECV && c->kind != RTC_MEDIA_WEBRTC ? "sendrecv" : "sendonly";
}

static void put_audio(struct writer *w, const struct rtc_answer_params *a)
{
	const struct rtc_sdp_offer *o = a->offer;
	const struct rtc_media_choice *c = a->choice;
	const char *ip = a->family == AF_INET6 ? "IP6" : "IP4";

	put(w, "m=audio %u %s %u\r\n", a->port, o->proto, c->pt);
	put(w, "c=IN %s %s\r\n", ip, a->address);
	if (o->mid[0])
		put(w, "a=mid:%s\r\n", o->mid);
	put(w, "a=%s\r\n", answer_dir(o, c));
	if (o->rtcp_mux)
		put(w, "a=rtcp-mux\r\n");
	else
		put(w, "a=rtcp:%u\r\n", a->port); /* RFC 3605: RTCP comes to the same port */
	put(w, "a=rtpmap:%u %s\r\n", c->pt, codec_rtpmap(c->codec));
	if (c->codec == RTC_CODEC_OPUS)
		put(w, "a=fmtp:%u minptime=10;useinbandfec=1\r\n", c->pt);
	put(w, "a=ptime:20\r\n");
	if (c->kind == RTC_MEDIA_WEBRTC) {
		if (c->ice) {
			put(w, "a=ice-ufrag:%s\r\n", a->ice_ufrag);
			put(w, "a=ice-pwd:%s\r\n", a->ice_pwd);
		}
		put(w, "a=fingerprint:%s\r\n", a->fingerprint);
		put(w, "a=setup:passive\r\n");
		if (c->ice) {
			put(w, "a=candidate:1 1 udp 2130706431 %s %u typ host\r\n", a->address, a->port);
			put(w, "a=end-of-candidates\r\n");
		}
	} else if (c->kind == RTC_MEDIA_SDES) {
		const struct rtc_sdp_crypto *cr = &o->crypto[c->crypto_index];
		put(w, "a=crypto:%u %s inline:%s\r\n", cr->tag, cr->suite, a->crypto_b64);
	}
	put(w, "a=ssrc:%u cname:%s\r\n", a->ssrc, a->cname);
}

int rtc_sdp_answer_write(char *buf, size_t size, size_t *len, const struct rtc_answer_params *a)
{
	const struct rtc_sdp_offer *o = a->offer;
	struct writer w = {buf, size, 0, false};
	const char *ip = a->family == AF_INET6 ? "IP6" : "IP4";

	if (size == 0)
		return ENOSPC;
	put(&w, "v=0\r\n");
	put(&w, "o=sipd %llu 1 IN %s %s\r\n", (unsigned long long)a->sess_id, ip, a->address);
	put(&w, "s=sipd rtc_player\r\n");
	put(&w, "c=IN %s %s\r\n", ip, a->address);
	put(&w, "t=0 0\r\n");
	if (o->bundle)
		put(&w, "a=group:BUNDLE %s\r\n", o->mid);
	if (a->choice->kind == RTC_MEDIA_WEBRTC && a->choice->ice)
		put(&w, "a=ice-lite\r\n");
	for (unsigned i = 0; i < o->mline_count; i++) {
		if ((int)i == o->audio_index)
			put_audio(&w, a);
		else
			put_rejected(&w, &o->mlines[i]);
	}
	if (w.overflow)
		return ENOSPC;
	*len = w.len;
	return 0;
}
