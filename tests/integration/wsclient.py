"""A small raw WebSocket client (RFC 6455) on the stdlib, for SIP over WebSocket tests (RFC 7118).

It writes frames by hand so that tests can also send what a browser never would: unmasked
frames, oversize frames, bad opcodes, fragments.

    ws = WsClient(port, protocols="sip", origin="http://127.0.0.1:8080")
    ws.send_text("OPTIONS sip:... SIP/2.0\\r\\n...")
    op, payload = ws.recv_frame()
"""

import base64
import hashlib
import os
import socket
import ssl
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class HandshakeRefused(Exception):
    def __init__(self, status, headers, body):
        super().__init__(f"handshake refused: {status} {body!r}")
        self.status = status
        self.headers = headers
        self.body = body


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One frame; length overrides the announced payload length (for lying headers)."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if mask:
        key = os.urandom(4)
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        hdr += key
    return hdr + payload


def parse_frame(buf):
    """(fin, opcode, payload, rest) for the first whole frame in buf, or None if incomplete."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    off = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n = struct.unpack("!H", buf[2:4])[0]
        off = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n = struct.unpack("!Q", buf[2:10])[0]
        off = 10
    key = None
    if b1 & 0x80:
        if len(buf) < off + 4:
            return None
        key = buf[off:off + 4]
        off += 4
    if len(buf) < off + n:
        return None
    payload = buf[off:off + n]
    if key:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bool(b0 & 0x80), b0 & 0x0F, payload, buf[off + n:]


class WsClient:
    def __init__(self, port, host="127.0.0.1", protocols="sip", origin=None, path="/", tls=False,
                 timeout=5.0):
        raw = socket.create_connection((host, port), timeout=timeout)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            raw = ctx.wrap_socket(raw, server_hostname=host)
        self.sock = raw
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if protocols:
            lines.append(f"Sec-WebSocket-Protocol: {protocols}")
        if origin:
            lines.append(f"Origin: {origin}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            d = self.sock.recv(4096)
            if not d:
                break
            head += d
        head, _, self.buf = head.partition(b"\r\n\r\n")
        text = head.decode(errors="replace").split("\r\n")
        status = int(text[0].split()[1]) if text and len(text[0].split()) > 1 else 0
        self.headers = {}
        for ln in text[1:]:
            k, _, v = ln.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        if status != 101:
            body = self.buf
            try:
                while True:
                    d = self.sock.recv(4096)
                    if not d:
                        break
                    body += d
            except OSError:
                pass
            self.sock.close()
            raise HandshakeRefused(status, self.headers, body.decode(errors="replace"))
        want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        if self.headers.get("sec-websocket-accept") != want:
            raise RuntimeError("bad Sec-WebSocket-Accept")
        self.protocol = self.headers.get("sec-websocket-protocol")

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, opcode, payload=b"", **kw):
        self.sock.sendall(frame(opcode, payload, **kw))

    def send_text(self, text):
        self.send(OP_TEXT, text)

    def recv_frame(self, timeout=5.0):
        """(opcode, payload) of the next frame; (None, None) when the connection closed."""
        self.sock.settimeout(timeout)
        while True:
            f = parse_frame(self.buf)
            if f:
                fin, op, payload, self.buf = f
                return op, payload
            d = self.sock.recv(65536)
            if not d:
                return None, None
            self.buf += d

    def recv_message(self, timeout=5.0):
        """The next text/binary message as str, answering pings; None when closed."""
        while True:
            op, payload = self.recv_frame(timeout)
            if op is None or op == OP_CLOSE:
                return None
            if op == OP_PING:
                self.send(OP_PONG, payload)
                continue
            if op in (OP_TEXT, OP_BINARY):
                return payload.decode(errors="replace")

    def close_code(self, timeout=5.0):
        """Reads until a close frame: its code (0 if none); None if the socket closed without one."""
        while True:
            try:
                op, payload = self.recv_frame(timeout)
            except (socket.timeout, ConnectionResetError):
                return None
            if op is None:
                return None
            if op == OP_CLOSE:
                return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0

    def closed(self, timeout=3.0):
        """True once the server closed the TCP connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
