"""The web admin in a real browser: headless Chromium (playwright-core, tests/browser/webadmin.js) against the real
sipd with the webadmin module, while baresip clients register and call through it. The browser script asks this
file for the SIP side of each case ("@@ {json}" lines) and reports its cases, which are counted here.
Screenshots of every page (desktop and phone size) go to BUILD_DIR/screenshots/.
Needs chromium, node with the repository's node_modules (scripts/js_setup.sh) and baresip."""

import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import ROOT, Sipd, TestRun, free_port, parse_sip, sip_request, udp_request  # noqa: E402
from interop.baresip import Baresip  # noqa: E402
from interop.common import wait_for  # noqa: E402

run = TestRun("webadmin_browser")
T = 10
ADMIN, ADMIN_PASSWORD = "admin", "browser-Admin-pw-1"
SCRIPT = os.path.join(ROOT, "tests", "browser", "webadmin.js")
LISTEN = ["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]
# libre 1.1 cannot answer a SHA-256 challenge and baresip has no session timers: MD5, policy "supported".
MODULES = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "sanity"}, {"name": "maxfwd"},
           {"name": "tm"}, {"name": "auth_db", "realm": "sipd", "algorithms": ["MD5"]},
           {"name": "registrar", "min_expires": 60, "max_expires": 7200},
           {"name": "session_timer", "policy": "supported"},
            # The default routing.cfg calls rtc_player's functions.
            {"name": "rtc_player", "bind_address": "127.0.0.1"}]


def missing_tools():
    need = [("chromium", "/usr/bin/chromium"), ("node", shutil.which("node")), ("baresip", shutil.which("baresip")),
            ("playwright-core (scripts/js_setup.sh)", os.path.join(ROOT, "node_modules", "playwright-core"))]
    return [name for name, path in need if not path or not os.path.exists(path)]


class SipSide:
    """Answers the browser script's requests with real SIP clients (baresip) and raw SIP."""

    def __init__(self, sipd):
        self.s = sipd
        self.uas = []
        self.callee = None
        self.caller = None
        self.webrtc = None

    def ua(self, name, user, password, answer=True):
        u = Baresip(name, user, password, self.s.port, answer=answer)
        self.uas.append(u)
        ev = u.wait_event(("REGISTER_OK", "REGISTER_FAIL"), T)
        if not ev or ev["type"] != "REGISTER_OK":
            raise RuntimeError(f"{user} did not register: {ev}\n{u.output()[-1000:]}")
        return u

    def handle(self, req):
        try:
            return {"ok": True, **(getattr(self, "do_" + req["need"])(req) or {})}
        except Exception as e:  # the browser script reports it as the case's failure; the detail goes here
            print(f"SIP side of {req['need']} failed: {e}", flush=True)
            return {"ok": False, "error": str(e).split(chr(10))[0]}

    def do_user_exists(self, req):
        u = self.s.ctl("users", "get", req["user"])
        if not u or u.get("username") != req["user"]:
            raise RuntimeError(f"users get answered {u}")

    def do_register(self, req):
        self.callee = self.ua("callee", req["user"], req["password"], answer=True)

    def do_call(self, req):
        if not self.caller:
            self.caller = self.ua("caller", req["from"], f"{req['from']}-pw", answer=False)
        for u in (self.caller, self.callee):
            u.clear()
        self.caller.cmd("dial", f"sip:{req['to']}@127.0.0.1:{self.s.port}")
        for u in (self.caller, self.callee):
            ev = u.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), T)
            if not ev or ev["type"] != "CALL_ESTABLISHED":
                raise RuntimeError(f"{u.user}: call not established: {ev}\n{u.output()[-1000:]}")

    def do_hangup(self, req):
        self.caller.cmd("hangup")
        if not self.callee.wait_event("CALL_CLOSED", T):
            raise RuntimeError("the callee saw no BYE")

    def do_wait_closed(self, req):
        for u in (self.caller, self.callee):
            if not u.wait_event("CALL_CLOSED", T):
                raise RuntimeError(f"{u.user} saw no BYE")
        left = self.s.ctl("sessions")
        if left["count"] != 0:
            raise RuntimeError(f"sessions left: {left}")

    def do_register_webrtc(self, req):
        if "webrtc" not in inspect.signature(Baresip).parameters:
            raise RuntimeError("interop/baresip.py has no webrtc option (DTLS-SRTP + ICE) in this tree")
        self.s.ctl("users", "add", req["user"], req["password"])
        u = Baresip("webrtc", req["user"], req["password"], self.s.port, answer=True, webrtc=True)
        self.uas.append(u)
        ev = u.wait_event(("REGISTER_OK", "REGISTER_FAIL"), T)
        if not ev or ev["type"] != "REGISTER_OK":
            raise RuntimeError(f"{req['user']} did not register: {ev}")
        self.webrtc = u

    @staticmethod
    def log_tail(u):
        """baresip's output without its \\r-refreshed status line."""
        lines = [l for l in u.output().replace("\r", "\n").split("\n") if l.strip() and "bit/s" not in l]
        return "\n".join(lines[-40:])

    def do_webrtc_answered(self, req):
        ev = self.webrtc.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), T)
        if not ev or ev["type"] != "CALL_ESTABLISHED":
            raise RuntimeError(f"baresip: {ev}\n{self.log_tail(self.webrtc)}")

    def do_webrtc_closed(self, req):
        if not self.webrtc.wait_event("CALL_CLOSED", T):
            raise RuntimeError("baresip saw no BYE")

    def do_options(self, req):
        resp = parse_sip(udp_request("127.0.0.1", self.s.port, sip_request("OPTIONS", f"sip:127.0.0.1:{self.s.port}"),
                                     timeout=T))
        if not resp:
            raise RuntimeError("no answer to OPTIONS")
        return {"status": resp.status, "reason": resp.reason}

    def close(self):
        for u in self.uas:
            u.close()


