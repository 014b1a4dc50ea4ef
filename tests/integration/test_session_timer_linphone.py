"""A real client with RFC 4028 through sipd: linphonec (liblinphone 5.1) calls linphonec; the call is
tracked by session_timer, refreshed by linphone's UPDATE at half the interval, and removed by its BYE.
Needs linphonec (apt-get install linphone-cli); prints a skip line and fails when it is missing."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun, free_port  # noqa: E402

run = TestRun("session_timer_linphone")
INTERVAL = 10  # linphone refreshes at 5 s; below RFC 4028's 90 only because test_intervals is set

RC = """[sip]
sip_port={port}
sip_tcp_port=0
sip_tls_port=0
default_proxy=-1
register_only_when_network_is_up=0
media_encryption=none
session_expires_enabled=1
session_expires_value={interval}
session_expires_min_value={interval}
session_expires_refresher_value=0
[rtp]
bind_address=127.0.0.1
audio_rtp_port={rtp}
video_rtp_port=0
text_rtp_port=0
[net]
stun_server=
firewall_policy=0
[sound]
echocancellation=0
"""


class Linphone:
    """linphonec driven through a stdin pipe, with its own HOME."""

    def __init__(self, name, interval):
        self.dir = tempfile.mkdtemp(prefix=f"st-{name}-")
        os.makedirs(os.path.join(self.dir, ".local", "share", "linphone"))
        self.port = free_port()
        self.rc = os.path.join(self.dir, "linphonerc")
        with open(self.rc, "w") as f:
            f.write(RC.format(port=self.port, interval=interval, rtp=free_port("udp")))
        self.out = open(os.path.join(self.dir, "out.log"), "wb")
        self.proc = subprocess.Popen(["linphonec", "-c", self.rc, "-d", "6", "-l", os.path.join(self.dir, "debug.log")],
                                     stdin=subprocess.PIPE, stdout=self.out, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, HOME=self.dir))
        self.cmd("soundcard use files")

    def cmd(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def log(self):
        try:
            with open(os.path.join(self.dir, "debug.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stdout(self):
        with open(os.path.join(self.dir, "out.log"), errors="replace") as f:
            return f.read()

    def close(self):
        try:
            self.cmd("quit")
            self.proc.stdin.close()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def wait_for(pred, timeout, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


if not shutil.which("linphonec"):
    print("session_timer_linphone: linphonec missing (apt-get install linphone-cli)")
    run.failed += 1
    run.finish()

bob = Linphone("bob", INTERVAL)
alice = Linphone("alice", INTERVAL)
script = f"""request_route {{
	sanity();
	maxfwd(70);
	if (is_method("ACK")) {{ if (loose_route()) {{ relay(); }} drop; }}
	if (is_method("INVITE|UPDATE")) {{ session_timer_check(); }}
	if (has_to_tag()) {{ loose_route(); relay(); exit; }}
	if (is_method("OPTIONS|SUBSCRIBE|PUBLISH")) {{ t_reply(404, "Not Here"); exit; }}
	$ru = "sip:bob@127.0.0.1:{bob.port}";
	record_route();
	relay();
}}
"""
mods = [{"name": "parser"}, {"name": "udp"}, {"name": "sanity"}, {"name": "maxfwd"}, {"name": "tm"},
        {"name": "session_timer", "test_intervals": True, "min_se": 2, "session_expires": INTERVAL}]
try:
    with Sipd(run.build, modules=mods, routing=script) as s:
        bob.cmd("autoanswer enable")
        time.sleep(1.0)

        @run.case
        def linphone_call_is_timed_refreshed_and_removed():
            alice.cmd(f"call sip:bob@127.0.0.1:{s.port}")
            x = wait_for(lambda: s.ctl("sessions")["sessions"], 10)
            run.expect(x, f"the call appears in sipctl sessions\n{alice.stdout()[-2000:]}")
            x = x[0]
            run.expect(x["interval"] == INTERVAL, f"negotiated {x}")
            t0 = time.time()
            refreshed = wait_for(lambda: s.ctl("sessions.stats")["refreshed"] >= 1, INTERVAL)
            run.expect(refreshed, f"linphone refreshed the session: {s.ctl('sessions.stats')}")
            print(f"  refreshed after {time.time() - t0:.1f}s of {INTERVAL}s; session {x}", flush=True)
            run.expect("UPDATE sip:" in alice.log() + bob.log(), "the refresh was an UPDATE")
            time.sleep(INTERVAL)  # two more refreshes; no expiry meanwhile
            st = s.ctl("sessions.stats")
            run.expect(st["expired"] == 0 and st["active"] == 1, f"still up: {st}")
            alice.cmd("terminate")
            gone = wait_for(lambda: s.ctl("sessions")["count"] == 0, 5)
            run.expect(gone, f"BYE removed it: {s.ctl('sessions')}")
finally:
    alice.close()
    bob.close()
run.finish()
