"""registrar over the real binary: every RFC 3261 10.3 rule on the wire, lookup(), restarts, and kill -9
during a registration burst (no binding acknowledged with 200 may be lost)."""

import os
import re
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun  # noqa: E402
from regtest import Client, RegisterBurst  # noqa: E402

run = TestRun("registrar")
MODULES = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "sanity"},
           {"name": "registrar", "min_expires": 60, "max_expires": 3600, "default_expires": 1800,
            "max_contacts": 3, "timer_interval": 1}]
ROUTING = """
request_route {
	sanity();
	if ($rm == "REGISTER") { save(); exit; }
	lookup();
	reply(299, "$ru");
}
"""


def contacts(resp):
    """{uri: expires} of the Contact lines of a 200."""
    out = {}
    for v in resp.all("Contact"):
        for m in re.finditer(r"<([^>]+)>;expires=(\d+)", v):
            out[m.group(1)] = int(m.group(2))
    return out


def bindings(s, aor):
    return {r["contact"]: r for r in s.ctl("registrations", aor)}


s = Sipd(run.build, modules=MODULES, routing=ROUTING, listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"])
s.start()
try:
    @run.case
    def register_lists_bindings_with_remaining_expires_and_date():
        c = Client(s.port)
        r = c.register("u1", "<sip:u1@10.0.0.1:5060>", 600)
        run.expect(r and r.status == 200, f"200, got {r and r.start}")
        got = contacts(r)
        run.expect(590 <= got.get("sip:u1@10.0.0.1:5060", 0) <= 600, f"remaining expires: {got}")
        run.expect(r.get("Date"), "Date header (10.3 step 8)")
        r = c.register("u1", "<sip:u1@10.0.0.2:5060>", 300)
        run.expect(len(contacts(r)) == 2, f"all bindings listed: {r.all('Contact')}")

    @run.case
    def expires_param_beats_header_beats_default():
        c = Client(s.port)
        r = c.register("u2", "<sip:u2@10.0.0.1>;expires=120", 900)
        run.expect(contacts(r)["sip:u2@10.0.0.1"] > 900 - 800 and contacts(r)["sip:u2@10.0.0.1"] <= 120,
                   f"param wins: {contacts(r)}")
        r = c.register("u2", "<sip:u2@10.0.0.2>", 900)
        run.expect(850 < contacts(r)["sip:u2@10.0.0.2"] <= 900, f"header next: {contacts(r)}")
        r = c.register("u2", "<sip:u2@10.0.0.3>")
        run.expect(1750 < contacts(r)["sip:u2@10.0.0.3"] <= 1800, f"default last: {contacts(r)}")

    @run.case
    def too_brief_is_423_with_min_expires():
        c = Client(s.port)
        r = c.register("u3", "<sip:u3@10.0.0.1>", 30)
        run.expect(r and r.status == 423 and r.get("Min-Expires") == "60", f"423 + Min-Expires: {r and r.raw}")
        run.expect(not bindings(s, "u3"), "nothing bound")

    @run.case
    def max_expires_caps():
        c = Client(s.port)
        r = c.register("u4", "<sip:u4@10.0.0.1>", 999999)
        run.expect(3590 < contacts(r)["sip:u4@10.0.0.1"] <= 3600, f"capped: {contacts(r)}")

    @run.case
    def expires_zero_removes_one_and_star_removes_all():
        c = Client(s.port)
        c.register("u5", "<sip:u5@10.0.0.1>, <sip:u5@10.0.0.2>", 600)
        r = c.register("u5", "<sip:u5@10.0.0.1>;expires=0")
        run.expect(r.status == 200 and list(contacts(r)) == ["sip:u5@10.0.0.2"], f"one left: {contacts(r)}")
        r = c.register("u5", "*", 3600)
        run.expect(r.status == 400, f"* needs Expires: 0, got {r.start}")
        r = c.register("u5", "*, <sip:u5@10.0.0.3>", 0)
        run.expect(r.status == 400, f"* must be alone, got {r.start}")
        r = c.register("u5", "*", 0)
        run.expect(r.status == 200 and not contacts(r), f"all removed: {r.raw}")
        run.expect(not bindings(s, "u5"), "RPC agrees")

    @run.case
    def cseq_ordering_per_call_id():
        c = Client(s.port)
        r = c.register("u6", "<sip:u6@10.0.0.1>", 600, cseq=10)
        run.expect(r.status == 200, "first")
        r = c.register("u6", "<sip:u6@10.0.0.1>", 900, cseq=9)
        run.expect(r.status == 500, f"older CSeq of the same call: 500, got {r.start}")
        r = c.register("u6", "<sip:u6@10.0.0.1>", 600, cseq=10)
        run.expect(r.status == 200, f"same CSeq = retransmission: 200, got {r.start}")
        other = Client(s.port)
        r = other.register("u6", "<sip:u6@10.0.0.1>", 900, cseq=1)
        run.expect(r.status == 200 and contacts(r)["sip:u6@10.0.0.1"] > 800,
                   f"another Call-ID may start low: {r.start}")

    @run.case
    def max_contacts_is_403():
        c = Client(s.port)
        r = c.register("u7", ", ".join(f"<sip:u7@10.0.0.{i}>" for i in range(1, 4)), 600)
        run.expect(r.status == 200 and len(contacts(r)) == 3, "three fit")
        r = c.register("u7", "<sip:u7@10.0.0.9>", 600)
        run.expect(r.status == 403, f"fourth refused, got {r.start}")
        run.expect(len(bindings(s, "u7")) == 3, "unchanged")

    @run.case
    def fetch_without_contact_lists_bindings():
        c = Client(s.port)
        c.register("u8", "<sip:u8@10.0.0.1>", 600)
        r = Client(s.port).register("u8")
        run.expect(r.status == 200 and "sip:u8@10.0.0.1" in contacts(r), f"query: {r.raw}")

    @run.case
    def path_user_agent_received_stored():
        c = Client(s.port)
        r = c.register("u9", "<sip:u9@192.0.2.7:5066>", 600,
                       ["Path: <sip:edge1.example.com;lr>", "Path: <sip:edge2.example.com;lr>",
                        "Supported: path", "User-Agent: phone/2.1"])
        run.expect(r.status == 200, f"200, got {r.start}")
        run.expect("edge1" in (r.get("Path") or ""), f"Path echoed with Supported: path: {r.raw}")
        b = bindings(s, "u9")["sip:u9@192.0.2.7:5066"]
        run.expect("edge1" in b["path"] and "edge2" in b["path"], f"path stored: {b}")
        run.expect(b["user_agent"] == "phone/2.1", f"user agent: {b}")
        run.expect(b["received"] == f"udp:127.0.0.1:{c.lport}" and b["transport"] == "udp", f"received: {b}")

    @run.case
    def lookup_picks_best_q_and_answers_404_480():
        c = Client(s.port)
        c.register("u10", "<sip:u10@10.0.0.1>;q=0.3, <sip:u10@10.0.0.2>;q=0.9, <sip:u10@10.0.0.3>;q=0.5", 600)
        r = c.request("OPTIONS", f"sip:u10@127.0.0.1:{s.port}")
        run.expect(r.status == 299 and r.reason == "sip:u10@10.0.0.2", f"$ru = best q: {r.start}")
        r = c.request("OPTIONS", f"sip:nobody@127.0.0.1:{s.port}")
        run.expect(r.status == 404, f"never registered: 404, got {r.start}")
        c.register("u10", "*", 0)
        r = c.request("OPTIONS", f"sip:u10@127.0.0.1:{s.port}")
        run.expect(r.status == 480, f"registered before, none now: 480, got {r.start}")

    @run.case
    def tcp_binding_keeps_its_connection():
        c = Client(s.port, "tcp")
        try:
            r = c.register("u11", "<sip:u11@10.0.0.1;transport=tcp>", 600)
            run.expect(r and r.status == 200, f"200 over TCP, got {r and r.start}")
            b = bindings(s, "u11")["sip:u11@10.0.0.1;transport=tcp"]
            run.expect(b["transport"] == "tcp" and b["conn_id"] > 0, f"connection stored: {b}")
        finally:
            c.close()

    @run.case
    def malformed_requests_are_400():
        c = Client(s.port)
        r = c.register("u12", "<sip:u12@10.0.0.1>", "soon")
        run.expect(r and r.status == 400, f"bad Expires: 400, got {r and r.start}")
        r = c.request("REGISTER", f"sip:127.0.0.1:{s.port}", ["Contact: <sip:x@10.0.0.1>"],
                      to="<sip:127.0.0.1>")
        run.expect(r and r.status == 400, f"To without a user: 400, got {r and r.start}")
        r = c.register("u12", "<sip:u12@10.0.0.1>", 600, ruri="sip:other.example.org")
        run.expect(r and r.status == 403, f"foreign domain: 403, got {r and r.start}")

    @run.case
    def bindings_survive_a_restart():
        before = {(r["aor"], r["contact"]) for r in s.ctl("registrations")}
        s.stop()
        s.start()
        after = {(r["aor"], r["contact"]) for r in s.ctl("registrations")}
        run.expect(before and before == after, f"same bindings: lost {before - after}")
        b = bindings(s, "u11")["sip:u11@10.0.0.1;transport=tcp"]
        run.expect(b["conn_id"] == 0, "a connection does not survive a restart")

    @run.case
    def kill_9_during_a_burst_loses_no_acknowledged_binding():
        n = 3000
        burst = RegisterBurst(s.port, "burst")
        acked = burst.acked
        start = time.time()
        killed = False
        for i in range(n):
            burst.register(i, f"burst{i}")
            if i % 50 == 0:
                time.sleep(0.002)
            if not killed and len(acked) >= 500:
                s.proc.send_signal(signal.SIGKILL)
                killed = True
        if not killed:
            deadline = time.time() + 5
            while len(acked) < 500 and time.time() < deadline:
                time.sleep(0.01)
            s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        s.logf.close()
        time.sleep(0.3)
        burst.close()
        snapshot = set(acked)
        run.expect(0 < len(snapshot) < n, f"killed mid-burst: {len(snapshot)} of {n} acknowledged "
                                          f"in {time.time() - start:.2f}s")
        s.start()
        stored = {r["aor"] for r in s.ctl("registrations") if r["aor"].startswith("burst")}
        lost = snapshot - stored
        run.expect(not lost, f"{len(lost)} acknowledged bindings lost, e.g. {sorted(lost)[:5]}")
        print(f"    {len(snapshot)} acknowledged before kill -9, {len(stored)} stored after restart", flush=True)
finally:
    s.stop()



def rows_on_disk(s, aor):
    """The contacts rows of aor in sipd's SQLite file (read beside the running server, as WAL allows)."""
    with sqlite3.connect(s.db) as db:
        return db.execute("SELECT contact, expires FROM contacts WHERE aor = ?", (aor,)).fetchall()


# The expiry timer, with a short minimum so the test stays short.
short = [dict(m) for m in MODULES]
short[4] = {"name": "registrar", "min_expires": 1, "timer_interval": 1}
with Sipd(run.build, modules=short, routing=ROUTING) as s2:
    @run.case
    def timer_removes_expired_bindings_from_memory_and_disk():
        c = Client(s2.port)
        r = c.register("short", "<sip:short@10.0.0.1>", 2)
        run.expect(r.status == 200, "bound for 2 s")
        r = c.register("stays", "<sip:stays@10.0.0.1>", 600)
        run.expect(r.status == 200, "a second AOR bound for 600 s")
        run.expect(len(rows_on_disk(s2, "short")) == 1, "the binding is on disk")
        deadline = time.time() + 6
        while time.time() < deadline and s2.ctl("registrations", "short"):
            time.sleep(0.2)
        run.expect(not s2.ctl("registrations", "short"), "gone from memory")
        deadline = time.time() + 3
        while time.time() < deadline and rows_on_disk(s2, "short"):
            time.sleep(0.1)
        run.expect(not rows_on_disk(s2, "short"), "its row deleted from disk by the timer")
        run.expect(len(rows_on_disk(s2, "stays")) == 1, "an unexpired row stays on disk")
        s2.stop()
        s2.start()
        run.expect(not s2.ctl("registrations", "short"), "not loaded again after a restart")
        run.expect(len(s2.ctl("registrations", "stays")) == 1, "the unexpired binding loaded again")

    @run.case
    def rows_that_expired_while_down_are_swept_at_start():
        c = Client(s2.port)
        r = c.register("asleep", "<sip:asleep@10.0.0.1>", 2)
        run.expect(r.status == 200, "bound for 2 s")
        s2.stop()
        time.sleep(2.5)
        run.expect(len(rows_on_disk(s2, "asleep")) == 1, "still on disk while sipd is down")
        s2.start()
        run.expect(not s2.ctl("registrations", "asleep"), "not loaded")
        run.expect(not rows_on_disk(s2, "asleep"), "deleted from disk at start")

    @run.case
    def the_expiry_index_is_gone():
        # Schema version 3 dropped it: every refresh used to move its row in it.
        with sqlite3.connect(s2.db) as db:
            names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")]
            version = db.execute("SELECT version FROM schema_version WHERE module = 'registrar'").fetchone()
        run.expect("contacts_expires" not in names, f"indexes: {names}")
        run.expect(version == (3,), f"registrar schema version {version}")

run.finish()
