/* Resolver pieces without a network: dns_servers validation, RFC 2782 SRV selection, failure statuses. */
#define _GNU_SOURCE
#include <ares.h>
#include <criterion/criterion.h>

#include "fake.h"

Test(dns_servers, accepts_addresses_with_and_without_ports)
{
	cr_assert_eq(tm_dns_servers_check(NULL), 0);
	cr_assert_eq(tm_dns_servers_check(""), 0);
	cr_assert_eq(tm_dns_servers_check("127.0.0.1"), 0);
	cr_assert_eq(tm_dns_servers_check("127.0.0.1:5353,192.0.2.1"), 0);
	cr_assert_eq(tm_dns_servers_check("::1"), 0);
	cr_assert_eq(tm_dns_servers_check("[2001:db8::53]:53,[::1]"), 0);
}

Test(dns_servers, rejects_names_ports_and_empty_entries)
{
	const char *bad[] = {
	    "dns.example",    "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", "127.0.0.1:53x",
	    "127.0.0.1,",     ",127.0.0.1",  "127.0.0.1,,::1",  "[::1]x",     "[::1",
	    "[127.0.0.1]:53", " 127.0.0.1",  "127.0.0.1:-53",   "1.2.3.4.5",  "[::1]:"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(tm_dns_servers_check(bad[i]), EINVAL, "accepted \"%s\"", bad[i]);
}

static struct ares_srv_reply rec(const char *host, unsigned short prio, unsigned short weight,
				 unsigned short port)
{
	return (struct ares_srv_reply){
	    .host = (char *)host, .priority = prio, .weight = weight, .port = port};
}

static void chain(struct ares_srv_reply *r, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		r[i].next = &r[i + 1];
}

Test(srv_pick, lowest_priority_weighted)
{
	struct ares_srv_reply r[] = {rec("hi.example", 20, 1000, 5), rec("a.example", 10, 0, 1),
				     rec(".", 5, 100, 4), rec("b.example", 10, 90, 2),
				     rec("c.example", 10, 10, 3)};
	unsigned count[6] = {0};

	chain(r, 5);
	for (int i = 0; i < 3000; i++) {
		struct ares_srv_reply *p = tm_srv_pick(r);

		cr_assert_not_null(p);
		count[p->port]++;
	}
	/* "." and the higher priority never; weights 0/90/10 of a sum of 100 (draws 0..100). */
	cr_expect_eq(count[4] + count[5], 0);
	cr_expect(count[2] > 2400 && count[2] < 2950, "weight 90 picked %u of 3000", count[2]);
	cr_expect(count[3] > 180 && count[3] < 420, "weight 10 picked %u of 3000", count[3]);
	cr_expect(count[1] < 100, "weight 0 picked %u of 3000", count[1]);
}

Test(srv_pick, zero_weights_and_no_usable_record)
{
	struct ares_srv_reply zero[] = {rec("a.example", 1, 0, 1), rec("b.example", 1, 0, 2)};
	struct ares_srv_reply none[] = {rec(".", 1, 10, 1), rec("", 2, 10, 2)};

	chain(zero, 2);
	chain(none, 2);
	cr_expect_eq(tm_srv_pick(zero)->port, 1);
	cr_expect_null(tm_srv_pick(none));
}

Test(srv_pick, order_is_every_usable_record_by_priority_and_the_chain_stays)
{
	struct ares_srv_reply r[] = {rec("hi.example", 20, 5, 5), rec("a.example", 10, 50, 1),
				     rec(".", 5, 100, 4), rec("b.example", 10, 50, 2),
				     rec("c.example", 30, 1, 3)};
	struct ares_srv_reply *out[8];
	unsigned n;

	chain(r, 5);
	n = tm_srv_order(out, 8, r);
	cr_assert_eq(n, 4, "the \".\" record is never a target");
	cr_expect(out[0]->priority == 10 && out[1]->priority == 10 && out[0] != out[1]);
	cr_expect_eq(out[2]->port, 5);
	cr_expect_eq(out[3]->port, 3);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(r[i].next, &r[i + 1],
			     "the answer's chain is as it came (ares_free_data walks it)");
	cr_expect_null(r[4].next);
	cr_expect_eq(tm_srv_order(out, 2, r), 2, "at most max");
}

Test(resolve_status, nxdomain_is_404_server_trouble_504)
{
	cr_expect_eq(tm_resolve_status(ENOENT), 404);
	cr_expect_eq(tm_resolve_status(ETIMEDOUT), 504);
	cr_expect_eq(tm_resolve_status(EHOSTUNREACH), 504);
}
