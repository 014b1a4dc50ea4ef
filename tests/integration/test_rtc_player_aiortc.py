"""rtc_player heard by a second WebRTC stack: aiortc (Debian python3-aiortc) offers recvonly Opus over
ICE + DTLS-SRTP, records what it receives, and the recording correlates with the greeting. A caller that
vanishes (SIGKILL: no BYE, ICE consent stops) ends the call after consent_timeout."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from interop.audiocheck import envelope_correlation, load_wav, rms_dbfs  # noqa: E402
from interop.common import wait_for  # noqa: E402
from rtcplayer import GREETING, calls, player_sipd  # noqa: E402
from sipdtest import TestRun  # noqa: E402

# aiortc is a Debian package: the system interpreter has it even when python3 on PATH does not.
PY = "/usr/bin/python3"
run = TestRun("rtc_player_aiortc")
tmp = tempfile.mkdtemp(prefix="rtc-aiortc-")


def caller(port, out, seconds, mode):
    return subprocess.Popen([PY, "-m", "interop.aiortc_caller", str(port), "alice", "secret", "welcome", out,
                             str(seconds), mode], cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def lines(proc, until, timeout):
    """Reads the caller's JSON lines until one has the key `until`; returns them all."""
    got, deadline = [], time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        got.append(json.loads(line))
        if until in got[-1]:
            break
    return got


if subprocess.run([PY, "-c", "import aiortc"], capture_output=True).returncode != 0:
    print("SKIP: python3-aiortc is not installed (scripts/setup.sh --test-tools installs it)")
    print("rtc_player_aiortc: 0 passed, 0 failed")
    sys.exit(0)

with player_sipd(run.build, ring_ms=100, consent_timeout=5) as s:
    s.ctl("users", "add", "alice", "secret")
    src, src_rate = load_wav(GREETING)

    @run.case
    def webrtc_call_is_heard():
        out = os.path.join(tmp, "heard.wav")
        p = caller(s.port, out, 5, "bye")
        try:
            got = lines(p, "answered", 30)
            ans = next((g for g in got if "answered" in g), {})
            run.expect(ans.get("answered") == 200, f"200 OK: {got} {p.stderr.read() if p.poll() else ''}")
            sdp = ans.get("answer", "")
            for attr in ("a=ice-lite", "UDP/TLS/RTP/SAVPF", "a=fingerprint:sha-256", "a=setup:passive",
                         "a=rtcp-mux", "opus/48000/2"):
                run.expect(attr in sdp, f"answer has {attr}")
            time.sleep(2)
            live = calls(s)
            run.expect(len(live) == 1 and live[0]["kind"] == "webrtc" and live[0]["dtls"] == "connected",
                       f"rtc calls: {live}")
            got += lines(p, "stats", 15)
            st = next((g["stats"] for g in got if "stats" in g), {})
            run.expect(st.get("packets", 0) > 200 and st.get("dtls") == "connected", f"aiortc stats: {st}")
            p.wait(20)
            run.expect(wait_for(lambda: calls(s) == [], 3), "BYE freed the call")
            heard, rate = load_wav(out)
            corr = envelope_correlation(heard, rate, src, src_rate)
            run.expect(corr > 0.8, f"aiortc hears the greeting: correlation {corr:.3f}, {rms_dbfs(heard):.1f} dBFS, "
                       f"{len(heard) / rate:.1f} s")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    @run.case
    def vanished_caller_ends_the_call():
        p = caller(s.port, os.path.join(tmp, "gone.wav"), 2, "vanish")
        try:
            got = lines(p, "vanishing", 30)
            run.expect(any("vanishing" in g for g in got), f"call up: {got}")
            run.expect(len(calls(s)) == 1, "one call")
            p.send_signal(signal.SIGKILL)
            p.wait()
            t0 = time.time()
            gone = wait_for(lambda: calls(s) == [], 12)
            run.expect(gone, "the call is freed once ICE consent stops")
            run.expect(3 < time.time() - t0 < 10, f"after consent_timeout (5 s): {time.time() - t0:.1f} s")
            run.expect("peer gone" in s.log_text(), "ended as a lost peer")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

run.finish()
