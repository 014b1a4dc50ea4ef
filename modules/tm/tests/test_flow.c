/* Flow tokens (flow.c): a WebSocket connection named in Record-Route survives the round trip; forgeries do
 * not. */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include "fake.h"

static struct sipd_dest ws_dest(const char *ip, uint16_t port, uint64_t id)
{
	struct sipd_dest d;

	memset(&d, 0, sizeof(d));
	d.proto = SIPD_PROTO_WS;
	d.conn_id = id;
	if (inet_pton(AF_INET, ip, &d.addr.sin.sin_addr) == 1) {
		d.addr.sin.sin_family = AF_INET;
		d.addr.sin.sin_port = htons(port);
	} else {
		inet_pton(AF_INET6, ip, &d.addr.sin6.sin6_addr);
		d.addr.sin6.sin6_family = AF_INET6;
		d.addr.sin6.sin6_port = htons(port);
	}
	return d;
}

static void setup(void)
{
	fake_setup();
	cr_assert_eq(tm_flow_init(), 0);
}

TestSuite(flow, .init = setup);

Test(flow, round_trip_v4_and_v6)
{
	const char *ips[] = {"127.0.0.1", "2001:db8::7"};

	for (int i = 0; i < 2; i++) {
		struct sipd_dest d = ws_dest(ips[i], 49152, (UINT64_C(1) << 62) | 42), back;
		char tok[128];

		cr_assert_eq(tm_flow_encode(tok, sizeof(tok), &d), 0);
		cr_assert_eq(tm_flow_decode(&back, sipd_str_c(tok)), 0, "%s", tok);
		cr_assert_eq(back.proto, SIPD_PROTO_WS);
		cr_assert_eq(back.conn_id, d.conn_id);
		cr_assert_eq(sipd_sockaddr_port(&back.addr), 49152);
		cr_assert_eq(back.addr.sa.sa_family, d.addr.sa.sa_family);
	}
}

Test(flow, only_ws_connections_get_tokens)
{
	struct sipd_dest d = ws_dest("127.0.0.1", 1, 9);
	char tok[128];

	d.proto = SIPD_PROTO_TCP;
	cr_assert_eq(tm_flow_encode(tok, sizeof(tok), &d), EINVAL);
	d.proto = SIPD_PROTO_WSS;
	d.conn_id = 0;
	cr_assert_eq(tm_flow_encode(tok, sizeof(tok), &d), EINVAL);
	d.conn_id = 9;
	cr_assert_eq(tm_flow_encode(tok, 10, &d), ENOSPC);
}

Test(flow, tampering_is_detected)
{
	struct sipd_dest d = ws_dest("127.0.0.1", 1234, 77), back;
	char tok[128];

	cr_assert_eq(tm_flow_encode(tok, sizeof(tok), &d), 0);
	/* another connection id in the same token: the MAC no longer fits */
	tok[17] = tok[17] == '0' ? '1' : '0';
	cr_assert_eq(tm_flow_decode(&back, sipd_str_c(tok)), EBADMSG);
}

Test(flow, another_process_key_is_not_ours)
{
	struct sipd_dest d = ws_dest("127.0.0.1", 1234, 77), back;
	char tok[128];

	cr_assert_eq(tm_flow_encode(tok, sizeof(tok), &d), 0);
	cr_assert_eq(tm_flow_init(), 0); /* a restart */
	cr_assert_eq(tm_flow_decode(&back, sipd_str_c(tok)), EBADMSG);
}

Test(flow, malformed_user_parts)
{
	struct sipd_dest back;

	cr_assert_eq(tm_flow_decode(&back, sipd_str_c("alice")), EINVAL);
	cr_assert_eq(tm_flow_decode(&back, sipd_str_c("")), EINVAL);
	cr_assert_eq(tm_flow_decode(&back, sipd_str_c("zz0102030405060708090a0b0c0d0e0f1011121314151617")),
		     EINVAL);
	cr_assert_eq(tm_flow_decode(&back, sipd_str_c("ABCDEF")), EINVAL);
}
