/* RTP packetisation and RTCP sender reports (RFC 3550), written into caller buffers; what a datagram is. */
#include <string.h>

#include "media_int.h"

/* Seconds between 1900 (NTP) and 1970 (Unix). */
#define NTP_UNIX_OFFSET 2208988800ULL

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, (uint16_t)(v >> 16));
	wr16(p + 2, (uint16_t)v);
}

void rtc_rtp_init(struct rtc_rtp_state *st, uint8_t pt, uint32_t ts_step, uint32_t ssrc, uint16_t seq,
		  uint32_t ts)
{
	memset(st, 0, sizeof(*st));
	st->pt = pt & 0x7f;
	st->ts_step = ts_step;
	st->ssrc = ssrc;
	st->seq = seq;
	st->ts = ts;
	st->first = true;
}

size_t rtc_rtp_write(struct rtc_rtp_state *st, uint8_t *buf, const uint8_t *payload, uint16_t len)
{
	buf[0] = 0x80; /* V=2, no padding, no extension, no CSRC */
	buf[1] = (uint8_t)(st->pt | (st->first ? 0x80 : 0));
	wr16(buf + 2, st->seq);
	wr32(buf + 4, st->ts);
	wr32(buf + 8, st->ssrc);
	memcpy(buf + 12, payload, len);
	st->first = false;
	st->seq++;
	st->ts += st->ts_step;
	st->packets++;
	st->octets += len;
	return 12 + (size_t)len;
}

void rtc_rtp_skip(struct rtc_rtp_state *st, uint32_t frames)
{
	st->ts += st->ts_step * frames;
}

size_t rtc_rtcp_sr_write(uint8_t *buf, size_t size, const struct rtc_rtp_state *st, uint64_t wall_ns,
			 const char *cname)
{
	size_t cname_len = strlen(cname), sdes_len, off;
	uint64_t secs = wall_ns / 1000000000ULL + NTP_UNIX_OFFSET;
	uint64_t frac = ((wall_ns % 1000000000ULL) << 32) / 1000000000ULL;

	if (cname_len > 255)
		cname_len = 255;
	/* SDES chunk: SSRC, CNAME item (2 + len), end item, padded to 32 bits */
	sdes_len = 4 + ((4 + 2 + cname_len + 1 + 3) & ~(size_t)3);
	if (size < 28 + sdes_len)
		return 0;
	buf[0] = 0x80; /* V=2, RC=0 */
	buf[1] = 200;
	wr16(buf + 2, 6); /* 28 bytes / 4 - 1 */
	wr32(buf + 4, st->ssrc);
	wr32(buf + 8, (uint32_t)secs);
	wr32(buf + 12, (uint32_t)frac);
	/* the timestamp of the last packet sent is the one before st->ts */
	wr32(buf + 16, st->ts - st->ts_step);
	wr32(buf + 20, st->packets);
	wr32(buf + 24, st->octets);
	off = 28;
	buf[off] = 0x81; /* V=2, SC=1 */
	buf[off + 1] = 202;
	wr16(buf + off + 2, (uint16_t)(sdes_len / 4 - 1));
	wr32(buf + off + 4, st->ssrc);
	buf[off + 8] = 1; /* CNAME */
	buf[off + 9] = (uint8_t)cname_len;
	memcpy(buf + off + 10, cname, cname_len);
	memset(buf + off + 10 + cname_len, 0, sdes_len - 10 - cname_len);
	return off + sdes_len;
}

bool rtc_rtp_is_rtcp(const uint8_t *buf, size_t len)
{
	return len >= 8 && (buf[0] & 0xc0) == 0x80 && buf[1] >= 192 && buf[1] <= 223;
}

enum rtc_packet_kind rtc_packet_kind(const uint8_t *buf, size_t len)
{
	if (len == 0)
		return RTC_PACKET_OTHER;
	if (buf[0] <= 3)
		return RTC_PACKET_STUN;
	if (buf[0] >= 20 && buf[0] <= 63)
		return RTC_PACKET_DTLS;
	if (buf[0] >= 128 && buf[0] <= 191)
		return rtc_rtp_is_rtcp(buf, len) ? RTC_PACKET_RTCP : RTC_PACKET_RTP;
	return RTC_PACKET_OTHER;
}
