"""Shared set-up of the rtc_player integration tests: the default module list with test parameters,
the default routing.cfg, users, and the demo greeting (made by scripts/make_greeting.sh if absent)."""

import os
import subprocess

from sipdtest import ROOT, Sipd, free_port

GREETING = os.path.join(ROOT, "audio", "greeting.wav")


def ensure_greeting():
    if not os.path.exists(GREETING):
        subprocess.run([os.path.join(ROOT, "scripts", "make_greeting.sh"), GREETING], check=True,
                       stdout=subprocess.DEVNULL)
    return GREETING


def media_ports(count=200):
    base = free_port("udp")
    base = min(base, 65000 - count)
    return base, base + count - 1


def player_modules(extra_modules=(), st_policy="required", algorithms=("SHA-256", "MD5"), **params):
    """The default modules.conf list (parser .. session_timer, rtc_player) on loopback, with rtc_player
    parameters overridden by params (and session_timer's min_se lowered when params ask for short timers)."""
    lo, hi = media_ports()
    rtc = {"name": "rtc_player", "bind_address": "127.0.0.1", "port_min": lo, "port_max": hi,
           "audio_dir": os.path.dirname(ensure_greeting()), "ring_ms": 200,
           # The test machine is shared and busy: real-time media threads keep the 20 ms pacing (and
           # what the callers hear) intact; without CAP_SYS_NICE sipd warns and runs them normally.
           "rt_priority": 10}
    rtc.update(params)
    st = {"name": "session_timer", "policy": st_policy, "min_se": 90, "session_expires": 1800}
    if rtc.get("test_intervals"):
        st.update({"min_se": rtc.get("min_se", 2), "test_intervals": True, "session_expires": 1800})
    return [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "sanity"}, {"name": "maxfwd"},
            {"name": "tm"}, {"name": "auth_db", "realm": "sipd", "algorithms": list(algorithms)}, {"name": "registrar"}, st] + \
        list(extra_modules) + [rtc]


def default_routing():
    with open(os.path.join(ROOT, "routing.cfg")) as f:
        return f.read()


def player_sipd(build, listen=None, extra_modules=(), st_policy="required", algorithms=("SHA-256", "MD5"),
                **params):
    return Sipd(build, modules=player_modules(extra_modules, st_policy, algorithms, **params),
                routing=default_routing(),
                listen=listen or ["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"])


def calls(s):
    return s.ctl("rtc", "calls") or []
