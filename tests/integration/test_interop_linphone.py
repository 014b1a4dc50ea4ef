"""Interop with a real UA: linphonec (liblinphone 5.1, belle-sip) registers with digest auth (SHA-256) and calls
linphonec through sipd with the default routing.cfg and the default session_timer policy "required", over UDP,
TCP and across; then linphonec and baresip call each other. Needs linphonec (apt-get install linphone-cli)
and baresip (baresip-core)."""

import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun  # noqa: E402
from interop.baresip import Baresip  # noqa: E402
from interop.common import (LISTEN, Clients, bindings, default_modules, default_routing,  # noqa: E402
                            require_tools, sine_wav, wait_for)
from interop.linphone import Linphone  # noqa: E402

run = TestRun("interop_linphone")
T = 15  # generous for the ASan build; linphonec registers in about 0.3 s otherwise
HOLD = 3

ROUTING = default_routing()
modules = default_modules
CLIENTS = Clients()
WAV = sine_wav(os.path.join(tempfile.mkdtemp(prefix="interop-wav-"), "tone16k.wav"), 2, 16000)


def lp(*args, **kw):
    return CLIENTS.start(Linphone, *args, **kw)


def bs(*args, **kw):
    return CLIENTS.start(Baresip, *args, **kw)


stop = CLIENTS.stop


def reg_state(u):
    """RegistrationOk / RegistrationFailed from liblinphone's log, or None while in progress."""
    m = re.findall(r"to \[LinphoneRegistration(Ok|Failed)\]", u.log())
    return m[0] if m else None


def check_register(s, user, transport):
    u = lp(f"{user}-{transport}", user, f"{user}-pw", s.port, transport)
    try:
        st = wait_for(lambda: reg_state(u), T)
        run.expect(st == "Ok", f"RegistrationOk, got {st}\n{u.stdout()[-1500:]}")
        b = bindings(s, user)
        run.expect(len(b) == 1 and b[0]["transport"] == transport and "Linphone" in b[0]["user_agent"],
                   f"one {transport} binding from linphonec: {b}")
        run.expect("algorithm=SHA-256" in u.log(), "linphone answered the SHA-256 challenge")
    finally:
        stop(u)
    run.expect(wait_for(lambda: not bindings(s, user), T), f"binding removed at quit: {bindings(s, user)}")


def check_wrong_password(s, user, transport):
    u = lp(f"{user}-bad-{transport}", user, "not-the-password", s.port, transport)
    try:
        st = wait_for(lambda: reg_state(u), T)
        run.expect(st == "Failed", f"RegistrationFailed, got {st}")
        run.expect("SIP/2.0 403 Forbidden" in u.log(), "sipd answered 403")
        run.expect(not bindings(s, user), f"no binding: {bindings(s, user)}")
    finally:
        stop(u)


def connected(u, peer_user):
    return re.search(rf"Call \d+ (with|to) .*{peer_user}.* connected\.", u.stdout())


def ended(u, peer_user):
    return re.search(rf"Call \d+ with .*{peer_user}.* ended", u.stdout())


def check_call(s, caller_tp, callee_tp, interval):
    """alice (caller_tp) calls bob (callee_tp), both linphonec; interval is the negotiated session timer."""
    a = lp(f"alice-{caller_tp}", "alice", "alice-pw", s.port, caller_tp, play=WAV)
    b = lp(f"bob-{callee_tp}", "bob", "bob-pw", s.port, callee_tp)
    try:
        b.cmd("autoanswer enable")
        run.expect(wait_for(lambda: reg_state(a) and reg_state(b), T) and reg_state(a) == reg_state(b) == "Ok",
                   "both registered")
        before = s.stats()
        a.cmd(f"call sip:bob@127.0.0.1:{s.port}")
        run.expect(wait_for(lambda: connected(a, "bob") and connected(b, "alice"), T),
                   f"both report the call connected\n{a.stdout()[-1000:]}\n{b.stdout()[-1000:]}")
        sess = wait_for(lambda: s.ctl("sessions")["sessions"], T)
        run.expect(len(sess) == 1 and sess[0]["interval"] == interval, f"a {interval} s session timer: {sess}")
        time.sleep(HOLD)
        run.expect(not ended(a, "bob") and not ended(b, "alice"), "still up after the hold")
        a.cmd("terminate")
        run.expect(wait_for(lambda: ended(b, "alice"), T), f"callee saw the BYE\n{b.stdout()[-1000:]}")
        after = wait_for(lambda: (lambda x: x if x["session_timer.ended_by_bye"] > before["session_timer.ended_by_bye"]
                                  else None)(s.stats()), T)
        run.expect(after, f"the BYE passed sipd and ended the session: {s.stats()}")
        run.expect(s.ctl("sessions")["count"] == 0, "no session left")
    finally:
        stop(a, b)


