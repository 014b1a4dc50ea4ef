/* Transport helpers: peer strings ("tcp:[::1]:5062") both ways. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include <sipd/transport.h>

Test(transport, peer_strings_round_trip)
{
	union sipd_sockaddr a, b;
	enum sipd_proto p;
	char buf[96];

	memset(&a, 0, sizeof(a));
	a.sin6.sin6_family = AF_INET6;
	a.sin6.sin6_addr.s6_addr[15] = 1;
	a.sin6.sin6_port = htons(5062);
	sipd_peer_format(buf, sizeof(buf), SIPD_PROTO_TCP, &a);
	cr_assert_str_eq(buf, "tcp:[::1]:5062");
	cr_assert_eq(sipd_peer_parse(sipd_str_c(buf), &p, &b), 0);
	cr_assert_eq(p, SIPD_PROTO_TCP);
	cr_assert_eq(memcmp(&a.sin6.sin6_addr, &b.sin6.sin6_addr, 16), 0);
	cr_assert_eq(sipd_peer_parse(sipd_str_c("udp:1.2.3.4:5060"), &p, &b), 0);
	cr_assert_eq(ntohs(b.sin.sin_port), 5060);
	cr_assert_neq(sipd_peer_parse(sipd_str_c("udp:1.2.3.4"), &p, &b), 0);
	cr_assert_neq(sipd_peer_parse(sipd_str_c("bogus"), &p, &b), 0);
	cr_assert_neq(sipd_peer_parse(sipd_str_c("tcp:1.2.3.4:70000"), &p, &b), 0);
	cr_assert_neq(sipd_peer_parse(sipd_str_c("sctp:1.2.3.4:5060"), &p, &b), 0);
}
