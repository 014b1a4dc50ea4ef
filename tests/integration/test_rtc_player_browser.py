"""rtc_player heard by a browser: headless Chromium (playwright-core, Debian's /usr/bin/chromium) with
JsSIP over sipd's ws and wss transports calls the demo user; getStats() must show Opus packets arriving and an
audio level above silence, the call must end cleanly and leave `sipctl rtc calls` empty.
Needs the ws module (skipped with a message when it is not built) and scripts/js_setup.sh."""

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop.common import wait_for  # noqa: E402
from rtcplayer import calls, player_sipd  # noqa: E402
from sipdtest import ROOT, TestRun, free_port  # noqa: E402

run = TestRun("rtc_player_browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
         "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
         "--ignore-certificate-errors"]  # wss: the self-signed certificate made below


def skip(why):
    print(f"SKIP: {why}")
    print("rtc_player_browser: 0 passed, 0 failed")
    sys.exit(0)


if not os.path.exists(os.path.join(run.build, "modules", "ws.so")):
    skip("the ws module is not built (SIP over WebSocket is another branch); nothing to call the player over")
if not os.path.exists(os.path.join(ROOT, "webroot", "vendor", "jssip.js")) or \
        not os.path.exists(os.path.join(ROOT, "node_modules", "playwright-core")):
    skip("JsSIP/playwright-core missing: run scripts/js_setup.sh")

# The page and JsSIP are served from the repository over HTTP on loopback.
http_port = free_port("tcp")
class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


handler = functools.partial(Quiet, directory=ROOT)
httpd = http.server.ThreadingHTTPServer(("127.0.0.1", http_port), handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
ws_port, wss_port = free_port("tcp"), free_port("tcp")
certdir = tempfile.mkdtemp(prefix="rtc-browser-cert-")
cert, key = os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem")
subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)

try:
    with player_sipd(run.build, listen=["udp:127.0.0.1:{port}", f"ws:127.0.0.1:{ws_port}", f"wss:127.0.0.1:{wss_port}"],
                     ring_ms=100,
                     extra_modules=[{"name": "tls", "certificate": cert, "private_key": key},
                                    {"name": "ws", "allowed_origins": [f"http://127.0.0.1:{http_port}"]}]) as s:
        s.ctl("users", "add", "alice", "secret")

        def hears_opus(ws_url):
            url = (f"http://127.0.0.1:{http_port}/tests/browser/rtc_player.html?ws={ws_url}"
                   f"&uri=sip:alice@127.0.0.1:{s.port}&pass=secret&target=sip:welcome@127.0.0.1:{s.port}&secs=5")
            p = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "rtc_player_call.js"), url] + FLAGS,
                               capture_output=True, text=True, timeout=80, cwd=ROOT)
            lines = [x for x in p.stdout.splitlines() if x.startswith("{")]
            r = json.loads(lines[-1]) if lines else {"ok": False, "cause": p.stderr[-1500:]}
            run.expect(r.get("ok"), f"the call was confirmed: {r}\n{p.stderr[-1500:]}")
            run.expect(r.get("codec", "").lower() == "audio/opus", f"Opus received: {r}")
            run.expect(r.get("packets", 0) > 150, f"packets arrive: {r}")
            run.expect(r.get("level", 0) > 0.01, f"audio level above silence: {r}")
            run.expect(wait_for(lambda: calls(s) == [], 5), f"the hang-up freed the call: {calls(s)}")

        @run.case
        def chromium_hears_opus():
            hears_opus(f"ws://127.0.0.1:{ws_port}")

        @run.case
        def chromium_hears_opus_over_wss():
            hears_opus(f"wss://127.0.0.1:{wss_port}")
finally:
    httpd.shutdown()
    shutil.rmtree(certdir, ignore_errors=True)

run.finish()
