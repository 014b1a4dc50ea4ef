"""Memory per live transaction: RSS of sipd before and after N INVITEs relayed to a callee that never answers.
Usage: python3 tests/bench/tm_memory.py BUILD_DIR [N]   (prints bytes per live transaction)"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sipdtest import Sipd, free_port, sip_request  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sink.bind(("127.0.0.1", 0))  # bound, never read: INVITEs go nowhere, transactions stay alive
sink_port = sink.getsockname()[1]
routing = f'request_route {{ maxfwd(70); $ru = "sip:$rU@127.0.0.1:{sink_port}"; record_route(); relay(); }}\n'
mods = [{"name": "parser"}, {"name": "udp"}, {"name": "maxfwd"}, {"name": "tm", "t1": 2000, "timer_c": 600000}]
with Sipd(build, modules=mods, routing=routing, log_level="error") as s:
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", 0))
    caller.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    port = caller.getsockname()[1]
    time.sleep(0.3)
    before = rss_kib(s.proc.pid)
    for i in range(n):
        caller.sendto(sip_request("INVITE", f"sip:u{i}@127.0.0.1:{s.port}", via_port=port,
                                  body="v=0\r\n" + "a=x\r\n" * 40), ("127.0.0.1", s.port))
        if i % 500 == 0:
            time.sleep(0.02)  # let sipd keep up: every INVITE must become a transaction
    time.sleep(1.0)
    st = s.ctl("tm.stats")
    after = rss_kib(s.proc.pid)
    live = st["current"]
    print(f"{live} live transactions (of {n} INVITEs, about 300-byte SDP), RSS {before} KiB -> {after} KiB: "
          f"{(after - before) * 1024 / max(live, 1):.0f} bytes per transaction (request, branch copy, 100 Trying kept)")
