"""Load helpers shared by test_overload.py and tests/bench/flood.py: a UDP flooder (another process, from
127.0.0.2 by default) and a legitimate client on 127.0.0.1 that registers and calls with RFC 3261
retransmissions and counts what got through."""

import multiprocessing
import os
import random
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import new_branch, parse_sip  # noqa: E402


def _flood(port, seconds, host, counter, rate, halt):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.setblocking(False)
    lport = s.getsockname()[1]
    pkts = []
    for i in range(64):
        pkts.append((f"INVITE sip:flood{i}@127.0.0.1:{port} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP {host}:{lport};branch=z9hG4bKfl{i:08x};rport\r\n"
                     f"Max-Forwards: 70\r\nFrom: <sip:f@{host}>;tag=f{i}\r\nTo: <sip:flood{i}@127.0.0.1>\r\n"
                     f"Call-ID: flood{i}@{host}\r\nCSeq: 1 INVITE\r\nContact: <sip:f@{host}:{lport}>\r\n"
                     "Content-Length: 0\r\n\r\n").encode())
    n = 0
    start = time.time()
    end = start + seconds
    while time.time() < end and not halt.is_set():
        if rate and n > rate * (time.time() - start):
            time.sleep(0.001)
            continue
        for p in pkts:
            try:
                s.sendto(p, ("127.0.0.1", port))
                n += 1
            except BlockingIOError:
                pass
            except OSError:
                pass
        # Answers (503s) pile up unread otherwise: drain them.
        try:
            while True:
                s.recv(65535)
        except (BlockingIOError, OSError):
            pass
    with counter.get_lock():
        counter.value += n


class Flood:
    """procs processes sending INVITEs from host to 127.0.0.1:port for seconds, as fast as they can or at
    about rate datagrams/s each."""

    def __init__(self, port, seconds, procs=1, host="127.0.0.2", rate=None):
        self.sent = multiprocessing.Value("q", 0)
        self.halt = multiprocessing.Event()
        self.started = time.time()
        self.procs = [multiprocessing.Process(target=_flood, args=(port, seconds, host, self.sent, rate, self.halt),
                                              daemon=True)
                      for _ in range(procs)]
        for p in self.procs:
            p.start()

    def join(self):
        """Waits for the senders; the datagrams they sent."""
        for p in self.procs:
            p.join()
        return self.sent.value

    def stop(self):
        """Ends the flood now; (datagrams sent, seconds it lasted)."""
        self.halt.set()
        return self.join(), time.time() - self.started


class Client:
    """A UDP UA on 127.0.0.1: REGISTERs and calls through sipd, retransmitting as RFC 3261 17.1 says
    (T1 = t1, giving up after 64*T1)."""

    def __init__(self, sipd_port, t1=0.5):
        self.port = sipd_port
        self.t1 = t1
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.lport = self.sock.getsockname()[1]
        self.ok = {"REGISTER": 0, "call": 0}
        self.failed = {"REGISTER": 0, "call": 0}
        self.statuses = []

    def _msg(self, method, ruri, call_id, cseq, from_tag, to, extra=()):
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.lport};branch={new_branch()};rport", "Max-Forwards: 70",
                 f"From: <sip:legit@127.0.0.1>;tag={from_tag}", f"To: {to}", f"Call-ID: {call_id}",
                 f"CSeq: {cseq} {method}", f"Contact: <sip:legit@127.0.0.1:{self.lport}>"]
        lines += list(extra) + ["Content-Length: 0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def transact(self, data, call_id, cseq_method, dst=None):
        """Sends data until a final response of this Call-ID and method comes (or 64*T1 passes)."""
        dst = dst or ("127.0.0.1", self.port)
        end = time.time() + 64 * self.t1
        wait = self.t1
        got_provisional = False
        while time.time() < end:
            if not got_provisional or cseq_method != "INVITE":
                self.sock.sendto(data, dst)
            deadline = min(time.time() + wait, end)
            while time.time() < deadline:
                self.sock.settimeout(max(0.001, deadline - time.time()))
                try:
                    raw = self.sock.recv(65535)
                except socket.timeout:
                    break
                m = parse_sip(raw)
                if not m or not m.status or m.get("Call-ID") != call_id or \
                        not (m.get("CSeq") or "").endswith(cseq_method):
                    continue
                if m.status >= 200:
                    return m
                got_provisional = True
            wait = min(wait * 2, 4.0)
        return None

    def register(self, user):
        call_id = "%016x@legit" % random.getrandbits(64)
        r = self.transact(self._msg("REGISTER", f"sip:127.0.0.1:{self.port}", call_id, 1, "r1",
                                    f"<sip:{user}@127.0.0.1>", ["Expires: 600"]), call_id, "REGISTER")
        self._count("REGISTER", r)
        return r

    def call(self, callee_uri):
        """INVITE, ACK and BYE through sipd; a success needs the 200 to both INVITE and BYE."""
        call_id = "%016x@legit" % random.getrandbits(64)
        to = f"<{callee_uri}>"
        r = self.transact(self._msg("INVITE", callee_uri, call_id, 1, "c1", to), call_id, "INVITE")
        if not r or r.status != 200:
            self._count("call", None, r)
            return r
        to = r.get("To")
        route = [f"Route: {v}" for v in reversed(r.all("Record-Route"))]
        contact = (r.get("Contact") or "").strip("<>")
        self.sock.sendto(self._msg("ACK", contact, call_id, 1, "c1", to, route), ("127.0.0.1", self.port))
        b = self.transact(self._msg("BYE", contact, call_id, 2, "c1", to, route), call_id, "BYE")
        self._count("call", b)
        return b

    def _count(self, what, r, other=None):
        self.statuses.append((r or other).status if (r or other) else None)
        if r and r.status == 200:
            self.ok[what] += 1
        else:
            self.failed[what] += 1

    def close(self):
        self.sock.close()
