/* Stateless replies and the transport registry: response destinations, extra headers, sending. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sipd/core.h>
#include <sipd/msg.h>
#include <sipd/script.h>
#include <sipd/transport.h>

#include "internal.h"

/* A message whose only parsed header is the Via below; reply_build records its arguments. */
static struct sipd_via via;
static bool via_missing;
static char arena[8192];
static size_t arena_used;

static struct {
	int code;
	char reason[128];
	char extra[1024];
} built;

static struct {
	int calls;
	struct sipd_dest dst;
	char buf[2048];
	int fail;
} sent;

static int fake_hdr_parsed(struct sipd_msg *m, struct sipd_hdr *h, const void **out)
{
	*out = &via;
	return 0;
}

static void *fake_alloc(struct sipd_msg *m, size_t size)
{
	void *p;

	if (arena_used + size > sizeof(arena))
		return NULL;
	p = arena + arena_used;
	arena_used += size;
	return p;
}

static int fake_reply_build(struct sipd_msg *m, int code, struct sipd_str reason, struct sipd_str extra,
			    struct sipd_str ct, struct sipd_str body, struct sipd_str *out)
{
	int n;
	char *buf;

	built.code = code;
	snprintf(built.reason, sizeof(built.reason), "%.*s", SIPD_STR_FMT(reason));
	snprintf(built.extra, sizeof(built.extra), "%.*s", SIPD_STR_FMT(extra));
	buf = fake_alloc(m, 1024);
	/* The layout msg.h documents: status line, copied headers, Server, extra lines, Content-Length. */
	n = snprintf(buf, 1024, "SIP/2.0 %d %s\r\nVia: fake\r\nServer: sipd\r\n%s%sContent-Length: 0\r\n\r\n",
		     code, built.reason, built.extra,
		     extra.len && extra.p[extra.len - 1] != '\n' ? "\r\n" : "");
	*out = (struct sipd_str){buf, (size_t)n};
	return 0;
}

static const struct sipd_msg_ops ops = {
    .hdr_parsed = fake_hdr_parsed,
    .alloc = fake_alloc,
    .reply_build = fake_reply_build,
};

static int fake_send(const struct sipd_dest *dst, const char *buf, size_t len)
{
	if (sent.fail)
		return sent.fail;
	sent.calls++;
	sent.dst = *dst;
	snprintf(sent.buf, sizeof(sent.buf), "%.*s", (int)len, buf);
	return 0;
}

static const struct sipd_transport fake_udp = {.proto = SIPD_PROTO_UDP, .name = "fake", .send = fake_send};
static const struct sipd_transport fake_tcp = {.proto = SIPD_PROTO_TCP, .name = "fake", .send = fake_send};

static struct sipd_hdr via_hdr = {.type = SIPD_HDR_VIA};
static struct sipd_rcvinfo rcv;
static struct sipd_msg msg;
static struct sipd_ctx ctx;

static void setup(void)
{
	memset(&via, 0, sizeof(via));
	via.host = SIPD_STR("client.example.com");
	via.port = 5070;
	via.protocol = SIPD_STR("UDP");
	via_missing = false;
	memset(&rcv, 0, sizeof(rcv));
	rcv.proto = SIPD_PROTO_UDP;
	rcv.src.sin.sin_family = AF_INET;
	rcv.src.sin.sin_port = htons(40000);
	inet_pton(AF_INET, "192.0.2.7", &rcv.src.sin.sin_addr);
	memset(&msg, 0, sizeof(msg));
	msg.ops = &ops;
	msg.rcv = &rcv;
	msg.is_request = true;
	msg.method = SIPD_STR("INVITE");
	msg.method_id = SIPD_METHOD_INVITE;
	msg.h_via = &via_hdr;
	memset(&ctx, 0, sizeof(ctx));
	ctx.msg = &msg;
	ctx.rcv = &rcv;
	ctx.route = SIPD_ROUTE_REQUEST;
	memset(&built, 0, sizeof(built));
	memset(&sent, 0, sizeof(sent));
	arena_used = 0;
	cr_assert_eq(sipd_transport_register(&fake_udp), 0);
	cr_assert_eq(sipd_transport_register(&fake_tcp), 0);
}

TestSuite(reply, .init = setup);

Test(reply, udp_without_rport_goes_to_source_ip_and_via_port)
{
	struct sipd_dest d;
	char ip[64];

	cr_assert_eq(sipd_response_dest(&d, &msg), 0);
	cr_assert_eq(d.proto, SIPD_PROTO_UDP);
	cr_assert_str_eq(sipd_sockaddr_ip(&d.addr, ip, sizeof(ip)), "192.0.2.7");
	cr_assert_eq(sipd_sockaddr_port(&d.addr), 5070);
	cr_assert_eq(d.conn_id, 0);
}

