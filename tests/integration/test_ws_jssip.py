"""JsSIP in headless Chromium (playwright-core, tests/browser/driver.js) over sipd's ws and wss transports:
digest registration over a WebSocket, calls to and from a baresip on UDP through sipd with audio both ways
(DTLS-SRTP and ICE between the two clients; sipd only signals), hang-ups from either side, and a call
forked to two browser registrations of one user; over wss (a self-signed certificate made here, which
Chromium is told to accept) a registration and a call with audio. Needs chromium, baresip and
scripts/js_setup.sh."""

import functools
import http.server
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import ROOT, Sipd, TestRun, free_port  # noqa: E402
from interop.baresip import Baresip  # noqa: E402
from interop.common import wait_for  # noqa: E402

# Media runs in a network namespace of its own when we may make one (root): its loopback plus a dummy
# interface (a veth pair, 10.77.0.1) that only this test sees. baresip's ice module gathers no loopback candidates,
# and on the host Chromium nominates a pair from another address than the candidate baresip 1.0's
# dtls_srtp keeps talking to, so DTLS never completes there (docs/transports.md). In the namespace both
# gather 10.77.0.1 only (Chromium without --allow-loopback-in-peer-connection). SIP stays on 127.0.0.1.
NETNS_SETUP = ("ip link set lo up && ip link add sipdt0 type veth peer name sipdt1 "
               "&& ip addr add 10.77.0.1/24 dev sipdt0 && ip link set sipdt0 up && ip link set sipdt1 up "
               "&& sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 "
               "net.ipv6.conf.sipdt0.disable_ipv6=1 net.ipv6.conf.sipdt1.disable_ipv6=1")
if os.environ.get("SIPD_NETNS") != "1" and os.geteuid() == 0 and shutil.which("unshare") and shutil.which("ip"):
    os.environ["SIPD_NETNS"] = "1"
    os.execvp("unshare", ["unshare", "-n", "--", "sh", "-c", NETNS_SETUP + ' && exec "$0" "$@"',
                          sys.executable] + sys.argv)
IN_NETNS = os.environ.get("SIPD_NETNS") == "1"

run = TestRun("ws_jssip")
T = 15  # generous for the ASan build

FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
         "--disable-features=WebRtcHideLocalIpsWithMdns",
         # wss: the certificate is the self-signed one made below.
         "--ignore-certificate-errors"]
if not IN_NETNS:
    FLAGS.append("--allow-loopback-in-peer-connection")


class Browser:
    """tests/browser/driver.js: JSON lines in and out."""

    def __init__(self):
        self.log = tempfile.NamedTemporaryFile(prefix="ws-jssip-chromium-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(["node", os.path.join(ROOT, "tests", "browser", "driver.js")] + FLAGS,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, cwd=ROOT)
        self.ids = itertools.count(1)
        ready = json.loads(self.proc.stdout.readline() or "{}")
        if not ready.get("ready"):
            raise RuntimeError(f"browser driver did not start: {ready} {self.output()}")

    def cmd(self, **c):
        c["id"] = next(self.ids)
        self.proc.stdin.write(json.dumps(c) + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"browser driver exited: {self.output()}")
            ans = json.loads(line)
            if ans.get("id") == c["id"]:
                if not ans.get("ok"):
                    raise RuntimeError(f"browser: {ans.get('error')}")
                return ans.get("result")

    def open(self, page, url):
        return self.cmd(op="open", page=page, url=url)

    def js(self, page, code):
        return self.cmd(op="eval", page=page, js=code)

    def output(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()[-3000:]

    def close(self):
        try:
            self.cmd(op="quit")
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.log.name)


def serve_page():
    """The test phone page, JsSIP next to it, from a local HTTP server: its origin is what sipd must allow."""
    d = tempfile.mkdtemp(prefix="ws-jssip-www-")
    for f in ("phone.html", "phone.js"):
        shutil.copy(os.path.join(ROOT, "tests", "browser", f), d)
    shutil.copy(os.path.join(ROOT, "webroot", "vendor", "jssip.js"), d)
    handler = functools.partial(QuietHandler, directory=d)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port("tcp")), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, d


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def missing():
    need = {"chromium": os.path.exists("/usr/bin/chromium"), "baresip": shutil.which("baresip"),
            "node": shutil.which("node"),
            "playwright-core (scripts/js_setup.sh)": os.path.isdir(os.path.join(ROOT, "node_modules", "playwright-core")),
            "webroot/vendor/jssip.js (scripts/js_setup.sh)": os.path.exists(os.path.join(ROOT, "webroot", "vendor", "jssip.js"))}
    return [k for k, v in need.items() if not v]


