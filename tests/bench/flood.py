"""Legitimate traffic under a flood: one address (127.0.0.2) floods sipd with INVITEs from PROCS processes
as fast as they can send for SECONDS, while a client on 127.0.0.1 registers and calls through sipd (with
RFC 3261 retransmissions) to a UA. Prints the flood rate, what src_limit() and the kernel dropped, CPU of
sipd per flood datagram, and the legitimate success rate (the aim: >= 99 %).
Usage: python3 tests/bench/flood.py BUILD_DIR [SECONDS] [PROCS] [WORKERS] [nolimit]
nolimit runs the same without src_limit()/load_limit(), for comparison."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from overload import Client, Flood  # noqa: E402
from sipdtest import Sipd  # noqa: E402
from sipua import UA  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else "build"
seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 60
procs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
workers = int(sys.argv[4]) if len(sys.argv) > 4 else 2
limit = "nolimit" not in sys.argv[5:]
checks = "src_limit();\n\tload_limit();" if limit else ""
routing = f"""request_route {{
	{checks}
	sanity();
	maxfwd(70);
	if (has_to_tag()) {{ loose_route(); relay(); exit; }}
	if ($rm == "REGISTER") {{ save(); exit; }}
	if (!uri_is_myself()) {{ record_route(); relay(); exit; }}
	reply(404, "Not Here");
}}
"""
mods = [{"name": "parser"}, {"name": "udp"}, {"name": "sanity"}, {"name": "maxfwd"}, {"name": "tm"},
        {"name": "registrar"}, {"name": "ratelimit", "src_rate": 200, "src_burst": 400, "load_rate": 5000}]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


with Sipd(build, modules=mods, routing=routing, workers=workers, log_level="warn") as s:
    bob = UA("bob")
    client = Client(s.port)
    t0 = cpu_ticks(s.proc.pid)
    f = Flood(s.port, seconds, procs=procs)
    time.sleep(0.5)
    end = time.time() + seconds - 1
    i = 0
    while time.time() < end:
        client.register(f"legit{i}")
        client.call(bob.uri())
        i += 1
    sent = f.join()
    cpu = (cpu_ticks(s.proc.pid) - t0) / os.sysconf("SC_CLK_TCK")
    st = s.stats()
    bob.close()
    ok, failed = sum(client.ok.values()), sum(client.failed.values())
    print(f"flood{'' if limit else ' (no limits)'}: {sent / seconds:.0f} datagrams/s from 127.0.0.2 for {seconds} s "
          f"({procs} processes, {workers} workers); src_limit dropped {st.get('ratelimit.src_dropped', 0)}, "
          f"load_limit 503s {st.get('ratelimit.load_rejected', 0)}, kernel drops {st.get('udp.rx_dropped_kernel', 0)}, "
          f"sipd CPU {cpu:.1f} s ({1e6 * cpu / max(sent, 1):.2f} us per flood datagram); legitimate: "
          f"registrations {client.ok['REGISTER']} ok / {client.failed['REGISTER']} failed, calls {client.ok['call']} ok / "
          f"{client.failed['call']} failed: {100 * ok / max(1, ok + failed):.2f} % succeeded")
