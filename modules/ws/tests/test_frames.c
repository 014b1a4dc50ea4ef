/* Unit tests: WebSocket frame headers on the wire, message reassembly and the RFC 6455 frame rules
 * (frames.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "frames.h"

#define FIN 0x80
#define MAX 64

static struct ws_asm a;
static struct ws_event ev;

static void teardown(void)
{
	ws_asm_free(&a);
}

TestSuite(frames, .fini = teardown);

static enum ws_verdict feed(int bits, const char *s)
{
	return ws_asm_feed(&a, bits, s, strlen(s), MAX, &ev);
}

Test(frames, whole_text_message_is_passed_without_copy)
{
	const char *msg = "OPTIONS sip:a@b SIP/2.0\r\n\r\n";

	cr_assert_eq(feed(FIN | WS_OP_TEXT, msg), WS_MESSAGE);
	cr_assert_eq(ev.data, msg);
	cr_assert_eq(ev.len, strlen(msg));
	cr_assert_not(ev.binary);
}

Test(frames, binary_message)
{
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_BINARY, "\xff\x00", 2, MAX, &ev), WS_MESSAGE);
	cr_assert(ev.binary);
	cr_assert_eq(ev.len, 2);
}

Test(frames, fragments_are_joined)
{
	cr_assert_eq(feed(WS_OP_TEXT, "REGISTER "), WS_MORE);
	cr_assert_eq(feed(WS_OP_CONT, "sip:x "), WS_MORE);
	cr_assert_eq(feed(FIN | WS_OP_CONT, "SIP/2.0"), WS_MESSAGE);
	cr_assert_eq(ev.len, strlen("REGISTER sip:x SIP/2.0"));
	cr_assert_eq(memcmp(ev.data, "REGISTER sip:x SIP/2.0", ev.len), 0);
	/* and the next message starts clean */
	cr_assert_eq(feed(FIN | WS_OP_TEXT, "A"), WS_MESSAGE);
	cr_assert_eq(ev.len, 1);
}

Test(frames, empty_fragments_make_an_empty_message)
{
	/* Found by fuzz_ws_frames: an empty first fragment did arithmetic on the NULL buffer (UBSan). */
	cr_assert_eq(feed(WS_OP_TEXT, ""), WS_MORE);
	cr_assert_eq(feed(WS_OP_CONT, ""), WS_MORE);
	cr_assert_eq(feed(FIN | WS_OP_CONT, ""), WS_MESSAGE);
	cr_assert_eq(ev.len, 0);
	cr_assert_not(ev.binary);
}

Test(frames, control_frame_between_fragments)
{
	cr_assert_eq(feed(WS_OP_TEXT, "ab"), WS_MORE);
	cr_assert_eq(feed(FIN | WS_OP_PING, "p"), WS_PING);
	cr_assert_eq(ev.len, 1);
	cr_assert_eq(feed(FIN | WS_OP_CONT, "cd"), WS_MESSAGE);
	cr_assert_eq(memcmp(ev.data, "abcd", 4), 0);
}

Test(frames, continuation_without_start_is_a_protocol_error)
{
	cr_assert_eq(feed(FIN | WS_OP_CONT, "x"), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_PROTOCOL);
}

Test(frames, new_message_inside_fragmented_one)
{
	cr_assert_eq(feed(WS_OP_TEXT, "x"), WS_MORE);
	cr_assert_eq(feed(FIN | WS_OP_TEXT, "y"), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_PROTOCOL);
}

Test(frames, reserved_bits_and_unknown_opcodes)
{
	cr_assert_eq(feed(FIN | 0x40 | WS_OP_TEXT, "x"), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_PROTOCOL);
	cr_assert_eq(feed(FIN | 0x3, "x"), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_PROTOCOL);
	cr_assert_eq(feed(FIN | 0xb, "x"), WS_FAIL);
}

