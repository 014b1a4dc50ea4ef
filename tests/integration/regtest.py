"""Helpers for the registrar and auth_db integration tests: REGISTER builders and a digest client."""

import hashlib
import random
import re
import socket
import threading
import time

from sipdtest import new_branch, parse_sip, tcp_connect, tcp_read_message

ALGOS = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def h(algo, text):
    return ALGOS[algo](text.encode()).hexdigest()


def challenges(msg, name="WWW-Authenticate"):
    """List of dicts of the Digest challenges in msg, in order."""
    out = []
    for v in msg.all(name):
        params = dict((k.lower(), (q if q else t)) for k, q, t in
                      re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', v))
        out.append(params)
    return out


def credentials(user, password, realm, nonce, method, uri, algo="SHA-256", nc=1, cnonce=None,
                header="Authorization", qop="auth", response=None):
    cnonce = cnonce or "%08x" % random.getrandbits(32)
    ncs = "%08x" % nc
    ha1 = h(algo, f"{user}:{realm}:{password}")
    ha2 = h(algo, f"{method}:{uri}")
    resp = response or h(algo, f"{ha1}:{nonce}:{ncs}:{cnonce}:{qop}:{ha2}")
    return (f'{header}: Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
            f'response="{resp}", algorithm={algo}, qop={qop}, nc={ncs}, cnonce="{cnonce}"')


class Client:
    """A UDP or TCP SIP client bound to loopback, one socket for all its requests."""

    def __init__(self, port, proto="udp", host="127.0.0.1", source=None):
        """source: the loopback address to send from (UDP), e.g. 127.0.0.2 to act as another host."""
        self.host, self.port, self.proto = host, port, proto
        self.source = source or host
        if proto == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((self.source, 0))
        else:
            self.sock = tcp_connect(host, port)
        self.lport = self.sock.getsockname()[1]
        self.cseq = 0
        self.call_id = "%016x@regtest" % random.getrandbits(64)

    def close(self):
        self.sock.close()

    def send(self, data):
        if self.proto == "udp":
            self.sock.sendto(data, (self.host, self.port))
        else:
            self.sock.sendall(data)

    def recv(self, timeout=3.0):
        if self.proto == "udp":
            self.sock.settimeout(timeout)
            deadline = time.time() + timeout
            while time.time() < deadline:
                try:
                    data, _ = self.sock.recvfrom(65535)
                except socket.timeout:
                    return None
                m = parse_sip(data)
                if m and m.status and m.status >= 200:
                    return m
            return None
        return parse_sip(tcp_read_message(self.sock, timeout))

    def request(self, method, ruri, headers=(), to=None, from_user="alice", cseq=None, call_id=None,
                body=""):
        """Sends one request and returns the final response (SipMessage) or None."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        call_id = call_id or self.call_id
        to = to or f"<sip:{from_user}@{self.host}>"
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/{self.proto.upper()} {self.source}:{self.lport};branch={new_branch()};rport",
                 "Max-Forwards: 70",
                 f"From: <sip:{from_user}@{self.host}>;tag=t{random.getrandbits(32):08x}",
                 f"To: {to}",
                 f"Call-ID: {call_id}",
                 f"CSeq: {cseq} {method}"]
        lines += list(headers)
        lines.append(f"Content-Length: {len(body.encode())}")
        self.send(("\r\n".join(lines) + "\r\n\r\n" + body).encode())
        return self.recv()

    def register(self, user, contact=None, expires=None, headers=(), cseq=None, call_id=None, ruri=None):
        """A REGISTER for user's AOR (no credentials)."""
        hdrs = list(headers)
        if contact is not None:
            hdrs.append(f"Contact: {contact}")
        if expires is not None:
            hdrs.append(f"Expires: {expires}")
        return self.request("REGISTER", ruri or f"sip:{self.host}:{self.port}", hdrs,
                            to=f"<sip:{user}@{self.host}>", from_user=user, cseq=cseq, call_id=call_id)

    def register_auth(self, user, password, contact=None, expires=None, algo="SHA-256", headers=(),
                      auth_user=None, realm=None, ruri=None, digest_uri=None):
        """REGISTER (to ruri, default sip:HOST:PORT), answer the 401 with digest credentials for digest_uri
        (default: the Request-URI); returns (final response, challenge)."""
        first = self.register(user, contact, expires, headers, ruri=ruri)
        if first is None or first.status != 401:
            return first, None
        chals = [c for c in challenges(first) if c.get("algorithm") == algo]
        chal = chals[0]
        uri = digest_uri or ruri or f"sip:{self.host}:{self.port}"
        cred = credentials(auth_user or user, password, realm or chal["realm"], chal["nonce"], "REGISTER",
                           uri, algo)
        return self.register(user, contact, expires, list(headers) + [cred], ruri=ruri), chal


class RegisterBurst:
    """Unauthenticated REGISTERs sent from one UDP socket without waiting, and a thread that collects the users
    whose REGISTER got a 200 (acked): for kill -9 tests that compare what was acknowledged with what is stored."""

    def __init__(self, sipd_port, call_id_host):
        self.sipd_port, self.call_id_host = sipd_port, call_id_host
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.lport = self.sock.getsockname()[1]
        self.acked = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.receive)
        self.thread.start()

    def receive(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                data, _ = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            m = parse_sip(data)
            if m and m.status == 200:
                self.acked.add(m.get("Call-ID").split("@")[0])

    def register(self, i, user):
        """Sends REGISTER number i for user (Call-ID user@CALL_ID_HOST, one contact, Expires 600)."""
        self.sock.sendto((f"REGISTER sip:127.0.0.1:{self.sipd_port} SIP/2.0\r\n"
                          f"Via: SIP/2.0/UDP 127.0.0.1:{self.lport};branch={new_branch()};rport\r\n"
                          f"Max-Forwards: 70\r\nFrom: <sip:{user}@127.0.0.1>;tag={i}\r\n"
                          f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: {user}@{self.call_id_host}\r\n"
                          f"CSeq: 1 REGISTER\r\nContact: <sip:{user}@10.1.0.1:5060>\r\nExpires: 600\r\n"
                          "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", self.sipd_port))

    def close(self):
        """Stops the receiving thread and closes the socket."""
        self.stop.set()
        self.thread.join()
        self.sock.close()
