/* Parse benchmark: a typical INVITE, first pass plus the headers every request touches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parser_int.h"

static const char invite[] =
    "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:alice@pc33.atlanta.example.com;transport=udp>\r\n"
    "Supported: timer, replaces\r\n"
    "Session-Expires: 1800;refresher=uac\r\n"
    "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n"
    "User-Agent: perf/1.0\r\n"
    "Content-Type: application/sdp\r\n"
    "Content-Length: 142\r\n"
    "\r\n"
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.101\r\n"
    "t=0 0\r\n"
    "m=audio 49172 RTP/AVP 0\r\n"
    "a=rtpmap:0 PCMU/8000\r\n";

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One message's worth of work; returns nonzero if anything failed. */
static int one(void)
{
	const struct sipd_nameaddr *from, *to, *contact;
	const struct sipd_via *via;
	const struct sipd_cseq *cseq;
	const struct sipd_str *callid;
	struct sipd_msg *m;
	const char *why;
	int bad;

	if (parser_parse(&m, invite, sizeof(invite) - 1, NULL, &why))
		return 1;
	bad = sipd_msg_from(m, &from) || sipd_msg_to(m, &to) || sipd_msg_via(m, &via) ||
	      sipd_msg_cseq(m, &cseq) || sipd_msg_hdr(m, m->h_call_id, (const void **)&callid) ||
	      sipd_msg_contact(m, &contact) || from->tag.len == 0 || cseq->number != 314159;
	parser_free(m);
	return bad;
}

int main(int argc, char **argv)
{
	long i, n = argc > 1 ? atol(argv[1]) : 1000000;
	double t0, t1;

	if (n <= 0)
		n = 1000000;
	for (i = 0; i < n / 10; i++)
		if (one()) {
			fprintf(stderr, "parse failed\n");
			return 1;
		}
	t0 = now_ns();
	for (i = 0; i < n; i++)
		one();
	t1 = now_ns();
	printf("parse INVITE: %.0f ns\n", (t1 - t0) / (double)n);
	return 0;
}
