/* RTP packetisation (RFC 3550 headers, marker, sequence and timestamp steps) and the RTCP SR. */
#include <criterion/criterion.h>
#include <string.h>

#include "media_int.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

Test(rtp, opus_headers_and_steps)
{
	struct rtc_rtp_state st;
	uint8_t pkt[200], payload[3] = {1, 2, 3};

	rtc_rtp_init(&st, 111, 960, 0xa1b2c3d4, 65534, 0xfffffc40);
	size_t n = rtc_rtp_write(&st, pkt, payload, 3);
	cr_assert_eq(n, 15);
	cr_assert_eq(pkt[0], 0x80);
	cr_assert_eq(pkt[1], 0x80 | 111, "marker on the first packet");
	cr_assert_eq(pkt[2] << 8 | pkt[3], 65534);
	cr_assert_eq(rd32(pkt + 4), 0xfffffc40);
	cr_assert_eq(rd32(pkt + 8), 0xa1b2c3d4);
	cr_assert_eq(memcmp(pkt + 12, payload, 3), 0);
	rtc_rtp_write(&st, pkt, payload, 3);
	cr_assert_eq(pkt[1], 111, "no marker after the first");
	cr_assert_eq(pkt[2] << 8 | pkt[3], 65535);
	cr_assert_eq(rd32(pkt + 4), 0xfffffc40u + 960u);
	rtc_rtp_write(&st, pkt, payload, 3);
	cr_assert_eq(pkt[2] << 8 | pkt[3], 0, "sequence wraps");
	cr_assert_eq(rd32(pkt + 4), (uint32_t)(0xfffffc40u + 1920u), "timestamp wraps");
	cr_assert_eq(st.packets, 3);
	cr_assert_eq(st.octets, 9);
}

Test(rtp, g711_steps_160_and_skip_keeps_the_timeline)
{
	struct rtc_rtp_state st;
	uint8_t pkt[200], payload[160];

	memset(payload, 0xff, sizeof(payload));
	rtc_rtp_init(&st, 0, 160, 1, 10, 1000);
	rtc_rtp_write(&st, pkt, payload, 160);
	rtc_rtp_skip(&st, 3);
	rtc_rtp_write(&st, pkt, payload, 160);
	cr_assert_eq(rd32(pkt + 4), 1000u + 160u * 4u);
	cr_assert_eq(pkt[2] << 8 | pkt[3], 11, "skipped frames use no sequence numbers");
	cr_assert_eq(pkt[1], 0);
}

Test(rtp, sender_report_with_cname)
{
	struct rtc_rtp_state st;
	uint8_t pkt[200], payload[10] = {0};

	rtc_rtp_init(&st, 111, 960, 0x01020304, 0, 5000);
	for (int i = 0; i < 4; i++)
		rtc_rtp_write(&st, pkt, payload, 10);
	/* 1970-01-01T00:00:01.5 */
	size_t n = rtc_rtcp_sr_write(pkt, sizeof(pkt), &st, 1500000000ULL, "abc");
	cr_assert_eq(n, 28 + 16);
	cr_assert_eq(pkt[0], 0x80);
	cr_assert_eq(pkt[1], 200);
	cr_assert_eq(pkt[2] << 8 | pkt[3], 6);
	cr_assert_eq(rd32(pkt + 4), 0x01020304);
	cr_assert_eq(rd32(pkt + 8), 2208988801u, "NTP seconds");
	cr_assert_eq(rd32(pkt + 12), 0x80000000u, "NTP fraction of .5 s");
	cr_assert_eq(rd32(pkt + 16), 5000u + 3u * 960u, "timestamp of the last packet sent");
	cr_assert_eq(rd32(pkt + 20), 4);
	cr_assert_eq(rd32(pkt + 24), 40);
	cr_assert_eq(pkt[28], 0x81);
	cr_assert_eq(pkt[29], 202);
	cr_assert_eq(pkt[30] << 8 | pkt[31], 3);
	cr_assert_eq(pkt[36], 1);
	cr_assert_eq(pkt[37], 3);
	cr_assert_eq(memcmp(pkt + 38, "abc", 3), 0);
	cr_assert_eq(pkt[41], 0, "end of items");
	cr_assert(rtc_rtp_is_rtcp(pkt, n));
	cr_assert_eq(rtc_rtcp_sr_write(pkt, 30, &st, 0, "abc"), 0);
}

Test(rtp, rtcp_demux_by_payload_type)
{
	uint8_t rtp[12] = {0x80, 0x80 | 111}, rtcp_rr[8] = {0x81, 201};

	cr_assert(!rtc_rtp_is_rtcp(rtp, sizeof(rtp)));
	cr_assert(rtc_rtp_is_rtcp(rtcp_rr, sizeof(rtcp_rr)));
	cr_assert(!rtc_rtp_is_rtcp(rtcp_rr, 4));
}