Test(frames, control_frames_are_never_fragmented_nor_long)
{
	char big[126];

	memset(big, 'a', sizeof(big));
	cr_assert_eq(feed(WS_OP_PING, "x"), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_PROTOCOL);
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_PING, big, sizeof(big), MAX * 4, &ev), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_PROTOCOL);
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_PONG, big, 125, MAX * 4, &ev), WS_PONG);
}

Test(frames, close_codes)
{
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_CLOSE, "", 0, MAX, &ev), WS_CLOSE);
	cr_assert_eq(ev.code, 0);
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_CLOSE,
				 "\x03\xe8"
				 "bye",
				 5, MAX, &ev),
		     WS_CLOSE);
	cr_assert_eq(ev.code, 1000);
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_CLOSE, "\x03", 1, MAX, &ev), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_PROTOCOL);
	/* 1005 and 1006 must never be sent on the wire */
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_CLOSE, "\x03\xed", 2, MAX, &ev), WS_FAIL);
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_CLOSE, "\x0f\xa0", 2, MAX, &ev), WS_CLOSE); /* 4000 */
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_CLOSE, "\x03\xe8\xff", 3, MAX, &ev), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_BAD_DATA);
}

Test(frames, size_limit_on_one_frame)
{
	char big[MAX + 1];

	memset(big, 'a', sizeof(big));
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_TEXT, big, MAX, MAX, &ev), WS_MESSAGE);
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_TEXT, big, MAX + 1, MAX, &ev), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_TOO_BIG);
}

Test(frames, size_limit_on_the_sum_of_fragments)
{
	char part[MAX / 2];

	memset(part, 'a', sizeof(part));
	cr_assert_eq(ws_asm_feed(&a, WS_OP_TEXT, part, sizeof(part), MAX, &ev), WS_MORE);
	cr_assert_eq(ws_asm_feed(&a, WS_OP_CONT, part, sizeof(part), MAX, &ev), WS_MORE);
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_CONT, "a", 1, MAX, &ev), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_TOO_BIG);
	/* the failed message is forgotten */
	cr_assert_eq(feed(FIN | WS_OP_TEXT, "ok"), WS_MESSAGE);
}

Test(frames, text_must_be_utf8)
{
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_TEXT, "a\xc3", 2, MAX, &ev), WS_FAIL);
	cr_assert_eq(ev.code, WS_CLOSE_BAD_DATA);
	/* a sequence split across fragments is fine once joined */
	cr_assert_eq(ws_asm_feed(&a, WS_OP_TEXT, "\xc3", 1, MAX, &ev), WS_MORE);
	cr_assert_eq(ws_asm_feed(&a, FIN | WS_OP_CONT, "\xa9", 1, MAX, &ev), WS_MESSAGE);
}

Test(frames, utf8_validation)
{
	cr_assert(ws_utf8_valid("plain", 5));
	cr_assert(ws_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9)); /* é € 😀 */
	cr_assert_not(ws_utf8_valid("\xc0\xaf", 2));                         /* overlong */
	cr_assert_not(ws_utf8_valid("\xed\xa0\x80", 3));                     /* surrogate */
	cr_assert_not(ws_utf8_valid("\xf4\x90\x80\x80", 4));                 /* past U+10FFFF */
	cr_assert_not(ws_utf8_valid("\xe2\x82", 2));                         /* truncated */
	cr_assert_not(ws_utf8_valid("\x80", 1));
}

/* The wire side: headers as a client sends them. */
Test(wire, small_masked_frame)
{
	const unsigned char b[] = {0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1};
	char payload[5];
	struct ws_frame f;

	cr_assert_eq(ws_frame_parse((const char *)b, 1, MAX, &f), WS_FRAME_MORE);
	cr_assert_eq(ws_frame_parse((const char *)b, 5, MAX, &f), WS_FRAME_MORE,
		     "the mask key is not there yet");
	cr_assert_eq(ws_frame_parse((const char *)b, sizeof(b), MAX, &f), WS_FRAME_OK);
	cr_assert_eq(f.bits, FIN | WS_OP_TEXT);
	cr_assert_eq(f.hdr_len, 6);
	cr_assert_eq(f.len, 5);
	memcpy(payload, b + 6, 5);
	ws_unmask(payload, 5, f.mask);
	cr_assert_eq(memcmp(payload, "hello", 5), 0);
}