if missing():
    print(f"ws_jssip: missing {', '.join(missing())}")
    run.failed += 1
    run.finish()

srv, www = serve_page()
page_origin = f"http://127.0.0.1:{srv.server_address[1]}"
page_url = f"{page_origin}/phone.html" + ("?debug" if os.environ.get("JSSIP_DEBUG") else "")
wsport, wssport = free_port("tcp"), free_port("tcp")
certdir = tempfile.mkdtemp(prefix="ws-jssip-cert-")
CERT, KEY = os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", KEY, "-out", CERT, "-days", "2", "-subj", "/CN=127.0.0.1",
                "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
with open(os.path.join(ROOT, "routing.cfg")) as f:
    ROUTING = f.read()
MODULES = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"},
           {"name": "tls", "certificate": CERT, "private_key": KEY},
           {"name": "ws", "allowed_origins": [page_origin]},
           {"name": "sanity"}, {"name": "maxfwd"}, {"name": "tm"},
           # libre 1.1 (baresip) aborts on a SHA-256 challenge; JsSIP does MD5 too.
           {"name": "auth_db", "realm": "sipd", "algorithms": ["MD5"]},
           {"name": "registrar", "min_expires": 60, "max_expires": 7200},
           # baresip has no RFC 4028 support: "required" would answer its INVITEs 421.
           {"name": "session_timer", "policy": "supported"},
            # The default routing.cfg calls rtc_player's functions.
            {"name": "rtc_player", "bind_address": "127.0.0.1"}]
LISTEN = ["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}", f"ws:127.0.0.1:{wsport}", f"wss:127.0.0.1:{wssport}"]
BROWSER = None
SIPD = None
BARESIPS = []


def page_wait(b, page, cond, timeout=T):
    return wait_for(lambda: b.js(page, cond), timeout, 0.1)


def register(b, page, proto, port, user, answer=True):
    # The AOR carries sipd's SIP port, as the baresip ones do: sipd is "myself" only on its own ports.
    b.open(page, page_url)
    res = b.js(page, f"window.phone.register('{proto}://127.0.0.1:{port}', 'sip:{user}@127.0.0.1:{SIPD.port}', "
                     f"'{user}-pw', {str(answer).lower()})")
    run.expect(res == "registered", f"{page} registered over {proto}: {res}\n{SIPD.log_text()[-1500:] if SIPD else ''}\n{b.output()}")


def media_flows(b, page, bs):
    """Packets arrived at the browser from baresip, and baresip saw RTP from the browser."""
    st = wait_for(lambda: (lambda x: x if x["inboundPackets"] > 0 else None)(b.js(page, "window.phone.stats()")),
                  T, 0.2)
    run.expect(st, f"browser received RTP: {b.js(page, 'window.phone.stats()')}\n{bs.output()[-6000:]}")
    run.expect(st["dtls"] == "connected", f"DTLS-SRTP up: {st}")
    run.expect(bs.wait_event("CALL_RTPESTAB", T), f"baresip received RTP\n{bs.output()[-1500:]}")


def browser_calls_baresip(b, s, page, bs, target_port):
    bs.clear()
    b.js(page, f"window.phone.call('sip:bob@127.0.0.1:{target_port}')")
    run.expect(page_wait(b, page, "window.phone.has('confirmed')"),
               f"call confirmed: {b.js(page, 'window.phone.events')}\n{bs.output()[-1500:]}")
    ev = bs.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), T)
    run.expect(ev and ev["type"] == "CALL_ESTABLISHED", f"baresip answered: {ev}")
    media_flows(b, page, bs)
    b.js(page, "window.phone.hangup()")
    run.expect(bs.wait_event("CALL_CLOSED", T), "the browser's BYE reached baresip")


