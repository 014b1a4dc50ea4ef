/* libFuzzer target: an SDP offer through rtc_player's parser, codec choice and answer writer. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "media.h"
#include "media_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes the answer session.c would write for this offer and choice, into a buffer of size bytes. */
static int write_answer(char *buf, size_t size, size_t *len, const struct rtc_sdp_offer *o,
			const struct rtc_media_choice *c, int family)
{
	struct rtc_answer_params a = {
	    .offer = o,
	    .choice = c,
	    .address = family == AF_INET6 ? "2001:db8::1" : "192.0.2.10",
	    .family = family,
	    .port = 40000,
	    .sess_id = 1234567890123ull,
	    .ssrc = 0x11223344,
	    .cname = "fuzzcname",
	    .ice_ufrag = "fuzzufrag",
	    .ice_pwd = "fuzzpassword0123456789ab",
	    .fingerprint =
		"sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:"
		"99:AA:BB:CC:DD:EE:FF",
	    .crypto_b64 = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB",
	};

	return rtc_sdp_answer_write(buf, size, len, &a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char answer[16384];
	struct rtc_sdp_offer *offer, *again;
	struct rtc_media_choice choice;
	const char *reason = NULL;
	size_t len = 0, small_len = 0;
	char small[256];

	if (size > 65536)
		return 0;
	offer = malloc(sizeof(*offer));
	again = malloc(sizeof(*again));
	if (!offer || !again)
		abort();
	/* The body as the SIP parser hands it over: not NUL-terminated. */
	if (rtc_sdp_parse(offer, (const char *)data, size, &reason) != 0) {
		if (!reason)
			abort(); /* every failure must say why (Warning header of the 488) */
		goto out;
	}
	if (rtc_sdp_choose(&choice, offer, &reason) != 0) {
		if (!reason)
			abort();
		goto out;
	}
	if (choice.kind == RTC_MEDIA_SDES &&
	    (choice.crypto_index < 0 || (unsigned)choice.crypto_index >= offer->crypto_count))
		abort();
	/* Our answer must be an SDP we accept ourselves, with our audio line chosen the same way. */
	if (write_answer(answer, sizeof(answer), &len, offer, &choice,
			 offer->port & 1 ? AF_INET6 : AF_INET) != 0)
		goto out; /* ENOSPC: eight m= lines of long tokens may not fit */
	if (len >= sizeof(answer) || strlen(answer) != len)
		abort();
	if (rtc_sdp_parse(again, answer, len, &reason) != 0)
		abort();
	if (again->mline_count != offer->mline_count || again->audio_index != offer->audio_index ||
	    again->port != 40000 || again->pt_count != 1 || again->pts[0] != choice.pt)
		abort();
	/* A buffer too small must give ENOSPC, never a partial write past its end. */
	int err = write_answer(small, sizeof(small), &small_len, offer, &choice, AF_INET);
	if (err != 0 && err != ENOSPC)
		abort();
out:
	free(again);
	free(offer);
	return 0;
}