require_tools(run, "interop_linphone", [("linphonec", "linphone-cli"), ("baresip", "baresip-core")])

try:
    # The default settings: SHA-256 then MD5 challenges, session timers required.
    with Sipd(run.build, modules=modules("required", ["SHA-256", "MD5"]), routing=ROUTING, listen=LISTEN) as s:
        for user in ("alice", "bob", "carol"):
            s.ctl("users", "add", user, f"{user}-pw")

        @run.case
        def register_udp_right_password():
            check_register(s, "carol", "udp")

        @run.case
        def register_udp_wrong_password_rejected():
            check_wrong_password(s, "carol", "udp")

        @run.case
        def register_tcp_right_password():
            check_register(s, "carol", "tcp")

        @run.case
        def register_tcp_wrong_password_rejected():
            check_wrong_password(s, "carol", "tcp")

        # linphonec asks for 90 s (its session_expires_value), our Min-SE; sipd keeps it.
        @run.case
        def call_udp_to_udp_timers_required():
            check_call(s, "udp", "udp", 90)

        @run.case
        def call_udp_to_tcp_timers_required():
            check_call(s, "udp", "tcp", 90)

        @run.case
        def call_tcp_to_udp_timers_required():
            check_call(s, "tcp", "udp", 90)

    # Mixed clients: baresip (no RFC 4028, MD5 only) needs policy "supported" and MD5 challenges.
    with Sipd(run.build, modules=modules("supported", ["MD5"]), routing=ROUTING, listen=LISTEN) as s:
        s.ctl("users", "add", "alice", "alice-pw")
        s.ctl("users", "add", "bob", "bob-pw")

        @run.case
        def linphone_calls_baresip_and_back():
            a = lp("alice-mixed", "alice", "alice-pw", s.port, "udp", play=WAV)
            # baresip over TCP: it drops a connection on a message without Content-Length (linphonec's ACK over
            # UDP has none), so this checks that sipd frames what it relays onto TCP.
            b = bs("bob-mixed", "bob", "bob-pw", s.port, "tcp")
            try:
                a.cmd("autoanswer enable")
                ev = b.wait_event(("REGISTER_OK", "REGISTER_FAIL"), T)
                run.expect(ev and ev["type"] == "REGISTER_OK", f"baresip registered: {ev}")
                run.expect(wait_for(lambda: reg_state(a), T) == "Ok", "linphonec registered")
                # linphonec -> baresip, linphonec hangs up
                a.cmd(f"call sip:bob@127.0.0.1:{s.port}")
                ev = b.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), T)
                run.expect(ev and ev["type"] == "CALL_ESTABLISHED", f"baresip answered: {ev}")
                run.expect(wait_for(lambda: connected(a, "bob"), T), "linphonec connected")
                time.sleep(HOLD)
                a.cmd("terminate")
                ev = b.wait_event("CALL_CLOSED", T)
                run.expect(ev is not None, "baresip saw the BYE")
                run.expect(wait_for(lambda: s.stats()["session_timer.ended_by_bye"] == 1, T),
                           f"the BYE passed sipd: {s.stats()}")
                # baresip -> linphonec, baresip hangs up
                b.clear()
                b.cmd("dial", f"sip:alice@127.0.0.1:{s.port}")
                ev = b.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), T)
                run.expect(ev and ev["type"] == "CALL_ESTABLISHED", f"linphonec answered: {ev}")
                time.sleep(HOLD)
                b.cmd("hangup")
                run.expect(wait_for(lambda: len(re.findall(r"Call \d+ with .*bob.* ended", a.stdout())) == 2, T),
                           f"linphonec saw the BYE\n{a.stdout()[-1000:]}")
                run.expect(wait_for(lambda: s.stats()["session_timer.ended_by_bye"] == 2, T),
                           f"the BYE passed sipd: {s.stats()}")
            finally:
                stop(a, b)
finally:
    CLIENTS.close_all()
    shutil.rmtree(os.path.dirname(WAV), ignore_errors=True)
run.finish()