try:
    with Sipd(run.build, modules=MODULES, routing=ROUTING, listen=LISTEN, log_level=os.environ.get("SIPD_LOG", "info")) as s:
        SIPD = s
        for user in ("web", "bob", "webs"):
            s.ctl("users", "add", user, f"{user}-pw")
        BROWSER = b = Browser()
        bob = Baresip("bob", "bob", "bob-pw", s.port, webrtc=True)
        BARESIPS.append(bob)
        ev = bob.wait_event(("REGISTER_OK", "REGISTER_FAIL"), T)
        if not ev or ev["type"] != "REGISTER_OK":
            raise RuntimeError(f"baresip did not register: {ev}\n{bob.output()[-1500:]}")

        @run.case
        def jssip_registers_over_ws_with_digest():
            register(b, "a", "ws", wsport, "web")
            regs = s.ctl("registrations", "web")
            run.expect(len(regs) == 1 and regs[0]["transport"] == "ws" and ".invalid" in regs[0]["contact"],
                       f"one ws binding with the browser's .invalid contact: {regs}")

        @run.case
        def browser_calls_baresip_audio_both_ways_browser_hangs_up():
            browser_calls_baresip(b, s, "a", bob, s.port)

        @run.case
        def baresip_calls_browser_audio_both_ways_baresip_hangs_up():
            b.js("a", "window.phone.events.length = 0")
            bob.clear()
            bob.cmd("dial", f"sip:web@127.0.0.1:{s.port}")
            run.expect(page_wait(b, "a", "window.phone.has('confirmed')"),
                       f"browser answered: {b.js('a', 'window.phone.events')}\n{bob.output()[-1500:]}")
            ev = bob.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), T)
            run.expect(ev and ev["type"] == "CALL_ESTABLISHED", f"baresip: established, got {ev}")
            media_flows(b, "a", bob)
            bob.cmd("hangup")
            run.expect(page_wait(b, "a", "window.phone.has('ended')"), "baresip's BYE reached the browser")
            ended = b.js("a", "window.phone.last('ended')")
            run.expect(ended["originator"] == "remote", f"ended by the remote side: {ended}")

        @run.case
        def second_browser_registration_forks_the_call():
            register(b, "b", "ws", wsport, "web", answer=False)
            run.expect(len(s.ctl("registrations", "web")) == 2, "two bindings for web")
            for p in ("a", "b"):
                b.js(p, "window.phone.events.length = 0")
            bob.clear()
            bob.cmd("dial", f"sip:web@127.0.0.1:{s.port}")
            run.expect(page_wait(b, "b", "window.phone.has('session')"), "the second browser rang")
            run.expect(page_wait(b, "a", "window.phone.has('confirmed')"), "the first browser answered")
            run.expect(page_wait(b, "b", "window.phone.has('failed')"), "the second one was cancelled")
            failed = b.js("b", "window.phone.last('failed')")
            run.expect(failed["cause"] == "Canceled", f"cancelled: {failed}")
            media_flows(b, "a", bob)
            b.js("a", "window.phone.hangup()")
            run.expect(bob.wait_event("CALL_CLOSED", T), "BYE reached baresip")
            b.js("b", "window.phone.stop()")

        @run.case
        def jssip_over_wss_registers_and_calls_baresip_with_audio():
            register(b, "c", "wss", wssport, "webs")
            regs = s.ctl("registrations", "webs")
            run.expect(len(regs) == 1 and regs[0]["transport"] == "wss",
                       f"one wss binding: {regs}")
            conns = [c for c in s.ctl("ws", "list") if c["proto"] == "wss"]
            run.expect(conns and conns[0]["origin"] == page_origin and "TLSv1.3" in conns[0]["detail"],
                       f"listed as wss over TLS 1.3 with its origin: {conns}")
            browser_calls_baresip(b, s, "c", bob, s.port)
            b.js("c", "window.phone.stop()")

finally:
    for u in BARESIPS:
        u.close()
    if BROWSER:
        BROWSER.close()
    srv.shutdown()
    shutil.rmtree(www, ignore_errors=True)
    shutil.rmtree(certdir, ignore_errors=True)

run.finish()
