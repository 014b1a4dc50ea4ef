"""The RFC 4475 torture messages (tests/data/sip/rfc4475) sent over UDP to the real sipd: each gets the answer
its .expect file names in `daemon=` (a status, or `none` where no answer can be routed), and sipd keeps
serving. The routing script is the request half of the default one: sanity, maxfwd, check_method, digest
for REGISTER, then a final 200 for whatever was accepted."""

import os
import re
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import ROOT, Sipd, TestRun, parse_sip, sip_request, udp_request  # noqa: E402

run = TestRun("rfc4475")
DIR = os.path.join(ROOT, "tests", "data", "sip", "rfc4475")
ROUTING = """request_route {
	sanity();
	maxfwd(70);
	if (is_method("ACK")) { drop; }
	check_method();
	if (is_method("REGISTER")) { auth_check(); }
	reply(200, "Processed");
}
"""
MODS = [{"name": "parser"}, {"name": "udp"}, {"name": "sanity"}, {"name": "maxfwd"}, {"name": "tm"},
        {"name": "auth_db", "realm": "example.com"}, {"name": "registrar"}]
# The top Via's sent-by (possibly folded over lines): replaced by our socket so the answer comes to us.
SENT_BY = re.compile(rb"(SIP[ \t\r\n]*/[ \t\r\n]*[0-9.]+[ \t\r\n]*/[ \t\r\n]*[A-Za-z]+[ \t\r\n]+)([^ \t\r\n;,]+)")


def fixtures():
    out = []
    for name in sorted(os.listdir(DIR)):
        if not name.endswith(".sip"):
            continue
        with open(os.path.join(DIR, name), "rb") as f:
            data = f.read()
        with open(os.path.join(DIR, name[:-4] + ".expect")) as f:
            want = dict(line.strip().split("=", 1) for line in f if line.startswith("daemon="))
        out.append((name[:-4], data, want["daemon"]))
    return out


def exchange(port, data, wait):
    """Sends data from a fresh socket named in the top Via; returns the final answer (or the last one)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    me = b"127.0.0.1:%d" % s.getsockname()[1]
    data = SENT_BY.sub(lambda m: m.group(1) + me, data, count=1)
    try:
        s.settimeout(wait)
        s.sendto(data, ("127.0.0.1", port))
        last = None
        deadline = time.time() + wait
        while time.time() < deadline:
            try:
                raw, _ = s.recvfrom(65535)
            except socket.timeout:
                break
            last = parse_sip(raw)
            if last.status and last.status >= 200:
                break
        return last
    finally:
        s.close()


CASES = fixtures()

with Sipd(run.build, modules=MODS, routing=ROUTING) as s:

    @run.case
    def all_49_messages_present():
        run.expect(len(CASES) == 49, f"{len(CASES)} fixtures")

    @run.case
    def each_message_gets_its_answer():
        bad = []
        for name, data, want in CASES:
            r = exchange(s.port, data, 0.4 if want == "none" else 2.0)
            got = "none" if r is None else str(r.status)
            if got != want:
                bad.append(f"{name}: want {want}, got {r.start if r else 'nothing'}")
        run.expect(not bad, "\n".join(bad))

    @run.case
    def still_serving_afterwards():
        r = parse_sip(udp_request("127.0.0.1", s.port, sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}")))
        run.expect(r and r.status == 200, f"OPTIONS after the torture: {r and r.start}")
        run.expect(s.proc.poll() is None, "sipd alive")

run.finish()
