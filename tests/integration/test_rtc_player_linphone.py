"""rtc_player heard by linphonec (liblinphone 5.1) over plain RTP/AVP: it registers, calls the demo user,
records what it hears (`record`), and the recording correlates with the greeting; its hang-up frees the call.
linphonec supports RFC 4028, so session_timer runs with its default policy "required"."""

import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop.audiocheck import envelope_correlation, load_wav, rms_dbfs  # noqa: E402
from interop.common import wait_for  # noqa: E402
from interop.linphone import Linphone  # noqa: E402
from rtcplayer import GREETING, calls, player_sipd  # noqa: E402
from sipdtest import TestRun  # noqa: E402

run = TestRun("rtc_player_linphone")
tmp = tempfile.mkdtemp(prefix="rtc-linphone-")


with player_sipd(run.build, ring_ms=100) as s:
    s.ctl("users", "add", "alice", "alice-pw")
    src, src_rate = load_wav(GREETING)

    @run.case
    def linphone_hears_the_greeting():
        rec = os.path.join(tmp, "heard.wav")
        u = Linphone("alice", "alice", "alice-pw", s.port)
        try:
            run.expect(wait_for(lambda: s.ctl("registrations", "alice"), 15), f"registered\n{u.stdout()[-800:]}")
            u.cmd(f"record {rec}")
            u.cmd(f"call sip:welcome@127.0.0.1:{s.port}")
            up = wait_for(lambda: re.search(r"Call \d+ (with|to) .*welcome.* connected\.", u.stdout()), 15)
            run.expect(up, f"connected\n{u.stdout()[-1500:]}")
            time.sleep(6)
            live = calls(s)
            run.expect(len(live) == 1 and live[0]["kind"] == "rtp" and live[0]["packets_sent"] > 200
                       and live[0]["session_expires"] >= 90, f"rtc calls: {live}")
            u.cmd("terminate")
            run.expect(wait_for(lambda: calls(s) == [], 5), "the hang-up freed the call")
            time.sleep(0.5)
            heard, rate = load_wav(rec)
            corr = envelope_correlation(heard, rate, src, src_rate)
            run.expect(corr > 0.7, f"linphonec hears the greeting ({live[0]['codec'] if live else '?'}): "
                       f"correlation {corr:.3f}, {rms_dbfs(heard):.1f} dBFS, {len(heard) / rate:.1f} s")
        finally:
            u.close()

run.finish()
