"""Scripted SIP user agents for integration tests: a callee (UDP or TCP) that answers with a chosen status
after a delay and collects what it gets, a one-INVITE caller that can CANCEL, a call with its dialog (in-dialog
requests along the route set, BYE), and the small helpers around them.

    from sipua import UA, Caller, Call
    bob = UA("bob", mode="answer", delay=0.3)                # 180, then 200 after 0.3 s
    c = Caller(s.port, "bob", headers=[f"X-UA: {bob.port}"])
    fin = c.final()                                          # the final response
    alice = UA("alice")                                      # answers everything with 200 at once
    call = Call(s.port, alice, bob, ["Supported: timer"])    # INVITE/200/ACK through sipd
    call.send("BYE", "callee")                               # a request along the route set
"""

import contextlib
import os
import queue
import random
import re
import selectors
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import ROOT, free_port, new_branch, parse_sip, sip_request, tcp_read_message  # noqa: E402
from regtest import challenges, credentials  # noqa: E402

# What a response copies from its request (RFC 3261 8.2.6.2), by full and compact name.
_ECHOED = ("via", "v", "from", "f", "call-id", "i", "cseq", "record-route")


def sipp_calls(sipd_port, service, calls, uac="uac_call.xml", uas="uas_call.xml", uas_port=None, transport=None,
               uas_transport=None, timeout=15, keys=()):
    """Runs a SIPp UAS (tests/bench scenario uas, stopped by its PID) and a SIPp UAC calling service through sipd
    at 5 calls/s; transport/uas_transport are SIPp's -t (its default u1 when None); the UAC gets -key uas_port
    (the scenarios' X-UA) and the (name, value) pairs of keys. Returns (UAC exit code, successful calls,
    failed calls or -1, the tail of the UAC's output)."""
    bench = os.path.join(ROOT, "tests", "bench")
    uas_port = uas_port or free_port()
    t_uas = ["-t", uas_transport] if uas_transport else []
    t_uac = ["-t", transport] if transport else []
    uas = subprocess.Popen(["sipp", "-sf", os.path.join(bench, uas), "-i", "127.0.0.1", "-p", str(uas_port)] + t_uas
                           + ["-m", str(calls), "-nostdin"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.4)
        key_args = [a for k, v in [("uas_port", uas_port)] + list(keys) for a in ("-key", k, str(v))]
        p = subprocess.run(["sipp", "-sf", os.path.join(bench, uac), f"127.0.0.1:{sipd_port}", "-s", service,
                            "-i", "127.0.0.1", "-p", str(free_port())] + t_uac
                           + ["-m", str(calls), "-r", "5", "-timeout", str(timeout), "-timeout_error", "-nostdin"]
                           + key_args, capture_output=True, text=True, timeout=40)
        ok = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", p.stdout)
        failed = re.search(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", p.stdout)
        return (p.returncode, int(ok.group(1)) if ok else 0, int(failed.group(1)) if failed else -1,
                p.stdout[-1500:])
    finally:
        if uas.poll() is None:
            uas.terminate()
        try:
            uas.wait(5)
        except subprocess.TimeoutExpired:
            uas.kill()
            uas.wait()


def tcp_msg(sock, timeout=3.0):
    """The next message read from a stream socket, parsed, or None."""
    return parse_sip(tcp_read_message(sock, timeout))


def reply_to(req, status, contact, to_tag="callee1", reason="X"):
    """A response echoing req's Via/From/To/Call-ID/CSeq/Record-Route, with a Content-Length."""
    lines = [f"SIP/2.0 {status} {reason}"] + [f"Via: {v}" for v in req.all("Via")]
    lines += [f"Record-Route: {v}" for v in req.all("Record-Route")]
    to = req.get("To") + ("" if "tag=" in req.get("To") else f";tag={to_tag}")
    lines += [f"From: {req.get('From')}", f"To: {to}", f"Call-ID: {req.get('Call-ID')}",
              f"CSeq: {req.get('CSeq')}", f"Contact: <{contact}>", "Content-Length: 0"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def accept_msg(lsock, timeout=3.0):
    """A connection accepted on lsock and the first message read from it, or (None, None)."""
    lsock.settimeout(timeout)
    try:
        conn, _ = lsock.accept()
    except socket.timeout:
        return None, None
    return conn, tcp_msg(conn, timeout)


class _TcpPeer:
    """One accepted or opened connection of a TCP UA, with its read buffer."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.lock = threading.Lock()

    def messages(self):
        """Complete messages framed by Content-Length taken from the buffer."""
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return out
            length = 0
            for line in self.buf[:end].split(b"\r\n")[1:]:
                n, _, v = line.partition(b":")
                if n.strip().lower() in (b"content-length", b"l"):
                    length = int(v.strip() or b"0")
            need = end + 4 + length
            if len(self.buf) < need:
                return out
            out.append(self.buf[:need])
            self.buf = self.buf[need:]

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)


class UA(threading.Thread):
    """A scripted user agent on loopback (transport "udp" or "tcp").

    An initial INVITE is answered with 180 first if ringing, then with status after delay seconds
    (status None: it rings until CANCEL, then 487). A re-INVITE gets reinvite_status; UPDATE, BYE, OPTIONS,
    INFO and MESSAGE get 200; CANCEL gets 200 and the pending INVITE 487. Responses echo Record-Route, add
    this UA's To tag and Contact, and answer_headers on INVITE/UPDATE. Requests are recorded in `seen`
    (methods) and `requests` (messages); responses to what the UA sent go to `responses`.
    mode is a shorthand: "ring" (180, no answer), "answer" (180, 200 after delay), "busy" (486 at once)."""

    MODES = {"ring": (True, None), "answer": (True, 200), "busy": (False, 486)}

    def __init__(self, name="ua", mode=None, delay=0.0, status=200, ringing=False, answer_headers=(),
                 reinvite_status=200, transport="udp", tag=None):
        super().__init__(daemon=True)
        if mode is not None:
            ringing, status = self.MODES[mode]
        self.name_ = name
        self.ringing, self.status, self.delay = ringing, status, delay
        self.answer_headers = list(answer_headers)
        self.reinvite_status = reinvite_status
        self.transport = transport
        self.tag = tag or "%s%06x" % (name, random.getrandbits(24))
        self.seen = []
        self.requests = []
        self.responses = queue.Queue()
        self.invite = None
        self.stop_flag = False
        self.sel = selectors.DefaultSelector()
        self.peers = {}
        if transport == "tcp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(16)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.port = self.sock.getsockname()[1]
        self.start()

    # ---- addressing ----
    def uri(self):
        tp = ";transport=tcp" if self.transport == "tcp" else ""
        return f"sip:{self.name_}@127.0.0.1:{self.port}{tp}"

    def contact(self):
        return f"<{self.uri()}>"

    def via(self):
        return f"SIP/2.0/{self.transport.upper()} 127.0.0.1:{self.port};branch={new_branch()};rport"

    # ---- sending ----
    def send(self, data, port, host="127.0.0.1"):
        """Sends data to host:port: a datagram over UDP, over a (new or kept) connection over TCP."""
        if self.transport == "udp":
            self.sock.sendto(data, (host, port))
            return
        key = ("out", host, port)
        peer = self.peers.get(key)
        if peer is None:
            s = socket.create_connection((host, port), timeout=3)
            s.setblocking(False)
            peer = _TcpPeer(s)
            self.peers[key] = peer
            self.sel.register(s, selectors.EVENT_READ, peer)
        peer.send(data)

    def response(self, req, status, reason=None, tag=True):
        """The bytes of a response to req."""
        reason = reason or {100: "Trying", 180: "Ringing", 200: "OK", 486: "Busy Here", 481:
                            "Call/Transaction Does Not Exist", 487: "Request Terminated"}.get(status, "Failed")
        lines = [f"SIP/2.0 {status} {reason}"]
        method = req.start.split()[0]
        for n, v in req.headers:
            ln = n.lower()
            if ln in _ECHOED:
                lines.append(f"{n}: {v}")
            elif ln in ("to", "t"):
                lines.append(f"{n}: {v}" + (f";tag={self.tag}" if tag and "tag=" not in v else ""))
        lines.append(f"Contact: {self.contact()}")
        if method in ("INVITE", "UPDATE") and 200 <= status < 300:
            lines += self.answer_headers
        lines.append("Content-Length: 0")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def reply(self, req, addr, status, reason=None, tag=True):
        """Answers req back where it came from (addr: a UDP address or a TCP peer)."""
        data = self.response(req, status, reason, tag)
        try:
            if isinstance(addr, _TcpPeer):
                addr.send(data)
            else:
                self.sock.sendto(data, addr)
        except OSError:
            pass

    def register(self, sipd_port, password=None, ruri=None, expires=600, algo="MD5", digest_uri=None):
        """REGISTERs this UA's Contact from its own socket (so the binding's source is this UA) for
        name@127.0.0.1, answering a 401 with credentials when password is given; the final response."""
        ruri = ruri or f"sip:127.0.0.1:{sipd_port}"
        call_id = "%016x@reg" % random.getrandbits(64)
        creds = []
        for cseq in (1, 2):
            lines = [f"REGISTER {ruri} SIP/2.0", f"Via: {self.via()}", "Max-Forwards: 70",
                     f"From: <sip:{self.name_}@127.0.0.1>;tag={self.tag}", f"To: <sip:{self.name_}@127.0.0.1>",
                     f"Call-ID: {call_id}", f"CSeq: {cseq} REGISTER", f"Contact: {self.contact()}",
                     f"Expires: {expires}"] + creds + ["Content-Length: 0"]
            self.send(("\r\n".join(lines) + "\r\n\r\n").encode(), sipd_port)
            r = self.final()
            if not r or r.status != 401 or password is None or creds:
                return r
            chal = next(c for c in challenges(r) if c.get("algorithm", "MD5") == algo)
            creds = [credentials(self.name_, password, chal["realm"], chal["nonce"], "REGISTER",
                                 digest_uri or ruri, algo)]
        return r

    # ---- receiving ----
    def handle(self, m, addr):
        if m.status:
            self.responses.put(m)
            return
        method = m.start.split()[0]
        self.seen.append(method)
        self.requests.append(m)
        if method == "INVITE" and "tag=" in (m.get("To") or ""):
            self.reply(m, addr, self.reinvite_status)
        elif method == "INVITE":
            if self.invite and self.invite[0].get("Call-ID") == m.get("Call-ID"):
                return  # a retransmission
            self.invite = (m, addr)
            if self.ringing:
                self.reply(m, addr, 180)
            if self.status is None:
                return
            if self.delay:
                threading.Timer(self.delay, self.reply, (m, addr, self.status)).start()
            else:
                self.reply(m, addr, self.status)
        elif method == "CANCEL":
            self.reply(m, addr, 200, tag=False)
            if self.invite:
                self.reply(self.invite[0], self.invite[1], 487)
        elif method in ("BYE", "OPTIONS", "UPDATE", "INFO", "MESSAGE"):
            self.reply(m, addr, 200)

    def run(self):
        while not self.stop_flag:
            try:
                events = self.sel.select(0.1)
            except (OSError, ValueError):
                return
            for key, _ in events:
                try:
                    self.readable(key)
                except OSError:
                    continue

    def readable(self, key):
        if key.data is None and self.transport == "udp":
            data, addr = self.sock.recvfrom(65535)
            m = parse_sip(data)
            if m:
                self.handle(m, addr)
        elif key.data is None:
            conn, _ = self.sock.accept()
            conn.setblocking(False)
            peer = _TcpPeer(conn)
            self.peers[("in", conn.fileno())] = peer
            self.sel.register(conn, selectors.EVENT_READ, peer)
        else:
            peer = key.data
            chunk = peer.sock.recv(65536)
            if not chunk:
                self.sel.unregister(peer.sock)
                peer.sock.close()
                return
            peer.buf += chunk
            for raw in peer.messages():
                self.handle(parse_sip(raw), peer)

    # ---- waiting ----
    def final(self, timeout=5.0):
        """The next final response to something this UA sent, or None."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                m = self.responses.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if m.status >= 200:
                return m
        return None

    def wait_request(self, method, timeout):
        """The first request of method this UA received, waiting up to timeout."""
        deadline = time.time() + timeout
        while True:
            for m in list(self.requests):
                if m.start.startswith(method + " "):
                    return m
            if time.time() >= deadline:
                return None
            time.sleep(0.02)

    def close(self):
        self.stop_flag = True
        self.join(2)
        for peer in list(self.peers.values()):
            peer.sock.close()
        self.sock.close()
        self.sel.close()


class Caller:
    """A UDP caller that sends one INVITE to user@sipd and collects every response; can CANCEL it."""

    def __init__(self, sipd_port, user, max_forwards=70, headers=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.target = ("127.0.0.1", sipd_port)
        self.raw = sip_request("INVITE", f"sip:{user}@127.0.0.1:{sipd_port}", via_port=self.port,
                               max_forwards=max_forwards, headers=headers)
        self.req = parse_sip(self.raw)
        self.responses = []
        self.sock.sendto(self.raw, self.target)

    def wait(self, pred, timeout):
        """The first response (already seen or arriving within timeout) for which pred is true."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for r in self.responses:
                if pred(r):
                    return r
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                data, _ = self.sock.recvfrom(65535)
                self.responses.append(parse_sip(data))
            except socket.timeout:
                break
        return next((r for r in self.responses if pred(r)), None)

    def final(self, timeout=5.0):
        return self.wait(lambda r: r.status >= 200, timeout)

    def cancel(self):
        """A CANCEL of the INVITE (same Via branch, RFC 3261 9.1)."""
        lines = self.raw.decode().split("\r\n")
        cseq = self.req.get("CSeq").split()[0]
        out = [f"CANCEL {self.req.start.split()[1]} SIP/2.0"]
        for ln in lines[1:]:
            n = ln.split(":", 1)[0].lower()
            if n in ("via", "from", "to", "call-id", "max-forwards"):
                out.append(ln)
        out += [f"CSeq: {cseq} CANCEL", "Content-Length: 0"]
        self.sock.sendto(("\r\n".join(out) + "\r\n\r\n").encode(), self.target)

    def close(self):
        self.sock.close()


class Call:
    """A call from caller to callee (both UA) through sipd at sipd_port: INVITE (to $hdr(X-UA), the callee's
    port, for scripts that route on it), 200, ACK; then the in-dialog requests each side can send along the
    route set. ok is the final response to the INVITE (None on timeout)."""

    def __init__(self, sipd_port, caller, callee, headers=(), ruri=None, extra_route_header=True, password=None):
        """password: the caller's (From is then sip:CALLER@127.0.0.1), to answer a 407 once."""
        self.port = sipd_port
        self.caller, self.callee = caller, callee
        self.call_id = "%016x@st" % random.getrandbits(64)
        self.cseq = {"caller": 1, "callee": 100}
        hdrs = ([f"X-UA: {callee.port}"] if extra_route_header else []) + [f"Contact: {caller.contact()}"]
        ruri = ruri or f"sip:{callee.name_}@127.0.0.1:{sipd_port}"
        from_uri = f"sip:{caller.name_}@127.0.0.1" if password is not None else None

        def invite(cseq, extra=()):
            return sip_request("INVITE", ruri, via_port=caller.port, transport=caller.transport.upper(),
                               call_id=self.call_id, from_tag=caller.tag, headers=hdrs + list(headers) + list(extra),
                               cseq=cseq, from_uri=from_uri)
        self.invite = invite(1)
        self.frm = parse_sip(self.invite).get("From")
        caller.send(self.invite, sipd_port)
        self.ok = caller.final()
        if self.ok and self.ok.status == 407 and password is not None:
            self.ack_failure(parse_sip(self.invite), self.ok)
            chal = next(c for c in challenges(self.ok, "Proxy-Authenticate") if c.get("algorithm", "MD5") == "MD5")
            self.cseq["caller"] = 2
            self.invite = invite(2, [credentials(caller.name_, password, chal["realm"], chal["nonce"], "INVITE",
                                                 ruri, "MD5", header="Proxy-Authorization")])
            caller.send(self.invite, sipd_port)
            self.ok = caller.final()
        self.rr = []
        self.to = None
        if self.ok and self.ok.status == 200:
            for v in self.ok.all("Record-Route"):
                self.rr += [x.strip() for x in v.split(",")]
            self.to = self.ok.get("To")
            self.ack()

    def ack_failure(self, inv, resp):
        """The ACK of a non-2xx final response: hop by hop, with the INVITE's Via (RFC 3261 17.1.1.3)."""
        lines = [f"ACK {inv.start.split()[1]} SIP/2.0", f"Via: {inv.get('Via')}", "Max-Forwards: 70",
                 f"From: {inv.get('From')}", f"To: {resp.get('To')}", f"Call-ID: {self.call_id}",
                 f"CSeq: {inv.get('CSeq').split()[0]} ACK", "Content-Length: 0"]
        self.caller.send(("\r\n".join(lines) + "\r\n\r\n").encode(), self.port)

    def ack(self):
        self.caller.send(self.request("ACK", "caller", cseq=self.cseq["caller"]), self.port)

    def request(self, method, side, headers=(), cseq=None):
        """An in-dialog request from side ('caller' or 'callee'), routed through sipd."""
        if cseq is None:
            self.cseq[side] += 1
            cseq = self.cseq[side]
        me, peer = (self.caller, self.callee) if side == "caller" else (self.callee, self.caller)
        if side == "caller":
            route = list(reversed(self.rr))
            frm, to = self.frm, self.to
        else:
            route = list(self.rr)
            frm, to = self.to, self.frm
        lines = [f"{method} {peer.uri()} SIP/2.0", f"Via: {me.via()}",
                 "Max-Forwards: 70", f"From: {frm}", f"To: {to}", f"Call-ID: {self.call_id}",
                 f"CSeq: {cseq} {method}", f"Contact: {me.contact()}"]
        lines += [f"Route: {r}" for r in route] + list(headers) + ["Content-Length: 0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send(self, method, side, headers=()):
        """Sends an in-dialog request from side; returns its final response or None."""
        me = self.caller if side == "caller" else self.callee
        me.send(self.request(method, side, headers), self.port)
        return me.final()

    def bye(self, side="caller"):
        return self.send("BYE", side)


@contextlib.contextmanager
def calling(sipd_port, user, parties=(), **kw):
    """A Caller's INVITE to user@sipd (kw as Caller's) for a with block; closes it and the UAs in parties after."""
    try:
        c = Caller(sipd_port, user, **kw)
        try:
            yield c
        finally:
            c.close()
    finally:
        for ua in parties:
            ua.close()