Test(reply, udp_via_without_port_defaults_to_5060)
{
	struct sipd_dest d;

	via.port = 0;
	cr_assert_eq(sipd_response_dest(&d, &msg), 0);
	cr_assert_eq(sipd_sockaddr_port(&d.addr), 5060);
}

Test(reply, rport_answers_the_source_port)
{
	struct sipd_dest d;

	via.rport = true;
	via.rport_value = -1;
	cr_assert_eq(sipd_response_dest(&d, &msg), 0);
	cr_assert_eq(sipd_sockaddr_port(&d.addr), 40000);
}

Test(reply, ipv6_source_keeps_its_family)
{
	struct sipd_dest d;
	char ip[64];

	memset(&rcv.src, 0, sizeof(rcv.src));
	rcv.src.sin6.sin6_family = AF_INET6;
	rcv.src.sin6.sin6_port = htons(40001);
	inet_pton(AF_INET6, "::1", &rcv.src.sin6.sin6_addr);
	cr_assert_eq(sipd_response_dest(&d, &msg), 0);
	cr_assert_str_eq(sipd_sockaddr_ip(&d.addr, ip, sizeof(ip)), "::1");
	cr_assert_eq(sipd_sockaddr_port(&d.addr), 5070);
}

Test(reply, stream_uses_the_same_connection)
{
	struct sipd_dest d;

	rcv.proto = SIPD_PROTO_TCP;
	rcv.conn_id = 42;
	cr_assert_eq(sipd_response_dest(&d, &msg), 0);
	cr_assert_eq(d.proto, SIPD_PROTO_TCP);
	cr_assert_eq(d.conn_id, 42);
	cr_assert_eq(sipd_sockaddr_port(&d.addr), 40000, "the source is the fallback address");
}

Test(reply, no_via_is_not_answered)
{
	msg.h_via = NULL;
	cr_assert_neq(sipd_reply(&ctx, 400, "Missing Via", NULL), 0);
	cr_assert_eq(sent.calls, 0);
	cr_assert_not(ctx.replied);
}

Test(reply, ack_is_never_answered)
{
	msg.method = SIPD_STR("ACK");
	msg.method_id = SIPD_METHOD_ACK;
	cr_assert_eq(sipd_reply(&ctx, 400, "Bad", NULL), 0);
	cr_assert_eq(sent.calls, 0);
}

Test(reply, error_reply_passes_extra_headers_without_capabilities)
{
	cr_assert_eq(sipd_reply(&ctx, 404, "Nobody", "X-Test: 1\r\n"), 0);
	cr_assert_eq(sent.calls, 1);
	cr_assert_eq(built.code, 404);
	cr_assert_str_eq(built.reason, "Nobody");
	cr_assert_str_eq(built.extra, "X-Test: 1\r\n");
	cr_assert(ctx.replied);
	cr_assert(strstr(sent.buf, "SIP/2.0 404 Nobody\r\n"));
}

Test(reply, missing_reason_gets_the_standard_phrase)
{
	cr_assert_eq(sipd_reply(&ctx, 483, NULL, NULL), 0);
	cr_assert_str_eq(built.reason, "Too Many Hops");
	cr_assert_eq(sipd_reply(&ctx, 499, "", NULL), 0);
	cr_assert_str_eq(built.reason, "Client Error");
}

Test(reply, reason_with_line_break_is_refused)
{
	cr_assert_eq(sipd_reply(&ctx, 400, "Bad\r\nX-Injected: 1", NULL), EINVAL);
	cr_assert_eq(sent.calls, 0);
}

Test(reply, bad_codes_are_refused)
{
	cr_assert_eq(sipd_reply(&ctx, 99, "x", NULL), EINVAL);
	cr_assert_eq(sipd_reply(&ctx, 700, "x", NULL), EINVAL);
	cr_assert_eq(sent.calls, 0);
}

Test(reply, provisional_does_not_finish_the_request)
{
	cr_assert_eq(sipd_reply(&ctx, 100, NULL, NULL), 0);
	cr_assert_eq(sent.calls, 1);
	cr_assert_not(ctx.replied);
}

