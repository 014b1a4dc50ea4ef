/* This node's identity: the configured id and address, and the default address picked from core.listen. */
#include <string.h>

#include <criterion/criterion.h>

#include <sipd/core.h>

#include "internal.h"

static char err[512];

TestSuite(node, .fini = listen_reset);

static void listen_on(char **specs, unsigned n)
{
	cr_assert_eq(listen_set(specs, n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(node_configure("n1", NULL, 0, err, sizeof(err)), 0, "%s", err);
}

Test(node, configured_id_address_and_dead_after_are_kept)
{
	cr_assert_eq(node_configure("sip1", "sip:10.0.0.11:5060", 7, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(sipd_node_id(), "sip1");
	cr_assert_str_eq(sipd_node_address(), "sip:10.0.0.11:5060");
	cr_assert_eq(sipd_node_dead_after(), 7);
	cr_assert_eq(node_configure(NULL, "sip:10.0.0.11:5060", 0, err, sizeof(err)), 0, "%s", err);
	cr_assert(strlen(sipd_node_id()) > 0, "the host name by default");
	cr_assert_eq(sipd_node_dead_after(), 10, "10 s by default");
}

Test(node, default_address_prefers_udp_then_tcp_over_the_order_of_listen)
{
	char *ws_first[] = {"ws:127.0.0.1:8088", "tcp:127.0.0.1:5062", "udp:127.0.0.1:5060"};
	char *tcp_then_tls[] = {"tls:127.0.0.1:5061", "tcp:127.0.0.1:5062"};
	char *ws_only[] = {"ws:[::1]:8088"};

	listen_on(ws_first, 3);
	cr_assert_str_eq(sipd_node_address(), "sip:127.0.0.1:5060");
	listen_on(tcp_then_tls, 2);
	cr_assert_str_eq(sipd_node_address(), "sip:127.0.0.1:5062;transport=tcp");
	listen_on(ws_only, 1);
	cr_assert_str_eq(sipd_node_address(), "sip:[::1]:8088;transport=ws");
}

Test(node, wildcard_listen_entries_give_no_default_address)
{
	char *wild[] = {"udp:0.0.0.0:5060", "tcp:[::]:5060"};
	char *mixed[] = {"udp:0.0.0.0:5060", "tcp:127.0.0.2:5062"};

	listen_on(wild, 2);
	cr_assert_str_eq(sipd_node_address(), "", "other nodes cannot reach 0.0.0.0");
	listen_on(mixed, 2);
	cr_assert_str_eq(sipd_node_address(), "sip:127.0.0.2:5062;transport=tcp",
			 "a UDP wildcard is no candidate");
}
