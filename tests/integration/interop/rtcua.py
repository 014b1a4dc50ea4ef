"""A scripted caller for rtc_player tests: SIP over UDP (digest auth, INVITE/ACK/BYE/CANCEL/UPDATE,
re-INVITE, answering the server's BYE and UPDATE) and a plain RTP endpoint that records what it gets.

    ua = Caller(sipd_port, "alice", "secret")
    call = ua.invite("welcome", ua.rtp.offer(["PCMU"]))      # -> Call, final response in call.final
    ua.ack(call); time.sleep(3); ua.bye(call)
    samples = ua.rtp.decoded()                                # floats at 8 kHz, in sequence order
"""

import random
import re
import socket
import struct
import threading
import time

from .audiocheck import alaw_decode, ulaw_decode
from .common import wait_for

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from regtest import challenges, credentials  # noqa: E402
from sipdtest import new_branch, parse_sip  # noqa: E402

CODECS = {"PCMU": (0, 8000), "PCMA": (8, 8000), "opus": (111, 48000)}


class Rtp:
    """A UDP RTP endpoint on 127.0.0.1: records every packet and can send silence to keep the call up."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.packets = []  # (arrival, pt, seq, ts, ssrc, payload)
        self.rtcp = 0
        self.peer = None
        self.sending = False
        self.closed = False
        self.lock = threading.Lock()
        threading.Thread(target=self._recv, daemon=True).start()

    def offer(self, codecs, proto="RTP/AVP", extra=()):
        pts = " ".join(str(CODECS[c][0]) for c in codecs)
        lines = ["v=0", f"o=- {random.getrandbits(31)} 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
                 f"m=audio {self.port} {proto} {pts}"]
        for c in codecs:
            pt, rate = CODECS[c]
            lines.append(f"a=rtpmap:{pt} {c}/{rate}" + ("/2" if c == "opus" else ""))
        lines += list(extra)
        lines.append("a=sendrecv")
        return "\r\n".join(lines) + "\r\n"

    def _recv(self):
        self.sock.settimeout(0.5)
        while not self.closed:
            try:
                data, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 12:
                continue
            pt = data[1] & 0x7F
            if 64 <= pt < 96 and data[1] >= 200:  # RTCP SR/RR (RFC 5761 ranges)
                self.rtcp += 1
                continue
            seq, ts, ssrc = struct.unpack("!HII", data[2:12])
            cc = data[0] & 0x0F
            with self.lock:
                self.peer = addr
                self.packets.append((time.time(), pt, seq, ts, ssrc, data[12 + 4 * cc:]))

    def count(self):
        with self.lock:
            return len(self.packets)

    def decoded(self, pt=None):
        """The received G.711 audio as floats (8 kHz), ordered by sequence number (unwrapped)."""
        with self.lock:
            pkts = list(self.packets)
        if not pkts:
            return []
        base, last, ext, out = pkts[0][2], pkts[0][2], 0, []
        ordered = []
        for p in pkts:
            if p[2] < last and last - p[2] > 30000:
                ext += 65536
            last = p[2]
            ordered.append((p[2] + ext - base, p))
        ordered.sort(key=lambda x: x[0])
        for _, p in ordered:
            if pt is not None and p[1] != pt:
                continue
            out += alaw_decode(p[5]) if p[1] == 8 else ulaw_decode(p[5])
        return out

    def keepalive(self, dest, pt=0):
        """Sends 20 ms of silence every 20 ms to dest until stop_keepalive() (a phone's microphone)."""
        self.sending = True

        def run():
            seq, ts, ssrc = random.getrandbits(16), random.getrandbits(32), random.getrandbits(32)
            while self.sending and not self.closed:
                hdr = struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
                try:
                    self.sock.sendto(hdr + bytes([0xFF if pt == 0 else 0xD5]) * 160, dest)
                except OSError:
                    return
                seq, ts = seq + 1, ts + 160
                time.sleep(0.02)
        threading.Thread(target=run, daemon=True).start()

    def stop_keepalive(self):
        self.sending = False

    def close(self):
        self.closed = True
        self.sending = False
        self.sock.close()


class Call:
    def __init__(self, call_id, from_tag, to_uri):
        self.call_id, self.from_tag, self.to_uri = call_id, from_tag, to_uri
        self.cseq = 1
        self.branch = None
        self.invite = None  # the last INVITE sent (bytes), for CANCEL
        self.final = None  # final response to the INVITE
        self.provisional = []
        self.to_tag = None
        self.target = None  # the 200's Contact URI
        self.to_hdr = None
        self.answer = ""


class Caller:
    """A SIP UA on UDP 127.0.0.1 that calls through sipd (its outbound proxy)."""

    def __init__(self, sipd_port, user, password, realm="sipd", timer=True):
        self.sipd = ("127.0.0.1", sipd_port)
        self.user, self.password, self.realm = user, password, realm
        self.timer = timer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.rtp = Rtp()
        self.responses = []
        self.requests = []  # requests the server sent us (BYE, UPDATE ...), answered 200
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._recv, daemon=True).start()

    # -- transport

    def _recv(self):
        self.sock.settimeout(0.5)
        while not self.closed:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = parse_sip(data)
            if not m:
                continue
            m.method = None if m.status else m.start.split(" ")[0]
            if m.status:
                with self.cond:
                    self.responses.append(m)
                    self.cond.notify_all()
            else:
                self._answer_request(m, data, addr)

    def _answer_request(self, m, raw, addr):
        if m.method != "ACK":
            vias = "".join(f"Via: {v}\r\n" for v in m.all("Via"))
            extra = ""
            if m.method == "UPDATE" and m.get("Session-Expires"):
                extra = f"Session-Expires: {m.get('Session-Expires')}\r\nRequire: timer\r\n"
            resp = (f"SIP/2.0 200 OK\r\n{vias}From: {m.get('From')}\r\nTo: {m.get('To')}\r\n"
                    f"Call-ID: {m.get('Call-ID')}\r\nCSeq: {m.get('CSeq')}\r\n{extra}Content-Length: 0\r\n\r\n")
            self.sock.sendto(resp.encode(), addr)
        with self.cond:
            self.requests.append(m)
            self.cond.notify_all()

    def send(self, text):
        self.sock.sendto(text.encode() if isinstance(text, str) else text, self.sipd)

    def wait(self, pred, timeout=5.0):
        """The first response matching pred (removed from the queue), or None."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for r in self.responses:
                    if pred(r):
                        self.responses.remove(r)
                        return r
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def wait_request(self, method, call=None, timeout=5.0):
        def match(r):
            return r.method == method and (call is None or r.get("Call-ID") == call.call_id)
        return wait_for(lambda: next((r for r in list(self.requests) if match(r)), None), timeout, 0.05)

    # -- requests

    def _request(self, method, ruri, call, headers=(), body="", cseq=None, branch=None, to=None, ctype=None):
        branch = branch or new_branch()
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
                 "Max-Forwards: 70",
                 f"From: <sip:{self.user}@127.0.0.1:{self.sipd[1]}>;tag={call.from_tag}",
                 f"To: {to or call.to_hdr or '<' + call.to_uri + '>'}",
                 f"Call-ID: {call.call_id}",
                 f"CSeq: {cseq or call.cseq} {method}",
                 f"Contact: <sip:{self.user}@127.0.0.1:{self.port}>"]
        lines += list(headers)
        if body:
            lines.append(f"Content-Type: {ctype or 'application/sdp'}")
        lines.append(f"Content-Length: {len(body.encode())}")
        text = "\r\n".join(lines) + "\r\n\r\n" + body
        self.send(text)
        return branch, text

    def timer_headers(self, se=None, refresher=None, min_se=None):
        hdrs = ["Supported: timer"] if self.timer else []
        if se:
            hdrs.append(f"Session-Expires: {se}" + (f";refresher={refresher}" if refresher else ""))
        if min_se:
            hdrs.append(f"Min-SE: {min_se}")
        return hdrs

    def invite(self, to_user, sdp, headers=None, wait_final=True, timeout=10.0):
        """INVITE to_user (answering one digest challenge); returns the Call once a final response (or,
        with wait_final False, a 180) came."""
        to_uri = f"sip:{to_user}@127.0.0.1:{self.sipd[1]}"
        call = Call("%016x@rtcua" % random.getrandbits(64), "%08x" % random.getrandbits(32), to_uri)
        hdrs = list(headers if headers is not None else self.timer_headers())
        for attempt in range(2):
            call.branch, call.invite = self._request("INVITE", to_uri, call, hdrs, sdp)
            call.invite_headers = hdrs
            if not wait_final:
                r = self.wait(lambda m: m.get("Call-ID") == call.call_id and m.status in (180, 183)
                              or (m.get("Call-ID") == call.call_id and m.status >= 200), timeout)
                if r and r.status < 200:
                    call.provisional.append(r)
                    self._learn(call, r)
                    return call
            else:
                r = self.wait(lambda m: m.get("Call-ID") == call.call_id and m.status >= 200
                              and "INVITE" in m.get("CSeq", ""), timeout)
            if r is None:
                return call
            call.final = r
            if r.status == 407 and attempt == 0:
                self._ack_error(call, r)
                chal = [c for c in challenges(r, "Proxy-Authenticate") if c.get("algorithm") == "SHA-256"][0]
                hdrs = hdrs + [credentials(self.user, self.password, chal["realm"], chal["nonce"], "INVITE",
                                           to_uri, header="Proxy-Authorization")]
                call.cseq += 1
                continue
            break
        if r.status >= 300:
            self._ack_error(call, r)
        else:
            self._learn(call, r)
        return call

    def wait_final(self, call, timeout=10.0):
        r = self.wait(lambda m: m.get("Call-ID") == call.call_id and m.status >= 200
                      and "INVITE" in m.get("CSeq", ""), timeout)
        call.final = r
        if r is not None and r.status < 300:
            self._learn(call, r)
        elif r is not None:
            self._ack_error(call, r)
        return r

    def _learn(self, call, r):
        call.to_hdr = r.get("To")
        m = re.search(r";tag=([^;>\s]+)", call.to_hdr or "")
        call.to_tag = m.group(1) if m else None
        c = re.search(r"<([^>]+)>", r.get("Contact") or "")
        if c:
            call.target = c.group(1)
        if r.body:
            call.answer = r.body.decode() if isinstance(r.body, bytes) else r.body

    def _ack_error(self, call, r):
        """The ACK of a non-2xx final answer: same branch, part of the INVITE transaction."""
        self._request("ACK", call.to_uri, call, cseq=call.cseq, branch=call.branch, to=r.get("To"))

    def ack(self, call):
        self._request("ACK", call.target, call, cseq=call.cseq)

    def in_dialog(self, call, method, headers=(), body="", timeout=5.0):
        call.cseq += 1
        self._request(method, call.target, call, headers, body)
        cseq = f"{call.cseq} {method}"
        return self.wait(lambda m: m.get("Call-ID") == call.call_id and m.get("CSeq") == cseq and m.status >= 200,
                         timeout)

    def bye(self, call):
        return self.in_dialog(call, "BYE")

    def cancel(self, call):
        """CANCEL the pending INVITE; returns (response to CANCEL, final response to the INVITE)."""
        lines = [f"CANCEL {call.to_uri} SIP/2.0",
                 f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={call.branch};rport",
                 "Max-Forwards: 70",
                 f"From: <sip:{self.user}@127.0.0.1:{self.sipd[1]}>;tag={call.from_tag}",
                 f"To: <{call.to_uri}>",
                 f"Call-ID: {call.call_id}",
                 f"CSeq: {call.cseq} CANCEL",
                 "Content-Length: 0"]
        self.send("\r\n".join(lines) + "\r\n\r\n")
        c = self.wait(lambda m: m.get("Call-ID") == call.call_id and "CANCEL" in m.get("CSeq", ""))
        f = self.wait_final(call)
        return c, f

    def close(self):
        self.closed = True
        self.rtp.close()
        self.sock.close()


def sdp_port(sdp):
    m = re.search(r"m=audio (\d+)", sdp or "")
    return int(m.group(1)) if m else None


def sdp_addr(sdp):
    m = re.search(r"c=IN IP4 (\S+)", sdp or "")
    return m.group(1) if m else None