Test(reply, options_ok_advertises_capabilities)
{
	cr_assert_eq(sipd_allow_method("OPTIONS"), 0);
	cr_assert_eq(sipd_allow_method("INVITE"), 0);
	cr_assert_eq(sipd_support_option("timer"), 0);
	msg.method = SIPD_STR("OPTIONS");
	msg.method_id = SIPD_METHOD_OPTIONS;
	cr_assert_eq(sipd_reply(&ctx, 200, "OK", "X-Last: 1\r\n"), 0);
	cr_assert(strstr(built.extra, "Allow: "), "extra: %s", built.extra);
	cr_assert(strstr(built.extra, "OPTIONS"), "extra: %s", built.extra);
	cr_assert(strstr(built.extra, "Accept: application/sdp\r\n"), "extra: %s", built.extra);
	cr_assert(strstr(built.extra, "Supported: timer\r\n"), "extra: %s", built.extra);
	cr_assert(strstr(built.extra, "X-Last: 1\r\n"), "extra: %s", built.extra);
}

Test(reply, method_not_allowed_carries_allow)
{
	cr_assert_eq(sipd_reply(&ctx, 405, NULL, NULL), 0);
	cr_assert(!strncmp(built.extra, "Allow: ", 7), "extra: %s", built.extra);
	cr_assert_str_eq(built.reason, "Method Not Allowed");
}

Test(reply, send_failure_is_returned_and_request_stays_open)
{
	sent.fail = EMSGSIZE;
	cr_assert_eq(sipd_reply(&ctx, 500, NULL, NULL), EMSGSIZE);
	cr_assert_not(ctx.replied);
}

Test(reply, warning_header_names_the_agent_and_escapes_the_text)
{
	struct sipd_listen l = {.proto = SIPD_PROTO_UDP, .host = "192.0.2.7", .port = 5070};
	struct sipd_rcvinfo ri = {.proto = SIPD_PROTO_UDP, .listen = &l};
	char buf[128];

	l.addr.sa.sa_family = AF_INET;
	static const char want[] = "Warning: 399 192.0.2.7:5070 \"Bad \\\"CSeq\\\" \\\\ here\"\r\n";

	cr_assert_eq(sipd_warning_header(buf, sizeof(buf), &ri, "Bad \"CSeq\" \\ here\r\n"),
		     (int)sizeof(want) - 1);
	cr_expect_str_eq(buf, want);
	snprintf(l.host, sizeof(l.host), "::");
	cr_assert_gt(sipd_warning_header(buf, sizeof(buf), &ri, "x"), 0);
	cr_expect_str_eq(buf, "Warning: 399 sipd \"x\"\r\n");
	/* too small: refused, never a header without its CRLF */
	cr_expect_eq(sipd_warning_header(buf, 20, &ri, "a longer reason"), -1);
}

Test(reply, later_sends_what_sipd_reply_would_and_only_when_asked)
{
	struct sipd_reply_later *r = NULL;
	char direct[2048];

	msg.method = SIPD_STR("REGISTER");
	msg.method_id = SIPD_METHOD_REGISTER;
	cr_assert_eq(sipd_reply(&ctx, 200, "OK", "Contact: <sip:a@192.0.2.7>;expires=60\r\n"), 0);
	snprintf(direct, sizeof(direct), "%s", sent.buf);
	memset(&sent, 0, sizeof(sent));
	cr_assert_eq(sipd_reply_later(&r, &ctx, 200, "OK", "Contact: <sip:a@192.0.2.7>;expires=60\r\n"), 0);
	cr_assert_eq(sent.calls, 0, "nothing is sent before it is asked for");
	msg.buf = NULL; /* the request is gone */
	cr_assert_eq(sipd_reply_later_send(r, 0, NULL, NULL), 0);
	cr_assert_eq(sent.calls, 1);
	cr_assert_str_eq(sent.buf, direct);
	cr_assert_eq(sipd_sockaddr_port(&sent.dst.addr), 5070);
	sipd_reply_later_free(r);
}

Test(reply, later_failure_swaps_status_and_extra_headers_and_keeps_the_rest)
{
	struct sipd_reply_later *r = NULL;
	char direct[2048];

	msg.method = SIPD_STR("REGISTER");
	msg.method_id = SIPD_METHOD_REGISTER;
	cr_assert_eq(sipd_reply(&ctx, 500, "Registration Not Stored", "Retry-After: 5"), 0);
	snprintf(direct, sizeof(direct), "%s", sent.buf);
	memset(&sent, 0, sizeof(sent));
	cr_assert_eq(sipd_reply_later(&r, &ctx, 200, NULL, "Contact: <sip:a@b>\r\nDate: x\r\n"), 0);
	cr_assert_eq(sipd_reply_later_send(r, 500, "Registration Not Stored", "Retry-After: 5"), 0);
	cr_assert_str_eq(sent.buf, direct);
	cr_assert_str_eq(sent.buf, "SIP/2.0 500 Registration Not Stored\r\nVia: fake\r\nServer: sipd\r\n"
				   "Retry-After: 5\r\nContent-Length: 0\r\n\r\n");
	cr_assert_eq(sipd_reply_later_send(r, 503, NULL, NULL), 0);
	cr_assert_str_eq(sent.buf, "SIP/2.0 503 Service Unavailable\r\nVia: fake\r\nServer: sipd\r\n"
				   "Content-Length: 0\r\n\r\n");
	cr_assert_eq(sipd_reply_later_send(r, 0, NULL, NULL), 0);
	cr_assert(strstr(sent.buf, "SIP/2.0 200 OK\r\n") == sent.buf, "%s", sent.buf);
	cr_assert(strstr(sent.buf, "Contact: <sip:a@b>\r\nDate: x\r\nContent-Length"), "%s", sent.buf);
	cr_assert_eq(sipd_reply_later_send(r, 180, NULL, NULL), EINVAL);
	cr_assert_eq(sipd_reply_later_send(r, 500, "Bad\r\nX: y", NULL), EINVAL);
	sipd_reply_later_free(r);
}

