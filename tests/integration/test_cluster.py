"""Two sipd nodes on one PostgreSQL database: shared users and bindings, calls across nodes, a flow
held by the other node, the nodes list, and the database going away and coming back.

Runs its own PostgreSQL cluster (tests/pg/pg_cluster.sh) in a temporary directory; without the
PostgreSQL server binaries it says so and counts as skipped."""

import os
import random
import signal
import socket
import time

from regtest import Client, challenges, credentials
from clustertest import DEAD_AFTER, PgCluster, node, psql, psql_rows
from sipdtest import TestRun, new_branch, parse_sip, tcp_read_message, wait_until
from sipua import UA, Call

def kill9(s):
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s.logf.close()


class Callee:
    """A user agent on UDP or TCP that registers through one node and answers INVITE and BYE with 200."""

    def __init__(self, node, user, password, proto="udp"):
        self.node, self.user, self.proto = node, user, proto
        self.client = Client(node.port, proto, host=node.host)
        self.requests = []

    def register(self):
        host, port = self.client.sock.getsockname()
        contact = f"<sip:{self.user}@{host}:{port}" + (";transport=tcp>" if self.proto == "tcp" else ">")
        resp, _ = self.client.register_auth(self.user, "secret", contact=contact, expires=300, algo="MD5")
        return resp

    def recv_request(self, timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proto == "udp":
                self.client.sock.settimeout(max(0.05, deadline - time.time()))
                try:
                    data, addr = self.client.sock.recvfrom(65535)
                except socket.timeout:
                    return None, None
            else:
                data, addr = tcp_read_message(self.client.sock, max(0.05, deadline - time.time())), None
                if not data:
                    return None, None
            m = parse_sip(data)
            if m and m.method:
                self.requests.append(m)
                return m, addr
        return None, None

    def answer(self, req, addr, status=200, reason="OK", extra=()):
        host, port = self.client.sock.getsockname()
        lines = [f"SIP/2.0 {status} {reason}"] + [f"Via: {v}" for v in req.all("Via")]
        for name in ("Record-Route",):
            lines += [f"{name}: {v}" for v in req.all(name)]
        to = req.get("To")
        if req.method == "INVITE" and ";tag=" not in to:
            to += ";tag=callee%04x" % random.getrandbits(16)
        lines += [f"From: {req.get('From')}", f"To: {to}", f"Call-ID: {req.get('Call-ID')}",
                  f"CSeq: {req.get('CSeq')}", f"Contact: <sip:{self.user}@{host}:{port}"
                  + (";transport=tcp>" if self.proto == "tcp" else ">")]
        lines += list(extra) + ["Content-Length: 0", "", ""]
        data = "\r\n".join(lines).encode()
        if self.proto == "udp":
            self.client.sock.sendto(data, addr)
        else:
            self.client.sock.sendall(data)

    def close(self):
        self.client.close()


def call(caller_node, callee_user, caller_user="alice"):
    """alice calls callee_user through caller_node (digest answered); returns (final response, caller sock)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((caller_node.host, 0))
    lport = sock.getsockname()[1]
    target = (caller_node.host, caller_node.port)
    call_id = "%016x@cluster" % random.getrandbits(64)
    ruri = f"sip:{callee_user}@{caller_node.host}:{caller_node.port}"

    def invite(cseq, extra=()):
        lines = [f"INVITE {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {caller_node.host}:{lport};branch={new_branch()};rport",
                 "Max-Forwards: 70", f"From: <sip:{caller_user}@{caller_node.host}>;tag=caller1",
                 f"To: <sip:{callee_user}@{caller_node.host}>", f"Call-ID: {call_id}", f"CSeq: {cseq} INVITE",
                 f"Contact: <sip:{caller_user}@{caller_node.host}:{lport}>", "Supported: timer",
                 "Session-Expires: 1800", "Min-SE: 90"] + list(extra) + ["Content-Length: 0", "", ""]
        sock.sendto("\r\n".join(lines).encode(), target)

    def final(timeout=5.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            sock.settimeout(max(0.05, deadline - time.time()))
            try:
                data, _ = sock.recvfrom(65535)
            except socket.timeout:
                return None
            m = parse_sip(data)
            if m and m.status and m.status >= 200:
                return m
        return None

    invite(1)
    first = final()
    if first is None or first.status != 407:
        return first, sock
    ack = [f"ACK {ruri} SIP/2.0", f"Via: SIP/2.0/UDP {caller_node.host}:{lport};branch=x", "Max-Forwards: 70",
           f"From: <sip:{caller_user}@{caller_node.host}>;tag=caller1", f"To: {first.get('To')}",
           f"Call-ID: {call_id}", "CSeq: 1 ACK", "Content-Length: 0", "", ""]
    sock.sendto("\r\n".join(ack).encode(), target)
    chal = [c for c in challenges(first, "Proxy-Authenticate") if c.get("algorithm") == "MD5"][0]
    invite(2, [credentials(caller_user, "secret", chal["realm"], chal["nonce"], "INVITE", ruri, "MD5",
                           header="Proxy-Authorization")])
    return final(), sock


def main():
    run = TestRun("cluster")
    pg = PgCluster(run.name, "sipd_cluster")
    if not pg.start():
        return
    admin, conninfo = pg.admin, pg.conninfo
    a = node(run.build, conninfo, "node-a", "127.0.0.1")
    b = node(run.build, conninfo, "node-b", "127.0.0.2")
    parties = []
    try:
        with a, b:
            @run.case
            def both_nodes_are_listed_alive():
                nodes = wait_until(lambda: [n for n in a.ctl("nodes") if n["state"] == "alive"], 3)
                run.expect(sorted(n["node_id"] for n in nodes) == ["node-a", "node-b"], f"nodes: {nodes}")
                run.expect([n["address"] for n in nodes if n["node_id"] == "node-b"] == [f"sip:127.0.0.2:{b.port}"],
                           "node-b's address")

            @run.case
            def a_user_added_on_one_node_works_on_the_other_within_a_second():
                a.ctl("users", "add", "alice", "secret")
                a.ctl("users", "add", "bob", "secret")
                a.ctl("users", "add", "carol", "secret")
                t0 = time.time()
                seen = wait_until(lambda: any(u.get("username") == "bob" for u in b.ctl("users", "list")), 1.0)
                run.expect(seen, "bob appears in node-b's users within 1 s")
                c = Client(b.port, "udp", host="127.0.0.2")
                resp, _ = c.register_auth("bob", "secret", contact=f"<sip:bob@127.0.0.2:{c.lport}>",
                                          expires=60, algo="MD5")
                c.close()
                run.expect(resp is not None and resp.status == 200,
                           f"REGISTER of bob on node-b: {resp and resp.status} after {time.time() - t0:.2f}s")
                # and disabled again from node-b, refused on node-a
                b.ctl("users", "disable", "carol")
                gone = wait_until(lambda: any(u.get("username") == "carol" and not u.get("enabled")
                                              for u in a.ctl("users", "list")), 1.0)
                run.expect(gone, "carol disabled on node-b is disabled on node-a within 1 s")

            @run.case
            def registered_on_a_called_through_b_over_udp():
                bob = Callee(a, "bob", "secret", "udp")
                r = bob.register()
                run.expect(r is not None and r.status == 200, f"bob registers on node-a: {r and r.status}")
                seen = wait_until(lambda: [x for x in b.ctl("registrations") if x["aor"].startswith("bob")
                                           and x["node"] == "node-a"], 2)
                run.expect(seen, f"node-b lists bob's binding as node-a's: {b.ctl('registrations')}")
                result = {}

                def callee():
                    req, addr = bob.recv_request()
                    result["req"] = req
                    if req is not None and req.method == "INVITE":
                        bob.answer(req, addr, 180, "Ringing")
                        bob.answer(req, addr, 200, "OK")

                import threading
                t = threading.Thread(target=callee)
                t.start()
                resp, sock = call(b, "bob")
                t.join()
                sock.close()
                bob.close()
                req = result.get("req")
                run.expect(req is not None and req.method == "INVITE", "the INVITE reached bob")
                run.expect(resp is not None and resp.status == 200, f"the caller got {resp and resp.status}")

            @run.case
            def a_tcp_flow_held_by_a_is_reached_through_b():
                carol = Callee(a, "alice", "secret", "tcp")  # alice's own TCP phone, on node-a
                r = carol.register()
                run.expect(r is not None and r.status == 200, f"alice registers over TCP on node-a: {r and r.status}")
                b.ctl("users", "enable", "carol")
                wait_until(lambda: [x for x in b.ctl("registrations") if x["aor"].startswith("alice")
                                    and x["transport"] == "tcp"], 2)
                result = {}

                def callee():
                    req, _ = carol.recv_request()
                    result["req"] = req
                    if req is not None and req.method == "INVITE":
                        carol.answer(req, None, 200, "OK")

                import threading
                t = threading.Thread(target=callee)
                t.start()
                resp, sock = call(b, "alice", caller_user="bob")
                t.join()
                sock.close()
                carol.close()
                req = result.get("req")
                cid = resp and resp.get("Call-ID")
                on_a = {x["call_id"]: x for x in a.ctl("sessions")["sessions"]}
                run.expect(cid in on_a and on_a[cid]["local"] and on_a[cid]["node"] == "node-a",
                           f"the session is held by node-a (nearer the callee): {on_a.get(cid)}")
                # node-b lists it too, from st_dialogs: held by node-a, not here.
                on_b = wait_until(lambda: {x["call_id"]: x for x in b.ctl("sessions")["sessions"]}.get(cid), 3)
                run.expect(on_b and on_b["node"] == "node-a" and on_b["local"] is False
                           and on_b["caller"].startswith("sip:bob@") and on_b["callee"].startswith("sip:alice@"),
                           f"node-b lists it as node-a's: {on_b}")
                run.expect(req is not None and req.method == "INVITE",
                           f"the INVITE arrived on the TCP connection node-a holds (caller got "
                           f"{resp and resp.status}; node-b has {b.ctl('registrations')})")
                if req is not None:
                    vias = req.all("Via")
                    run.expect(len(vias) >= 3 and f"127.0.0.1:{a.port}" in vias[0]
                               and f"127.0.0.2:{b.port}" in vias[1],
                               f"through node-b then node-a: {vias}")
                    run.expect(not any("sipd-flow" in v for v in req.all("Route")), "the flow Route was taken off")
                run.expect(resp is not None and resp.status == 200, f"the caller got {resp and resp.status}")

            def sessions_of(n):  # the sessions n holds itself
                return {x["call_id"]: x for x in n.ctl("sessions")["sessions"] if x["local"]}

            def failover(c):
                for user in ("erin", "frank", "gina", "hank"):
                    a.ctl("users", "add", user, "secret")
                wait_until(lambda: len([u for u in b.ctl("users", "list") if u.get("username") == "hank"]), 2)
                # erin's session is 10 s, so over 6.7 s after its 2xx (10 - 10/3); frank's lasts 600 s.
                erin = UA("erin", answer_headers=["Require: timer", "Session-Expires: 10;refresher=uac"])
                frank = UA("frank")
                alice, gina = UA("alice"), UA("gina")
                parties.extend((erin, frank, alice, gina))
                for ua in (erin, frank):
                    r = ua.register(a.port, "secret")
                    run.expect(r is not None and r.status == 200, f"{ua.name_} registers on node-a: {r and r.status}")
                short = Call(a.port, alice, erin, ["Supported: timer", "Session-Expires: 10"],
                             extra_route_header=False, password="secret")
                long = Call(a.port, gina, frank, ["Supported: timer", "Session-Expires: 600"],
                            extra_route_header=False, password="secret")
                run.expect(short.ok is not None and short.ok.status == 200 and long.ok is not None
                           and long.ok.status == 200, f"two calls through node-a: {short.ok and short.ok.status}, "
                           f"{long.ok and long.ok.status}")
                t_ok = time.time()
                held = {x["call_id"]: x["node"] for x in a.ctl("sessions")["sessions"]}
                run.expect(held.get(short.call_id) == "node-a" and held.get(long.call_id) == "node-a",
                           f"node-a holds both: {held}")
                rows = wait_until(lambda: {r[0]: r[1] for r in psql_rows(conninfo, "SELECT call_id, node FROM st_dialogs")
                                           if r[1] == "node-a"}, 3) or {}
                run.expect(short.call_id in rows and long.call_id in rows, f"st_dialogs rows name node-a: {rows}")
                t_kill = time.time()
                kill9(a)
                dead = wait_until(lambda: [n for n in b.ctl("nodes", "list") if n["node_id"] == "node-a"
                                           and n["state"] == "dead"], DEAD_AFTER + 4)
                t_dead = time.time()
                run.expect(dead, "node-b sees node-a dead")
                holders = wait_until(lambda: [n for n in (b, c) if long.call_id in sessions_of(n)], 4) or []
                t_taken = time.time()
                run.expect(len(holders) == 1, f"one survivor holds the long session: {[n.host for n in holders]}")
                holder = holders[0] if holders else b
                name = "node-b" if holder is b else "node-c"
                taken = sessions_of(holder).get(long.call_id)
                run.expect(taken and taken["node"] == name and taken["interval"] == 600, f"{name} holds it: {taken}")
                bye_callee = erin.wait_request("BYE", 15)
                bye_caller = alice.wait_request("BYE", 2)
                t_bye = time.time()
                run.expect(bye_callee is not None and bye_caller is not None,
                           f"BYEs to both parties: erin {erin.seen}, alice {alice.seen}")
                if bye_callee is not None:
                    run.expect("cause=408" in (bye_callee.get("Reason") or ""), f"Reason: {bye_callee.get('Reason')}")
                    run.expect(f"127.0.0.2:{b.port}" in bye_callee.get("Via") or f"127.0.0.3:{c.port}" in bye_callee.get("Via"),
                               f"sent by a survivor: {bye_callee.get('Via')}")
                time.sleep(1.0)
                run.expect(erin.seen.count("BYE") == 1 and alice.seen.count("BYE") == 1,
                           f"one BYE each: erin {erin.seen}, alice {alice.seen}")
                rows = {r[0]: r[1] for r in psql_rows(conninfo, "SELECT call_id, node FROM st_dialogs")}
                run.expect(short.call_id not in rows and rows.get(long.call_id) == name, f"rows after: {rows}")
                nodes = {n["node_id"]: n for n in b.ctl("nodes", "list")}
                run.expect(nodes[name]["sessions"] >= 1 and nodes["node-a"]["sessions"] == 0,
                           f"nodes.list counts the sessions: {nodes}")
                print(f"    node-a dead for node-b {t_dead - t_kill:.1f}s after kill -9, long session taken over by {name} after "
                      f"{t_taken - t_kill:.1f}s, expiry BYEs {t_bye - t_kill:.1f}s after it "
                      f"(the session was due {6.67 - (t_kill - t_ok):.1f}s after it)", flush=True)
                # node-a comes back: it does not load what node-b took.
                a.start()
                mine = sessions_of(a)
                run.expect(long.call_id not in mine, f"node-a restarted holds none of it: {list(mine)}")
                listed = {x["call_id"]: x for x in a.ctl("sessions")["sessions"]}.get(long.call_id)
                run.expect(listed and listed["node"] == name and not listed["local"],
                           f"node-a lists it as {name}'s: {listed}")
                try:
                    a.ctl("sessions.end", long.call_id)
                    refused = "ended by node-a"
                except RuntimeError as e:
                    refused = str(e)
                run.expect(f"held by node {name}" in refused, f"node-a says who holds it: {refused}")
                # A refresh through node-a (the Record-Route names it, and it is back): the session moves there.
                r = long.send("UPDATE", "caller", ["Supported: timer", "Session-Expires: 600"])
                run.expect(r is not None and r.status == 200, f"UPDATE through node-a: {r and r.status}")
                moved = wait_until(lambda: sessions_of(a).get(long.call_id), 3)
                run.expect(moved and moved["node"] == "node-a" and moved["expires_in"] > 550,
                           f"node-a holds the refreshed session: {moved}")
                run.expect(wait_until(lambda: long.call_id not in sessions_of(holder), 3), f"{name} let it go")
                rows = {r[0]: r[1] for r in psql_rows(conninfo, "SELECT call_id, node FROM st_dialogs")}
                run.expect(rows.get(long.call_id) == "node-a", f"its row names node-a: {rows}")
                r = a.ctl("sessions.end", long.call_id)
                run.expect(r.get("ended") and frank.wait_request("BYE", 5) is not None
                           and gina.wait_request("BYE", 2) is not None, "node-a ends it on request")

            @run.case
            def kill_9_of_a_node_one_survivor_takes_over_its_sessions_and_ends_them_with_byes():
                # A third node: node-b and node-c both look for node-a's sessions; one claims each.
                c = node(run.build, conninfo, "node-c", "127.0.0.3")
                c.start(float(os.environ.get("SIPD_START_TIMEOUT", "10")))
                try:
                    failover(c)
                finally:
                    code = c.stop()
                    run.expect(code == 0, f"node-c stopped cleanly: exit {code}\n{c.log_text()[-3000:]}")

            @run.case
            def a_node_cut_off_from_the_database_reads_again_what_changed_meanwhile():
                hank = UA("hank")
                parties.append(hank)
                b_app = "sipd_node_b"
                psql(admin, "ALTER DATABASE sipd_cluster ALLOW_CONNECTIONS false")
                try:
                    psql(admin, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{b_app}'")
                    a.ctl("users", "disable", "gina")
                    r = hank.register(a.port, "secret")
                    run.expect(r is not None and r.status == 200, f"hank registers on node-a: {r and r.status}")
                    time.sleep(1.0)
                    stale = [u for u in b.ctl("users", "list") if u.get("username") == "gina"]
                    run.expect(stale and stale[0].get("enabled"), f"node-b, cut off, still has gina enabled: {stale}")
                finally:
                    psql(admin, "ALTER DATABASE sipd_cluster ALLOW_CONNECTIONS true")
                t0 = time.time()
                seen = wait_until(lambda: any(u.get("username") == "gina" and not u.get("enabled")
                                              for u in b.ctl("users", "list")), 5)
                run.expect(seen, "node-b sees gina disabled once its connection is back")
                bound = wait_until(lambda: [x for x in b.ctl("registrations") if x["aor"].startswith("hank")], 3)
                run.expect(bound and bound[0]["node"] == "node-a", f"node-b sees hank's binding: {bound}")
                print(f"    node-b caught up {time.time() - t0:.1f}s after the database let it in again", flush=True)

            @run.case
            def the_database_going_away_gives_503_at_once_and_comes_back():
                pg.stop(check=True)
                c = Client(a.port, "udp", host="127.0.0.1")
                statuses = []
                t0 = time.time()
                for _ in range(3):
                    resp, _ = c.register_auth("bob", "secret", contact=f"<sip:bob@127.0.0.1:{c.lport}>",
                                              expires=60, algo="MD5")
                    statuses.append(resp and resp.status)
                took = time.time() - t0
                run.expect(503 in statuses, f"REGISTERs while PostgreSQL is down: {statuses}")
                run.expect(took < 12, f"answered without hanging: {took:.1f}s for 3")
                last = resp
                run.expect(last is not None and last.status == 503 and last.get("Retry-After"),
                           "503 with Retry-After")
                pg.start_again()

                def registers():
                    r, _ = c.register_auth("bob", "secret", contact=f"<sip:bob@127.0.0.1:{c.lport}>",
                                           expires=60, algo="MD5")
                    return r is not None and r.status == 200
                run.expect(wait_until(registers, 15, 0.5), "REGISTER works again once PostgreSQL is back")
                c.close()
    finally:
        for ua in parties:
            ua.close()
        pg.remove()
    run.finish()


if __name__ == "__main__":
    main()
