"""Two sipd nodes on one PostgreSQL database under a burst of REGISTERs: group commits send their
change notifications joined, the other node reads the changed AORs again in batches, and both
nodes end up with every binding (and without the removed ones) within a second or so (the bound
allows for the listing through sipctl under ASan and load).

Runs its own PostgreSQL cluster (tests/pg/pg_cluster.sh) in a temporary directory; without the
PostgreSQL server binaries it says so and counts as skipped."""

import threading
import time

from regtest import Client
from clustertest import PgCluster, node
from sipdtest import TestRun, wait_until

USERS = 40
# Notifications are polled every 100 ms; the rest of the bound is sipctl's listing, slow under ASan and load.
WITHIN = 3.0


def register_all(nodes_users, expires):
    """REGISTERs every (node, user, contact user) at once, one thread each; returns the final statuses.
    The Contact stays the same from call to call (its port is not the socket's), so expires 0 removes it."""
    statuses = {}

    def one(n, user, key):
        c = Client(n.port, "udp", host=n.host)
        try:
            resp, _ = c.register_auth(user, "secret", contact=f"<sip:{key}@{n.host}:5999>",
                                      expires=expires, algo="MD5")
            statuses[(n.host, key)] = resp and resp.status
        finally:
            c.close()

    threads = [threading.Thread(target=one, args=item) for item in nodes_users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def bindings(n):
    """{aor user: sorted list of the nodes holding its bindings} as node n lists them."""
    out = {}
    for x in n.ctl("registrations"):
        out.setdefault(x["aor"].split("@")[0], []).append(x["node"])
    return {k: sorted(v) for k, v in out.items()}


def main():
    run = TestRun("cluster_burst")
    pg = PgCluster(run.name, "sipd_burst")
    if not pg.start():
        return
    a = node(run.build, pg.conninfo, "node-a", "127.0.0.1")
    b = node(run.build, pg.conninfo, "node-b", "127.0.0.2")
    users = [f"u{i}" for i in range(USERS)]
    # Even users register on node-a, odd ones on node-b; "shared" registers one phone on each node.
    plan = [(a if i % 2 == 0 else b, u, u) for i, u in enumerate(users)]
    plan += [(a, "shared", "shared-a"), (b, "shared", "shared-b")]
    want = {u: ["node-a" if i % 2 == 0 else "node-b"] for i, u in enumerate(users)}
    want["shared"] = ["node-a", "node-b"]
    try:
        with a, b:
            for u in users + ["shared"]:
                a.ctl("users", "add", u, "secret")
            wait_until(lambda: len(b.ctl("users", "list")) >= USERS + 1, 3)

            @run.case
            def a_burst_on_both_nodes_is_seen_whole_on_each():
                reloads0 = b.ctl("stats").get("registrar.cluster_reloads", 0)
                statuses = register_all(plan, 300)
                run.expect(sorted(set(statuses.values())) == [200], f"every REGISTER got 200: {statuses}")
                t0 = time.time()
                seen_a = wait_until(lambda: bindings(a) == want, 3)
                seen_b = wait_until(lambda: bindings(b) == want, 3)
                took = time.time() - t0
                run.expect(seen_a, f"node-a lists every binding with its node: {bindings(a)}")
                run.expect(seen_b, f"node-b lists every binding with its node: {bindings(b)}")
                run.expect(took < WITHIN, f"both nodes had them {took:.2f}s after the last 200 OK")
                reloads = b.ctl("stats").get("registrar.cluster_reloads", 0) - reloads0
                run.expect(reloads >= USERS // 2, f"node-b read node-a's AORs again ({reloads} reloads)")

            @run.case
            def removals_in_a_burst_leave_both_nodes():
                statuses = register_all(plan, 0)
                run.expect(sorted(set(statuses.values())) == [200], f"every un-REGISTER got 200: {statuses}")
                t0 = time.time()
                gone_a = wait_until(lambda: bindings(a) == {}, 3)
                gone_b = wait_until(lambda: bindings(b) == {}, 3)
                took = time.time() - t0
                run.expect(gone_a, f"node-a has no binding left: {bindings(a)}")
                run.expect(gone_b, f"node-b has no binding left: {bindings(b)}")
                run.expect(took < WITHIN, f"gone from both nodes {took:.2f}s after the last 200 OK")
    finally:
        pg.remove()
    run.finish()


if __name__ == "__main__":
    main()