def drive_browser(sipd, web_port, shots):
    """Runs the browser script, answering its requests; counts its cases into run."""
    profile = tempfile.mkdtemp(prefix="webadmin-chromium-")
    env = dict(os.environ, SIPD_WEB=f"http://127.0.0.1:{web_port}", SIPD_ADMIN=ADMIN,
               SIPD_ADMIN_PASSWORD=ADMIN_PASSWORD, SIPD_SHOTS=shots, SIPD_PROFILE=profile,
               NODE_PATH=os.path.join(ROOT, "node_modules"))
    side = SipSide(sipd)
    proc = subprocess.Popen(["node", SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT)
    pending = []
    try:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("@@ "):
                proc.stdin.write(json.dumps(side.handle(json.loads(line[3:]))) + "\n")
                proc.stdin.flush()
                continue
            print(line, flush=True)
            if line.startswith("[PASS]"):
                run.passed += 1
            elif line.startswith("[FAIL]"):
                run.failed += 1
            elif line.startswith("[PENDING]"):
                pending.append(line)
        code = proc.wait(30)
        if code not in (0, 1):
            run.failed += 1
            print(f"[FAIL] webadmin_browser: the browser script exited with {code}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        side.close()
        shutil.rmtree(profile, ignore_errors=True)
    for line in pending:
        print(f"webadmin_browser: pending (not counted): {line[len('[PENDING] '):]}")


missing = missing_tools()
if missing:
    print(f"webadmin_browser: missing {', '.join(missing)}")
    run.failed += 1
    run.finish()

started = time.time()
web_port = free_port("tcp")
shots = os.path.join(run.build, "screenshots")
shutil.rmtree(shots, ignore_errors=True)
# A lower PBKDF2 cost: under ASan OpenSSL's PBKDF2 is ~20x slower, and this test is about the pages
# (test_webadmin_api.py checks the hashing).
modules = MODULES + [{"name": "webadmin", "listen": [f"127.0.0.1:{web_port}"],
                      "webroot": os.path.join(ROOT, "webroot"), "bootstrap_admin": False,
                      "pbkdf2_iterations": 20000}]
listen = list(LISTEN)
# The softphone needs SIP over WebSocket: with the ws transport built, sipd listens on ws too.
if os.path.exists(os.path.join(run.build, "modules", "ws.so")):
    modules.insert(3, {"name": "ws", "allowed_origins": [f"http://127.0.0.1:{web_port}"]})
    listen.append(f"ws:127.0.0.1:{free_port('tcp')}")
with open(os.path.join(ROOT, "routing.cfg")) as f:
    routing = f.read()
with Sipd(run.build, modules=modules, routing=routing, listen=listen) as s:
    s.ctl("admin", "add", ADMIN, ADMIN_PASSWORD)
    s.ctl("users", "add", "dave", "dave-pw")
    s.ctl("users", "add", "erin", "erin-pw")  # never registers: calls to erin get 480
    drive_browser(s, web_port, shots)

    @run.case
    def changes_made_in_the_browser_are_in_sipd():
        u = s.ctl("users", "get", "carol")
        run.expect(u["enabled"] is True, f"carol added, disabled and enabled again through the UI: {u}")
        run.expect(b"Hello from the web admin" in open(s.script, "rb").read(), "the applied script was saved")
print(f"webadmin_browser: screenshots in {shots}; {time.time() - started:.1f} s in all")
run.finish()