Test(wire, extended_lengths)
{
	unsigned char b16[8] = {0x82, 0x80 | 126, 0x01, 0x00, 9, 9, 9, 9};
	unsigned char b64[14] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 9, 9, 9, 9};
	struct ws_frame f;

	cr_assert_eq(ws_frame_parse((const char *)b16, 4, 1024, &f), WS_FRAME_MORE);
	cr_assert_eq(ws_frame_parse((const char *)b16, 8, 1024, &f), WS_FRAME_OK);
	cr_assert_eq(f.len, 256);
	cr_assert_eq(f.hdr_len, 8);
	cr_assert_eq(ws_frame_parse((const char *)b64, 14, 1024, &f), WS_FRAME_OK);
	cr_assert_eq(f.len, 256);
	cr_assert_eq(f.hdr_len, 14);
}

Test(wire, unmasked_client_frame_is_1002)
{
	const unsigned char b[] = {0x81, 0x02, 'h', 'i'};
	struct ws_frame f;

	cr_assert_eq(ws_frame_parse((const char *)b, sizeof(b), MAX, &f), WS_FRAME_BAD);
	cr_assert_eq(f.code, WS_CLOSE_PROTOCOL);
	cr_assert_eq(ws_frame_parse((const char *)b, 2, MAX, &f), WS_FRAME_BAD,
		     "known from the second byte on");
}

Test(wire, lengths_over_the_limit_or_with_the_top_bit_set)
{
	unsigned char big[14] = {0x82, 0x80 | 127, 0, 0, 0, 1, 0, 0, 0, 0, 9, 9, 9, 9};
	unsigned char top[14] = {0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 9, 9, 9, 9};
	struct ws_frame f;

	cr_assert_eq(ws_frame_parse((const char *)big, sizeof(big), MAX, &f), WS_FRAME_BAD);
	cr_assert_eq(f.code, WS_CLOSE_TOO_BIG, "refused from the header, before any payload");
	cr_assert_eq(ws_frame_parse((const char *)top, sizeof(top), MAX, &f), WS_FRAME_BAD);
	cr_assert_eq(f.code, WS_CLOSE_PROTOCOL);
}

Test(wire, server_headers_use_the_shortest_length)
{
	unsigned char h[10];

	cr_assert_eq(ws_frame_header((char *)h, WS_OP_TEXT, 125), 2);
	cr_assert_eq(h[0], FIN | WS_OP_TEXT);
	cr_assert_eq(h[1], 125, "no mask bit from a server");
	cr_assert_eq(ws_frame_header((char *)h, WS_OP_BINARY, 126), 4);
	cr_assert_eq(h[1], 126);
	cr_assert_eq((h[2] << 8) | h[3], 126);
	cr_assert_eq(ws_frame_header((char *)h, WS_OP_TEXT, 70000), 10);
	cr_assert_eq(h[1], 127);
	cr_assert_eq(((unsigned)h[7] << 16) | (h[8] << 8) | h[9], 70000);
}

Test(wire, unmask_any_length_and_alignment)
{
	const uint8_t key[4] = {0xa1, 0xb2, 0xc3, 0xd4};
	char buf[37], orig[37];

	for (size_t i = 0; i < sizeof(buf); i++)
		orig[i] = buf[i] = (char)(i * 7);
	ws_unmask(buf + 1, 35, key);
	for (size_t i = 0; i < 35; i++)
		cr_assert_eq((unsigned char)buf[1 + i], (unsigned char)(orig[1 + i] ^ key[i & 3]));
	ws_unmask(buf + 1, 35, key);
	cr_assert_eq(memcmp(buf, orig, sizeof(buf)), 0, "masking twice gives the bytes back");
}
