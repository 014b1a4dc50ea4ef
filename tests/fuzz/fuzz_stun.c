/* libFuzzer target: a datagram through rtc_player's ICE-lite STUN handling (parse, USERNAME, integrity,
 * fingerprint) and, for a valid request, the success response and a request rebuilt from its fields. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The RFC 5769 §2.1 credentials, so the seed vectors verify and the fuzzer starts from valid messages. */
static const char pwd[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* What session_rx.c does with a STUN datagram, and the answer it sends. */
static void handle(const uint8_t *buf, size_t len)
{
	struct sockaddr_in6 from6 = {.sin6_family = AF_INET6, .sin6_port = htons(54321)};
	struct sockaddr_in from4 = {.sin_family = AF_INET, .sin_port = htons(32853)};
	struct rtc_stun_req req, back;
	uint8_t resp[RTC_STUN_MAX];
	size_t n;

	if (rtc_stun_parse(&req, buf, len) != 0)
		return;
	if (req.username_len && !req.username)
		abort();
	rtc_stun_username_ok(&req, "evtj", "h6vY");
	if (rtc_stun_check(buf, len, (const uint8_t *)pwd, strlen(pwd)) != 0)
		return;
	inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &from6.sin6_addr);
	inet_pton(AF_INET, "192.0.2.1", &from4.sin_addr);
	/* Our responses verify with the same key and carry the request's transaction id. */
	n = rtc_stun_success(resp, sizeof(resp), req.txid,
			     (const struct sockaddr *)(req.use_candidate ? (void *)&from6 : (void *)&from4),
			     NULL, (const uint8_t *)pwd, strlen(pwd));
	if (n == 0 || n > sizeof(resp) || rtc_stun_check(resp, n, (const uint8_t *)pwd, strlen(pwd)) != 0 ||
	    memcmp(resp + 8, req.txid, 12) != 0)
		abort();
	/* A request built from the parsed USERNAME parses back to the same fields. */
	char user[514];
	if (req.username_len >= sizeof(user) || memchr(req.username, '\0', req.username_len))
		return;
	memcpy(user, req.username, req.username_len);
	user[req.username_len] = '\0';
	n = rtc_stun_request(resp, sizeof(resp), req.txid, user, req.use_candidate, (const uint8_t *)pwd,
			     strlen(pwd));
	if (n == 0)
		return; /* too long for RTC_STUN_MAX */
	if (rtc_stun_parse(&back, resp, n) != 0 || back.username_len != req.username_len ||
	    memcmp(back.username, req.username, req.username_len) != 0 ||
	    back.use_candidate != req.use_candidate || !back.has_integrity || !back.has_fingerprint ||
	    rtc_stun_check(resp, n, (const uint8_t *)pwd, strlen(pwd)) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 2048) /* session_rx.c reads datagrams into 2048 bytes */
		return 0;
	if (rtc_packet_kind(data, size) == RTC_PACKET_STUN)
		handle(data, size);
	/* rtc_stun_check alone, as any caller may use it. */
	rtc_stun_check(data, size, (const uint8_t *)pwd, strlen(pwd));
	return 0;
}
