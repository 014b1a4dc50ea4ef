"""Crashes: kill -9 during calls, then a restart: every confirmed session is back in `sipctl sessions` (persisted
like bindings), an unrefreshed one still ends with BYEs to both parties, one hung up after the restart is gone
from disk too; and kill -9 during a mixed REGISTER + call load loses no acknowledged binding and leaves a
database that passes PRAGMA integrity_check."""

import os
import signal
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun, wait_until  # noqa: E402
from regtest import RegisterBurst  # noqa: E402
from sipua import UA, Call  # noqa: E402

run = TestRun("crash_restart")
MODS = [{"name": "parser"}, {"name": "udp"}, {"name": "sanity"}, {"name": "maxfwd"},
        {"name": "tm", "t1": 100, "t2": 400, "t4": 500, "timer_c": 3000},
        {"name": "registrar", "min_expires": 60, "max_expires": 3600},
        {"name": "session_timer", "test_intervals": True, "min_se": 2, "session_expires": 600, "max_se": 3600}]
SCRIPT = """request_route {
	sanity();
	maxfwd(70);
	if (is_method("ACK")) { if (loose_route()) { relay(); } drop; }
	if (is_method("INVITE|UPDATE")) { session_timer_check(); }
	if (has_to_tag()) { loose_route(); relay(); exit; }
	if ($rm == "REGISTER") { save(); exit; }
	$ru = "sip:$rU@127.0.0.1:$hdr(X-UA)";
	record_route();
	relay();
}
"""


def db_query(path, sql):
    con = sqlite3.connect(path, timeout=5)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def kill9(s):
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s.logf.close()


def sessions(s):
    return {x["call_id"]: x for x in s.ctl("sessions")["sessions"]}


