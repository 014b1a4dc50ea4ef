"""The default routing.cfg with the default modules, the receive path and script reload, over UDP."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import ROOT, Sipd, TestRun, parse_sip, sip_request, udp_request  # noqa: E402

with open(os.path.join(ROOT, "routing.cfg")) as f:
    DEFAULT = f.read()

run = TestRun("routing")


def ask(s, method, ruri=None, **kw):
    ruri = ruri or f"sip:127.0.0.1:{s.port}"
    return parse_sip(udp_request("127.0.0.1", s.port, sip_request(method, ruri, **kw), timeout=1.5))


with Sipd(run.build, modules="default", routing=DEFAULT) as s:

    @run.case
    def options_to_us_is_200_with_allow():
        r = ask(s, "OPTIONS")
        run.expect(r and r.status == 200, f"got {r and r.start}")
        run.expect(r.get("Allow") is not None, "200 to OPTIONS carries Allow")

    @run.case
    def requests_to_us_are_challenged():
        # Digest authentication comes before anything that serves a request (DESIGN.md's order).
        r = ask(s, "REGISTER", headers=["Contact: <sip:alice@127.0.0.1:5999>"],
                to=f"<sip:alice@127.0.0.1:{s.port}>")
        run.expect(r and r.status == 401 and r.get("WWW-Authenticate"), f"REGISTER: got {r and r.start}")
        timer = ["Supported: timer", "Session-Expires: 1800"]
        for m in ("INVITE", "MESSAGE"):
            r = ask(s, m, f"sip:bob@127.0.0.1:{s.port}", headers=timer if m == "INVITE" else [])
            run.expect(r and r.status == 407 and r.get("Proxy-Authenticate"), f"{m}: got {r and r.start}")

    @run.case
    def methods_nobody_serves_are_answered_before_the_challenge():
        # check_method(): credentials would not change the answer (issue 13, finding 2).
        r = ask(s, "FROBNICATE", f"sip:bob@127.0.0.1:{s.port}")
        run.expect(r and r.status == 501 and not r.get("Proxy-Authenticate"), f"FROBNICATE: got {r and r.start}")
        r = ask(s, "PUBLISH", f"sip:bob@127.0.0.1:{s.port}")
        run.expect(r and r.status == 405 and "INVITE" in (r.get("Allow") or ""), f"PUBLISH: got {r and r.start}")

    @run.case
    def cancel_and_in_dialog_are_481():
        r = ask(s, "CANCEL")
        run.expect(r and r.status == 481, f"CANCEL: got {r and r.start}")
        r = ask(s, "BYE", to=f"<sip:127.0.0.1:{s.port}>;tag=abc")
        run.expect(r and r.status == 481, f"BYE in dialog: got {r and r.start}")

    @run.case
    def ack_is_never_answered():
        raw = udp_request("127.0.0.1", s.port, sip_request("ACK", f"sip:127.0.0.1:{s.port}"), timeout=0.7)
        run.expect(raw is None, f"ACK answered: {raw!r}")

    @run.case
    def garbage_is_counted_not_answered():
        before = s.stats().get("core.rx_unparseable", 0)
        raw = udp_request("127.0.0.1", s.port, b"this is not SIP\r\n\r\n", timeout=0.7)
        run.expect(raw is None, "garbage answered")
        time.sleep(0.1)
        stats = s.stats()
        run.expect(stats.get("core.rx_unparseable", 0) == before + 1, f"stats: {stats}")
        run.expect(stats.get("core.rx_requests", 0) >= 8, f"stats: {stats}")

    @run.case
    def failed_reload_keeps_running_script():
        with open(s.script, "w") as f:
            f.write('request_route {\n\treply(200, "OK")\n}\n')
        p = s.ctl("reload", check=False)
        msg = p.get("message", "") if isinstance(p, dict) else str(p)
        run.expect("routing.cfg:2:18: missing ';'" in msg, f"reload said: {p}")
        r = ask(s, "CANCEL")
        run.expect(r and r.status == 481, f"old script still runs: {r and r.start}")

    @run.case
    def reload_switches_script():
        with open(s.script, "w") as f:
            f.write('request_route {\n\tif ($rm == "FROBNICATE") reply(299, "New $rm");\n\troute(R);\n}\n'
                    'route R { route(R); }\n')
        s.ctl("reload")
        r = ask(s, "FROBNICATE")
        run.expect(r and r.status == 299 and r.reason == "New FROBNICATE", f"got {r and r.start}")
        # Unbounded route() recursion is an ERROR at run time: the core answers 500.
        r = ask(s, "OPTIONS")
        run.expect(r and r.status == 500, f"got {r and r.start}")


def check_config(conf, db):
    """Runs sipd -c on conf with the build's real modules; returns (exit code, stdout + stderr)."""
    p = subprocess.run([os.path.join(run.build, "core", "sipd"), "-c", "-f", conf,
                        "-M", os.path.join(run.build, "modules"), "--db", db],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


@run.case
def shipped_configuration_is_valid():
    # The real modules register every function the default script calls (tm, auth_db, registrar, ...).
    with tempfile.TemporaryDirectory() as d:
        code, out = check_config(os.path.join(ROOT, "modules.conf"), os.path.join(d, "check.db"))
        run.expect(code == 0 and "routing.cfg are valid" in out, f"sipd -c: {code}: {out}")


@run.case
def broken_copy_of_the_default_script_is_rejected_with_its_position():
    with tempfile.TemporaryDirectory() as d:
        shutil.copy(os.path.join(ROOT, "modules.conf"), d)
        lines = DEFAULT.rstrip("\n").split("\n")
        with open(os.path.join(d, "routing.cfg"), "w") as f:
            f.write("\n".join(lines) + "\nroute broken_by_test {\n\tno_such_function(1);\n}\n")
        code, out = check_config(os.path.join(d, "modules.conf"), os.path.join(d, "check.db"))
        where = f"routing.cfg:{len(lines) + 2}:2: unknown function 'no_such_function'"
        run.expect(code != 0 and where in out, f"sipd -c: {code}: {out}")


run.finish()
