/* Listen specs, aliases, sipd_is_myself, and the Allow/Supported capability lists. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include <sipd/core.h>

#include "internal.h"

static char err[512];

TestSuite(listen, .fini = listen_reset);

Test(listen, parses_ipv4_ipv6_and_default_ports)
{
	struct sipd_listen l;

	cr_assert_eq(listen_parse(&l, "udp:127.0.0.1:5070", true, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(l.proto, SIPD_PROTO_UDP);
	cr_assert_eq(l.port, 5070);
	cr_assert_eq(l.fd, -1);
	cr_assert_str_eq(l.host, "127.0.0.1");
	cr_assert_eq(l.addr.sa.sa_family, AF_INET);
	cr_assert_eq(ntohs(l.addr.sin.sin_port), 5070);

	cr_assert_eq(listen_parse(&l, "TCP:[::1]:5080", true, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(l.proto, SIPD_PROTO_TCP);
	cr_assert_str_eq(l.host, "::1", "stored without brackets");
	cr_assert_eq(l.addr.sa.sa_family, AF_INET6);
	cr_assert_eq(ntohs(l.addr.sin6.sin6_port), 5080);

	cr_assert_eq(listen_parse(&l, "tls:[::]", true, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(l.port, 5061);
	cr_assert_eq(listen_parse(&l, "udp:0.0.0.0", true, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(l.port, 5060);
}

Test(listen, resolves_names_only_when_asked)
{
	struct sipd_listen l;

	cr_assert_eq(listen_parse(&l, "udp:localhost:5060", false, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(l.addr.sa.sa_family, AF_UNSPEC);
	cr_assert_eq(listen_parse(&l, "udp:localhost:5060", true, err, sizeof(err)), 0, "%s", err);
	cr_assert(l.addr.sa.sa_family == AF_INET || l.addr.sa.sa_family == AF_INET6);
	cr_assert_str_eq(l.host, "localhost");
	cr_assert_eq(listen_parse(&l, "udp:no-such-host.invalid:5060", true, err, sizeof(err)), EINVAL);
	cr_assert_not_null(strstr(err, "cannot resolve 'no-such-host.invalid'"), "%s", err);
}

static void refuses(const char *spec, const char *want)
{
	struct sipd_listen l;

	cr_assert_eq(listen_parse(&l, spec, false, err, sizeof(err)), EINVAL, "%s accepted", spec);
	cr_assert_not_null(strstr(err, want), "%s: '%s' lacks '%s'", spec, err, want);
}

Test(listen, refuses_bad_specs_with_a_reason)
{
	refuses("127.0.0.1", "expected proto:host:port");
	refuses("sctp:1.2.3.4:5060", "unknown protocol 'sctp'");
	refuses("udp::5060", "missing host");
	refuses("udp:1.2.3.4:0", "port '0' is not a number from 1 to 65535");
	refuses("udp:1.2.3.4:65536", "port '65536'");
	refuses("udp:1.2.3.4:50x", "port '50x'");
	refuses("udp:1.2.3.4:", "port ''");
	refuses("udp:::1:5060", "write IPv6 addresses in brackets");
	refuses("udp:[::1:5060", "missing ']'");
	refuses("udp:[::1]5060", "expected ':port' after ']'");
	refuses("udp:[1.2.3.4]:5060", "'1.2.3.4' is not an IPv6 address");
	refuses("udp:bad/host:5060", "neither an IP address nor a host name");
}

Test(listen, set_keeps_order_and_refuses_duplicates)
{
	char *specs[] = {"udp:127.0.0.1:5060", "tcp:[::1]:5061"};
	char *dups[] = {"udp:127.0.0.1:5060", "udp:127.0.0.1:5060"};

	cr_assert_eq(listen_set(specs, 2, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sipd_listen_count(), 2);
	cr_assert_eq(sipd_listen_get(1)->proto, SIPD_PROTO_TCP);
	cr_assert_null(sipd_listen_get(2));
	sipd_listen_set_fd(1, 42);
	cr_assert_eq(sipd_listen_get(1)->fd, 42);
	sipd_listen_set_fd(7, 42);

	cr_assert_eq(listen_set(dups, 2, err, sizeof(err)), EINVAL);
	cr_assert_not_null(strstr(err, "given twice"), "%s", err);
	cr_assert_eq(sipd_listen_count(), 2, "a failed set keeps the old list");
}

Test(listen, myself_matches_listen_hosts_aliases_and_ports)
{
	char *specs[] = {"udp:127.0.0.1:5060", "udp:[::1]:5070"};
	char *names[] = {"sip.example.org.", "[2001:db8::1]"};

	cr_assert_eq(listen_set(specs, 2, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(aliases_set(names, 2), 0);
	cr_assert(sipd_is_myself(SIPD_STR("127.0.0.1"), 5060));
	cr_assert(sipd_is_myself(SIPD_STR("127.0.0.1"), 0), "no port: any listen port");
	cr_assert_not(sipd_is_myself(SIPD_STR("127.0.0.1"), 5070), "not a port of that address");
	cr_assert(sipd_is_myself(SIPD_STR("[::1]"), 5070));
	cr_assert(sipd_is_myself(SIPD_STR("0:0::1"), 5070), "addresses compare in binary");
	cr_assert(sipd_is_myself(SIPD_STR("SIP.example.org"), 5070), "aliases match any listen port");
	cr_assert(sipd_is_myself(SIPD_STR("sip.example.org."), 5060));
	cr_assert(sipd_is_myself(SIPD_STR("2001:db8::1"), 5060));
	cr_assert_not(sipd_is_myself(SIPD_STR("sip.example.org"), 5090));
	cr_assert_not(sipd_is_myself(SIPD_STR("example.org"), 5060));
	cr_assert_not(sipd_is_myself(SIPD_STR("10.1.2.3"), 5060));
	cr_assert_not(sipd_is_myself(SIPD_STR(""), 5060));
	cr_assert_not(sipd_is_myself(SIPD_STR("[]"), 5060));
}

Test(listen, portless_host_of_ours_matches_any_listen_port)
{
	char *specs[] = {"udp:127.0.0.1:5400", "tcp:127.0.0.1:5400"};
	char *names[] = {"example.test"};

	cr_assert_eq(listen_set(specs, 2, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(aliases_set(names, 1), 0);
	cr_assert(sipd_is_myself(SIPD_STR("example.test"), 0), "a port-less alias names us on 5400");
	cr_assert(sipd_is_myself(SIPD_STR("127.0.0.1"), 0), "so does our port-less address");
	cr_assert(sipd_is_myself(SIPD_STR("example.test"), 5400));
	cr_assert_not(sipd_is_myself(SIPD_STR("example.test"), 5060), "an explicit port must be ours");
	cr_assert_not(sipd_is_myself(SIPD_STR("127.0.0.1"), 5060), "an explicit port must be ours");
	cr_assert_not(sipd_is_myself(SIPD_STR("example.org"), 0), "other hosts stay other");
}

Test(listen, wildcard_listener_means_every_local_address)
{
	char *specs[] = {"udp:0.0.0.0:5060"};

	cr_assert_eq(listen_set(specs, 1, err, sizeof(err)), 0, "%s", err);
	cr_assert(sipd_is_myself(SIPD_STR("127.0.0.1"), 5060), "loopback is a local interface");
	cr_assert(sipd_is_myself(SIPD_STR("0.0.0.0"), 5060));
	cr_assert_not(sipd_is_myself(SIPD_STR("192.0.2.77"), 5060), "TEST-NET-1 is nobody's interface");
	cr_assert_not(sipd_is_myself(SIPD_STR("::1"), 5060), "an IPv4 wildcard does not take IPv6");
}

Test(listen, allow_and_supported_lists)
{
	cr_assert_str_eq(sipd_allow_header(), "");
	cr_assert_eq(sipd_allow_method("OPTIONS"), 0);
	cr_assert_eq(sipd_allow_method("INVITE"), 0);
	cr_assert_eq(sipd_allow_method("OPTIONS"), 0, "adding twice is harmless");
	cr_assert_eq(sipd_allow_method("BAD METHOD"), EINVAL);
	cr_assert_eq(sipd_allow_method(""), EINVAL);
	cr_assert_str_eq(sipd_allow_header(), "OPTIONS, INVITE");

	cr_assert_eq(sipd_support_option("timer"), 0);
	cr_assert_eq(sipd_support_option("path"), 0);
	cr_assert_eq(sipd_support_option("Timer"), 0);
	cr_assert_str_eq(sipd_supported_header(), "timer, path");
	cr_assert(sipd_option_supported(SIPD_STR("TIMER")), "option tags are case-insensitive");
	cr_assert_not(sipd_option_supported(SIPD_STR("100rel")));
}

Test(listen, server_facts)
{
	cr_assert_str_eq(sipd_version(), SIPD_VERSION);
	cr_assert_str_eq(sipd_server_name(), "sipd/" SIPD_VERSION);
	cr_assert_str_eq(sipd_core_database(), "");
	cr_assert_eq(core_database_set("/tmp/x.db"), 0);
	cr_assert_str_eq(sipd_core_database(), "/tmp/x.db");
}