s = Sipd(run.build, modules=MODS, routing=SCRIPT)
s.start()
parties = []
try:
    # ---- sessions survive kill -9 ----
    calls = []

    @run.case
    def confirmed_sessions_are_on_disk():
        for i in range(3):
            a, b = UA("alice"), UA("bob")
            parties.extend((a, b))
            calls.append(Call(s.port, a, b, ["Supported: timer", "Session-Expires: 600"]))
        # The short one: 9 s, so ended 6 s after its 2xx (9 - min(32, 9/3)) unless refreshed.
        a, b = UA("carol"), UA("dave", answer_headers=["Require: timer", "Session-Expires: 9;refresher=uac"])
        parties.extend((a, b))
        calls.append(Call(s.port, a, b, ["Supported: timer", "Session-Expires: 9"]))
        run.expect(all(c.ok and c.ok.status == 200 for c in calls), "four calls up")
        ids = {c.call_id for c in calls}
        run.expect(ids <= set(sessions(s)), f"tracked: {list(sessions(s))}")
        run.expect(wait_until(lambda: {r[0] for r in db_query(s.db, "SELECT call_id FROM st_dialogs")} >= ids, 3),
                   f"rows: {db_query(s.db, 'SELECT call_id FROM st_dialogs')}")

    @run.case
    def after_kill_9_every_session_is_back():
        t_kill = time.time()
        kill9(s)
        s.start()
        now = sessions(s)
        missing = [c.call_id for c in calls if c.call_id not in now]
        run.expect(not missing, f"sessions lost in the crash: {missing}")
        long = now[calls[0].call_id]
        run.expect(long["interval"] == 600 and 500 < long["expires_in"] <= 568, f"timer kept: {long}")
        run.expect(long["caller_tag"] == calls[0].caller.tag and long["callee_tag"] == calls[0].callee.tag,
                   str(long))
        print(f"    {len(now)} sessions back {time.time() - t_kill:.2f}s after kill -9", flush=True)

    @run.case
    def an_unrefreshed_session_still_ends_with_bye_to_both():
        short = calls[3]
        bye_callee = short.callee.wait_request("BYE", 10)
        bye_caller = short.caller.wait_request("BYE", 2)
        run.expect(bye_callee is not None and bye_caller is not None,
                   f"BYEs after the restart: callee {short.callee.seen}, caller {short.caller.seen}")
        run.expect("cause=408" in (bye_callee.get("Reason") or ""), f"Reason: {bye_callee.get('Reason')}")
        run.expect(bye_caller.get("From") == short.to, f"the caller's BYE comes from the callee: {bye_caller.get('From')}")
        run.expect(bye_callee.get("CSeq") == "2 BYE", f"continues the caller's CSeq: {bye_callee.get('CSeq')}")
        run.expect(wait_until(lambda: short.call_id not in sessions(s), 2), "gone from the table")
        run.expect(wait_until(lambda: not db_query(
            s.db, f"SELECT 1 FROM st_dialogs WHERE call_id = '{short.call_id}'"), 3), "gone from disk")

    @run.case
    def a_restored_session_ends_by_bye_and_leaves_the_disk():
        c = calls[0]
        r = c.send("BYE", "caller")
        run.expect(r and r.status == 200, f"BYE through sipd after the restart: {r and r.start}")
        run.expect(c.call_id not in sessions(s), "removed")
        run.expect(wait_until(lambda: not db_query(
            s.db, f"SELECT 1 FROM st_dialogs WHERE call_id = '{c.call_id}'"), 3), "row removed")
        s.stop()
        s.start()
        left = set(sessions(s))
        run.expect(left == {calls[1].call_id, calls[2].call_id}, f"a clean restart keeps exactly the live ones: {left}")

    # ---- kill -9 during a mixed REGISTER + call load ----
    @run.case
    def kill_9_under_register_and_call_load():
        callee = UA("bob")
        parties.append(callee)
        stop = threading.Event()
        placed = []

        def call_loop():
            while not stop.is_set():
                a = UA("alice")
                try:
                    c = Call(s.port, a, callee, ["Supported: timer", "Session-Expires: 600"])
                    if c.ok and c.ok.status == 200:
                        placed.append(c.call_id)
                        if len(placed) % 2:
                            c.send("BYE", "caller")
                finally:
                    a.close()

        burst = RegisterBurst(s.port, "mix")
        acked = burst.acked
        threads = [threading.Thread(target=call_loop), threading.Thread(target=call_loop)]
        for t in threads:
            t.start()
        killed = False
        for i in range(3000):
            burst.register(i, f"mix{i}")
            if i % 20 == 0:
                time.sleep(0.005)
            if len(acked) >= 400 and len(placed) >= 10:
                s.proc.send_signal(signal.SIGKILL)
                killed = True
                break
        if not killed:
            wait_until(lambda: len(acked) >= 400 and len(placed) >= 10, 10)
            s.proc.send_signal(signal.SIGKILL)
        s.proc.wait()
        s.logf.close()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(10)
        burst.close()
        snapshot = set(acked)
        run.expect(snapshot and len(placed) >= 10, f"load before the kill: {len(snapshot)} REGISTERs acknowledged, "
                                                  f"{len(placed)} calls up")
        ok = db_query(s.db, "PRAGMA integrity_check")
        run.expect(ok == [("ok",)], f"integrity_check after kill -9: {ok}")
        s.start()
        stored = {r["aor"] for r in s.ctl("registrations") if r["aor"].startswith("mix")}
        lost = snapshot - stored
        run.expect(not lost, f"{len(lost)} acknowledged bindings lost, e.g. {sorted(lost)[:5]}")
        rows = len(db_query(s.db, "SELECT 1 FROM st_dialogs"))
        run.expect(rows == len(sessions(s)), f"sessions loaded = rows on disk: {len(sessions(s))} / {rows}")
        print(f"    {len(snapshot)} REGISTERs and {len(placed)} calls before kill -9; {len(stored)} bindings and "
              f"{rows} sessions after the restart", flush=True)
finally:
    for p in parties:
        p.close()
    s.stop()

run.finish()