Test(reply, later_refuses_what_it_cannot_keep)
{
	struct sipd_reply_later *r = NULL;

	cr_assert_eq(sipd_reply_later(&r, &ctx, 180, NULL, NULL), EINVAL, "provisional");
	cr_assert_eq(sipd_reply_later(&r, &ctx, 405, NULL, NULL), EINVAL, "Allow is built when sent");
	cr_assert_eq(sipd_reply_later(&r, &ctx, 200, "Two\r\nLines", NULL), EINVAL);
	msg.method = SIPD_STR("OPTIONS");
	msg.method_id = SIPD_METHOD_OPTIONS;
	cr_assert_eq(sipd_reply_later(&r, &ctx, 200, NULL, NULL), EINVAL, "capabilities");
	msg.method = SIPD_STR("ACK");
	msg.method_id = SIPD_METHOD_ACK;
	cr_assert_eq(sipd_reply_later(&r, &ctx, 200, NULL, NULL), EINVAL, "ACK is never answered");
	msg.method = SIPD_STR("REGISTER");
	msg.method_id = SIPD_METHOD_REGISTER;
	msg.h_via = NULL;
	cr_assert_neq(sipd_reply_later(&r, &ctx, 200, NULL, NULL), 0, "no Via, nowhere to answer");
	cr_assert_null(r);
	cr_assert_eq(sent.calls, 0);
}

Test(transport, registry_refuses_duplicates_and_unknown_protocols)
{
	struct sipd_dest d = {.proto = SIPD_PROTO_TLS};

	cr_assert_eq(sipd_transport_register(&fake_udp), 0);
	cr_assert_eq(sipd_transport_register(&fake_udp), EEXIST);
	cr_assert_eq(sipd_send(&d, "x", 1), ENOTSUP);
	d.proto = (enum sipd_proto)99;
	cr_assert_eq(sipd_send(&d, "x", 1), EINVAL);
	cr_assert_eq(sipd_transport_register(NULL), EINVAL);
}

Test(transport, protocol_names_round_trip)
{
	cr_assert_str_eq(sipd_proto_name(SIPD_PROTO_WSS), "wss");
	cr_assert_eq(sipd_proto_parse(SIPD_STR("TCP")), SIPD_PROTO_TCP);
	cr_assert_eq(sipd_proto_parse(SIPD_STR("udp")), SIPD_PROTO_UDP);
	cr_assert_eq(sipd_proto_parse(SIPD_STR("sctp")), SIPD_PROTO_NONE);
	cr_assert_eq(sipd_proto_parse(SIPD_STR("")), SIPD_PROTO_NONE);
	cr_assert_str_eq(sipd_proto_name((enum sipd_proto)77), "none");
}

static int errors_seen, last_error;

static void on_error(const struct sipd_dest *dst, int err)
{
	errors_seen++;
	last_error = err;
}

Test(transport, error_listeners_are_called)
{
	struct sipd_dest d = {.proto = SIPD_PROTO_TCP};

	cr_assert_eq(sipd_transport_on_error(on_error), 0);
	cr_assert_eq(sipd_transport_on_error(on_error), EEXIST);
	sipd_transport_error(&d, ECONNREFUSED);
	cr_assert_eq(errors_seen, 1);
	cr_assert_eq(last_error, ECONNREFUSED);
}

Test(transport, sockaddr_helpers_handle_unknown_families)
{
	union sipd_sockaddr a = {0};
	char ip[8] = "junk";

	cr_assert_str_eq(sipd_sockaddr_ip(&a, ip, sizeof(ip)), "");
	cr_assert_eq(sipd_sockaddr_port(&a), 0);
	a.sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &a.sin6.sin6_addr);
	cr_assert_str_eq(sipd_sockaddr_ip(&a, ip, sizeof(ip)), "",
			 "too small a buffer gives an empty string");
}
