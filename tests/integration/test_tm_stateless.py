"""tm beyond transactions (RFC 3261 16.7): responses that match no transaction are forwarded statelessly per
their next Via (or dropped when the top Via is not ours), and the 401/407 challenges of forked branches are
merged into the one response that goes upstream."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun, parse_sip  # noqa: E402
from sipua import Caller, reply_to  # noqa: E402

run = TestRun("tm_stateless")

SCRIPT = """request_route {
	sanity();
	maxfwd(70);
	if (has_to_tag()) { loose_route(); relay(); exit; }
	if ($rU == "fork") { append_branch("sip:a@127.0.0.1:$hdr(X-A)"); append_branch("sip:b@127.0.0.1:$hdr(X-B)"); }
	record_route();
	relay();
}
"""
MODS = [{"name": "parser"}, {"name": "udp"}, {"name": "sanity"}, {"name": "maxfwd"},
        {"name": "tm", "t1": 100, "t2": 400, "t4": 500, "timer_c": 1500}]


class Challenger(threading.Thread):
    """Answers each INVITE with status and one challenge header; ACKs are swallowed."""

    def __init__(self, status, header):
        super().__init__(daemon=True)
        self.status, self.header = status, header
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stop = False
        self.start()

    def run(self):
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            m = parse_sip(data)
            if not m or m.status or not m.start.startswith("INVITE "):
                continue
            resp = reply_to(m, self.status, f"sip:c@127.0.0.1:{self.port}", reason="Unauthorized")
            resp = resp.replace(b"Content-Length: 0", self.header.encode() + b"\r\nContent-Length: 0")
            self.sock.sendto(resp, addr)

    def close(self):
        self.stop = True
        self.join(1)
        self.sock.close()


def stat(s, name):
    return int(s.stats().get(name, 0))


with Sipd(run.build, modules=MODS, routing=SCRIPT) as s:

    @run.case
    def challenges_of_forked_branches_are_merged():
        a = Challenger(401, 'WWW-Authenticate: Digest realm="a.test", nonce="na"')
        b = Challenger(407, 'Proxy-Authenticate: Digest realm="b.test", nonce="nb"')
        c = Caller(s.port, "fork", headers=[f"X-A: {a.port}", f"X-B: {b.port}"])
        try:
            fin = c.final(4)
            run.expect(fin is not None and fin.status in (401, 407), f"final {fin and fin.start}")
            www, proxy = fin.all("WWW-Authenticate"), fin.all("Proxy-Authenticate")
            run.expect(any('realm="a.test"' in v for v in www), f"WWW-Authenticate {www}")
            run.expect(any('realm="b.test"' in v for v in proxy), f"Proxy-Authenticate {proxy}")
            run.expect(len(www) == 1 and len(proxy) == 1, f"each challenge once: {www} {proxy}")
        finally:
            c.close()
            a.close()
            b.close()

    @run.case
    def response_without_transaction_goes_to_the_next_via():
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.bind(("127.0.0.1", 0))
        up.settimeout(2)
        uport = up.getsockname()[1]
        down = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        down.bind(("127.0.0.1", 0))
        before = stat(s, "tm.stateless_forwarded")
        # Our Via on top (a branch no transaction has), then the upstream's with received/rport.
        resp = (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:{s.port};branch=z9hG4bKsdgone.1.2.0\r\n"
                f"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKup1;received=127.0.0.1;rport={uport}\r\n"
                "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: stateless-1\r\nCSeq: 1 INVITE\r\n"
                "Content-Length: 0\r\n\r\n").encode()
        down.sendto(resp, ("127.0.0.1", s.port))
        m = parse_sip(up.recv(65535))
        run.expect(m.status == 200 and m.get("Call-ID") == "stateless-1", m.start)
        vias = m.all("Via")
        run.expect(len(vias) == 1 and "z9hG4bKup1" in vias[0], f"our Via popped: {vias}")
        run.expect(stat(s, "tm.stateless_forwarded") == before + 1, "counted")
        up.close()
        down.close()

    @run.case
    def response_whose_top_via_is_not_ours_is_dropped():
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.bind(("127.0.0.1", 0))
        up.settimeout(0.5)
        uport = up.getsockname()[1]
        before = stat(s, "tm.stateless_dropped")
        resp = (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKother\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{uport};branch=z9hG4bKup2\r\n"
                "From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\nCall-ID: stateless-2\r\nCSeq: 1 INVITE\r\n"
                "Content-Length: 0\r\n\r\n").encode()
        up.sendto(resp, ("127.0.0.1", s.port))
        try:
            up.recv(65535)
            run.expect(False, "a misrouted response was forwarded")
        except socket.timeout:
            pass
        run.expect(stat(s, "tm.stateless_dropped") == before + 1, "counted as dropped")
        up.close()


run.finish()
