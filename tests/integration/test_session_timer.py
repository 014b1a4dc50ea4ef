"""session_timer (RFC 4028) against the real sipd: the rejection matrix, the check running before
auth_check() in the default routing.cfg, calls with timers (scripted UAs and SIPp) tracked in
`sipctl sessions`, refreshes by re-INVITE and UPDATE, expiry with BYEs to both parties, BYE cleanup,
untimed sessions dropped after untimed_lifetime."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import ROOT, Sipd, TestRun, free_port, parse_sip, sip_request, udp_request  # noqa: E402
from sipua import UA, Call, sipp_calls  # noqa: E402

run = TestRun("session_timer")

BASE = [{"name": "parser"}, {"name": "udp"}, {"name": "sanity"}, {"name": "maxfwd"},
        {"name": "tm", "t1": 100, "t2": 400, "t4": 500, "timer_c": 3000}]


def st_module(**kw):
    m = {"name": "session_timer", "test_intervals": True}
    m.update(kw)
    return m


# A proxy to $hdr(X-UA) on loopback with the timer check first, as in the default script.
SCRIPT = """request_route {
	sanity();
	maxfwd(70);
	if (is_method("ACK")) { if (loose_route()) { relay(); } drop; }
	if (is_method("INVITE|UPDATE")) { session_timer_check(); }
	if (has_to_tag()) { loose_route(); relay(); exit; }
	$ru = "sip:$rU@127.0.0.1:$hdr(X-UA)";
	record_route();
	relay();
}
"""


def sessions(s):
    return s.ctl("sessions")["sessions"]


def session_of(s, call_id):
    return next((x for x in sessions(s) if x["call_id"] == call_id), None)


def invite(port, headers):
    return parse_sip(udp_request("127.0.0.1", port, sip_request(
        "INVITE", f"sip:bob@127.0.0.1:{port}", via_port=free_port("udp"), headers=headers)))


# ---- the rejection matrix ----
with Sipd(run.build, modules=BASE + [st_module(min_se=90, session_expires=1800, max_se=7200)],
          routing=SCRIPT) as s:
    X = [f"X-UA: {free_port('udp')}"]

    @run.case
    def no_timer_support_is_421_with_require_timer():
        r = invite(s.port, X)
        run.expect(r and r.status == 421, f"status {r and r.start}")
        run.expect(r.get("Require") == "timer", f"Require: {r.get('Require')}")

    @run.case
    def small_interval_is_422_with_min_se():
        r = invite(s.port, X + ["Supported: timer", "Session-Expires: 60"])
        run.expect(r and r.status == 422, f"status {r and r.start}")
        run.expect(r.get("Min-SE") == "90", f"Min-SE: {r.get('Min-SE')}")

    @run.case
    def request_min_se_raises_the_minimum():
        r = invite(s.port, X + ["Supported: timer", "Session-Expires: 200", "Min-SE: 300"])
        run.expect(r and r.status == 422 and r.get("Min-SE") == "300", f"{r and r.start} {r.get('Min-SE')}")

    @run.case
    def malformed_values_are_400_with_the_reason():
        for hdr, what in (("Session-Expires: soon", "Session-Expires"), ("Min-SE: -1", "Min-SE"),
                          ("Session-Expires: 1800;refresher=both", "Session-Expires")):
            r = invite(s.port, X + ["Supported: timer", hdr])
            run.expect(r and r.status == 400, f"{hdr}: {r and r.start}")
            run.expect(what in (r.get("Warning") or "") and what in r.reason, f"{hdr}: {r.start} / {r.get('Warning')}")

    @run.case
    def rejections_are_counted():
        st = s.ctl("sessions.stats")
        run.expect(st["rejected_421"] >= 1 and st["rejected_422"] >= 2 and st["rejected_400"] >= 3, str(st))

# ---- the order: timers before authentication, with the default routing.cfg and modules ----
with open(os.path.join(ROOT, "routing.cfg")) as f:
    DEFAULT_SCRIPT = f.read()
# (the default routing.cfg calls rtc_player's functions)
DEFAULT_MODS = BASE + [{"name": "tcp"}, {"name": "auth_db", "realm": "sipd"}, {"name": "registrar"},
                       st_module(), {"name": "rtc_player", "bind_address": "127.0.0.1"}]
with Sipd(run.build, modules=DEFAULT_MODS, routing=DEFAULT_SCRIPT,
          listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]) as s:

    @run.case
    def order_421_before_407():
        r = invite(s.port, [])
        run.expect(r and r.status == 421, f"an INVITE without timers and credentials got {r and r.start}")

    @run.case
    def order_then_auth_challenges():
        r = invite(s.port, ["Supported: timer"])
        run.expect(r and r.status in (401, 407), f"with timers the challenge comes: {r and r.start}")

# ---- calls with timers ----
with Sipd(run.build, modules=BASE + [st_module(min_se=2, session_expires=4, max_se=3600)],
          routing=SCRIPT) as s:

    @run.case
    def call_is_tracked_with_the_interval_added_to_the_2xx():
        a, b = UA("alice"), UA("bob")
        try:
            c = Call(s.port, a, b, ["Supported: timer", "Session-Expires: 600"])
            run.expect(c.ok and c.ok.status == 200, f"call: {c.ok and c.ok.start}")
            run.expect(c.ok.get("Session-Expires") == "600;refresher=uac" and c.ok.get("Require") == "timer",
                       f"2xx: {c.ok.get('Session-Expires')} / {c.ok.get('Require')}")
            inv = b.wait_request("INVITE", 1)
            run.expect(inv.get("Session-Expires") == "600", f"relayed: {inv.get('Session-Expires')}")
            x = session_of(s, c.call_id)
            run.expect(x is not None, f"in sipctl sessions: {sessions(s)}")
            run.expect(x["interval"] == 600 and x["refresher"] == "caller", str(x))
            run.expect(x["caller"].startswith("sip:tester@") and x["callee"].startswith("sip:bob@"), str(x))
            run.expect(590 - 32 < x["expires_in"] <= 600 - 32, str(x))
            r = c.send("BYE", "caller")
            run.expect(r and r.status == 200, f"BYE: {r and r.start}")
            run.expect(session_of(s, c.call_id) is None, "the BYE removed the dialog")
        finally:
            a.close()
            b.close()

    @run.case
    def session_expires_is_inserted_and_lowered():
        a, b = UA("alice"), UA("bob")
        try:
            c = Call(s.port, a, b, ["Supported: timer"])
            inv = b.wait_request("INVITE", 1)
            run.expect(inv.get("Session-Expires") == "4", f"inserted: {inv.get('Session-Expires')}")
            c.send("BYE", "caller")
            a2, b2 = UA("alice"), UA("bob")
            try:
                c2 = Call(s.port, a2, b2, ["Supported: timer", "Session-Expires: 99999;refresher=uas"])
                inv = b2.wait_request("INVITE", 1)
                run.expect(inv.get("Session-Expires") == "3600;refresher=uas", f"lowered: {inv.get('Session-Expires')}")
                c2.send("BYE", "caller")
            finally:
                a2.close()
                b2.close()
        finally:
            a.close()
            b.close()

    @run.case
    def refresh_by_reinvite_and_update_moves_the_expiry():
        # 4 s: without a refresh the proxy would end it at 4 - 4/3 = 2.67 s.
        a, b = UA("alice"), UA("bob", answer_headers=["Require: timer", "Session-Expires: 4;refresher=uac"])
        try:
            c = Call(s.port, a, b, ["Supported: timer", "Session-Expires: 4"])
            run.expect(c.ok and c.ok.status == 200, "call")
            time.sleep(1.5)
            before = session_of(s, c.call_id)["expires_in"]
            r = c.send("INVITE", "caller", ["Supported: timer", "Session-Expires: 4;refresher=uac"])
            run.expect(r and r.status == 200, f"re-INVITE: {r and r.start}")
            c.ack()
            after = session_of(s, c.call_id)["expires_in"]
            run.expect(before < 1.3 and after > 2.4, f"re-INVITE moved expires_in {before} -> {after}")
            time.sleep(1.5)
            before = session_of(s, c.call_id)["expires_in"]
            r = c.send("UPDATE", "callee", ["Supported: timer", "Session-Expires: 4;refresher=uac"])
            run.expect(r and r.status == 200, f"UPDATE: {r and r.start}")
            x = session_of(s, c.call_id)
            run.expect(before < 1.3 and x["expires_in"] > 2.4, f"UPDATE moved expires_in {before} -> {x}")
            run.expect(x["refresher"] == "callee", f"the callee refreshes now: {x}")
            time.sleep(1.5)
            run.expect(not any(m.start.startswith("BYE") for m in a.requests + b.requests), "no BYE while refreshed")
            c.send("BYE", "callee")
            run.expect(session_of(s, c.call_id) is None, "gone after BYE")
        finally:
            a.close()
            b.close()

    @run.case
    def unrefreshed_session_ends_with_bye_to_both():
        a, b = UA("alice"), UA("bob", answer_headers=["Require: timer", "Session-Expires: 2;refresher=uac"])
        try:
            c = Call(s.port, a, b, ["Supported: timer", "Session-Expires: 2"])
            run.expect(c.ok and c.ok.status == 200, "call")
            t0 = time.time()
            bye_b = b.wait_request("BYE", 4)
            bye_a = a.wait_request("BYE", 2)
            took = time.time() - t0
            run.expect(bye_a is not None and bye_b is not None, "BYE reached both parties")
            run.expect(1.0 < took < 2.5, f"ended after {took:.2f}s (2 - min(32, 2/3) = 1.33 s)")
            for who, m, want_from in (("callee", bye_b, c.frm), ("caller", bye_a, c.to)):
                run.expect("cause=408" in (m.get("Reason") or ""), f"{who}: Reason {m.get('Reason')}")
                run.expect(m.get("From") == want_from, f"{who}: From {m.get('From')} want {want_from}")
                run.expect(m.get("Call-ID") == c.call_id, f"{who}: Call-ID")
            run.expect(bye_b.get("CSeq") == "2 BYE", f"callee BYE continues the caller's CSeq: {bye_b.get('CSeq')}")
            run.expect(bye_b.start.split()[1] == f"sip:bob@127.0.0.1:{b.port}", bye_b.start)
            run.expect(bye_a.start.split()[1] == f"sip:alice@127.0.0.1:{a.port}", bye_a.start)
            time.sleep(0.3)
            run.expect(session_of(s, c.call_id) is None, "removed")
            st = s.ctl("sessions.stats")
            run.expect(st["expired"] >= 1 and st["byes_sent"] >= 2 and st["bye_failures"] == 0, str(st))
        finally:
            a.close()
            b.close()

    @run.case
    def failed_refresh_481_removes_the_dialog():
        a, b = UA("alice"), UA("bob", reinvite_status=481)
        try:
            c = Call(s.port, a, b, ["Supported: timer", "Session-Expires: 600"])
            run.expect(session_of(s, c.call_id) is not None, "tracked")
            r = c.send("INVITE", "caller", ["Supported: timer", "Session-Expires: 600"])
            run.expect(r and r.status == 481, f"refresh answered {r and r.start}")
            run.expect(session_of(s, c.call_id) is None, "481 to a refresh removed the dialog")
        finally:
            a.close()
            b.close()

    @run.case
    def sessions_survive_a_routing_reload():
        a, b = UA("alice"), UA("bob")
        try:
            c = Call(s.port, a, b, ["Supported: timer", "Session-Expires: 600"])
            s.ctl("reload")
            run.expect(session_of(s, c.call_id) is not None, "still tracked after reload")
            c.send("BYE", "caller")
        finally:
            a.close()
            b.close()

    @run.case
    def sipp_calls_with_timers_refreshed_and_tracked():
        before = s.ctl("sessions.stats")
        rc, ok, _, out = sipp_calls(s.port, "bob", 3, uac="uac_call_timer.xml", uas="uas_call_timer.xml",
                                    timeout=20, keys=[("se", 4)])
        run.expect(rc == 0 and ok == 3, f"sipp rc {rc}, {ok} ok\n{out}")
        st = s.ctl("sessions.stats")
        run.expect(st["created"] - before["created"] == 3, f"3 dialogs created: {before} -> {st}")
        run.expect(st["refreshed"] - before["refreshed"] >= 3, f"each refreshed by UPDATE: {st}")
        run.expect(st["ended_by_bye"] - before["ended_by_bye"] == 3, f"each ended by BYE: {st}")
        run.expect(st["active"] == 0, str(st))

# ---- untimed sessions (policy supported, no timer on either side): kept untimed_lifetime, then dropped ----
with Sipd(run.build, modules=BASE + [st_module(policy="supported", untimed_lifetime=2)], routing=SCRIPT) as s:

    @run.case
    def an_untimed_session_is_dropped_after_its_lifetime_without_a_bye():
        a, b = UA("alice"), UA("bob")
        try:
            c = Call(s.port, a, b, [])
            run.expect(c.ok and c.ok.status == 200 and c.ok.get("Session-Expires") is None,
                       f"call without timers: {c.ok and c.ok.start} / {c.ok and c.ok.get('Session-Expires')}")
            x = session_of(s, c.call_id)
            run.expect(x is not None and x["expires_in"] is None and x["interval"] == 0, f"untimed: {x}")
            time.sleep(3)
            run.expect(session_of(s, c.call_id) is None, f"dropped after 2 s: {sessions(s)}")
            run.expect(not any(m.start.startswith("BYE") for m in a.requests + b.requests), "no BYE sent")
            st = s.ctl("sessions.stats")
            run.expect(st["untimed_dropped"] == 1 and st["expired"] == 0 and st["active"] == 0, str(st))
        finally:
            a.close()
            b.close()

run.finish()
