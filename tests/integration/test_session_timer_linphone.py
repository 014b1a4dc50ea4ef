"""A real client with RFC 4028 through sipd: linphonec (liblinphone 5.1) calls linphonec; the call is
tracked by session_timer, refreshed by linphone's UPDATE at half the interval, and removed by its BYE.
Needs linphonec (apt-get install linphone-cli); prints a skip line and fails when it is missing."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun  # noqa: E402
from interop.common import require_tools, wait_for  # noqa: E402
from interop.linphone import Linphone  # noqa: E402

run = TestRun("session_timer_linphone")
INTERVAL = 10  # linphone refreshes at 5 s; below RFC 4028's 90 only because test_intervals is set

require_tools(run, run.name, [("linphonec", "linphone-cli")])
bob = Linphone("bob", session_expires=INTERVAL)
alice = Linphone("alice", session_expires=INTERVAL)
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
