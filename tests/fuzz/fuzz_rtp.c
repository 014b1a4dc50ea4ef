/* libFuzzer target: rtc_player's RTP/RTCP code: the RFC 7983 demultiplexing of a received datagram and the
 * RTP and RTCP SR + SDES writers driven by fuzzed state, whose packets must classify and frame correctly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walks a compound RTCP packet (RFC 3550 §6.1): every part is version 2 and the lengths add up. */
static bool rtcp_compound_ok(const uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off + 4 <= len) {
		size_t part = ((size_t)(p[off + 2] << 8 | p[off + 3]) + 1) * 4;

		if ((p[off] & 0xc0) != 0x80 || off + part > len)
			return false;
		off += part;
	}
	return off == len;
}

/* Input: 20 bytes of state (pt, step, ssrc, seq, ts, wall clock, skip), then the payload; a CNAME follows a
 * NUL in the payload. */
static void write_side(const uint8_t *data, size_t size)
{
	static uint8_t pkt[12 + 65535], rtcp[28 + 4 + 264];
	struct rtc_rtp_state st;
	char cname[300];
	const uint8_t *payload = data + 20;
	size_t plen = size - 20, n;

	/* Payload types we send: static 0 and 8, dynamic 96-127 (never 72-76, RFC 5761 §4). */
	uint8_t pt = data[0] & 1 ? 96 | (data[0] >> 3) : (data[0] & 2 ? 8 : 0);
	uint32_t step = data[1] & 1 ? 960 : 160;
	uint64_t wall;
	memcpy(&wall, data + 12, sizeof(wall));
	rtc_rtp_init(&st, pt, step, rd32(data + 2), (uint16_t)(data[6] << 8 | data[7]), rd32(data + 8));
	if (plen > 65535)
		plen = 65535;
	for (unsigned i = 0; i < 3; i++) {
		n = rtc_rtp_write(&st, pkt, payload, (uint16_t)plen);
		if (n != 12 + plen || rtc_packet_kind(pkt, n) != RTC_PACKET_RTP || (pkt[1] & 0x7f) != pt ||
		    (pkt[1] & 0x80) != (i == 0 ? 0x80 : 0) || memcmp(pkt + 12, payload, plen) != 0)
			abort();
		rtc_rtp_skip(&st, data[1] >> 1);
	}
	const uint8_t *nul = memchr(payload, '\0', plen);
	size_t clen = nul ? plen - (size_t)(nul + 1 - payload) : 0;
	if (clen >= sizeof(cname))
		clen = sizeof(cname) - 1;
	if (nul)
		memcpy(cname, nul + 1, clen);
	cname[clen] = '\0';
	/* A buffer one byte short of what the report needs gets nothing written past its end. */
	n = rtc_rtcp_sr_write(rtcp, sizeof(rtcp), &st, wall, cname);
	if (n == 0 || n > sizeof(rtcp) || n % 4 || rtc_packet_kind(rtcp, n) != RTC_PACKET_RTCP ||
	    !rtcp_compound_ok(rtcp, n) || rd32(rtcp + 20) != 3 || rd32(rtcp + 24) != 3 * plen)
		abort();
	uint8_t *tight = malloc(n - 1);
	if (!tight || rtc_rtcp_sr_write(tight, n - 1, &st, wall, cname) != 0)
		abort();
	free(tight);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtc_stun_req req;

	/* The receive side: what session_rx.c dispatches on. */
	switch (rtc_packet_kind(data, size)) {
	case RTC_PACKET_STUN:
		rtc_stun_parse(&req, data, size);
		break;
	case RTC_PACKET_RTCP:
		if (size < 8 || !rtc_rtp_is_rtcp(data, size))
			abort();
		break;
	case RTC_PACKET_RTP:
		if (size == 0 || data[0] < 128 || data[0] > 191 || rtc_rtp_is_rtcp(data, size))
			abort();
		break;
	case RTC_PACKET_DTLS:
		if (data[0] < 20 || data[0] > 63)
			abort();
		break;
	case RTC_PACKET_OTHER:
		break;
	}
	if (size >= 20)
		write_side(data, size);
	return 0;
}
