"""A client of the webadmin HTTP API for tests: session cookie, CSRF header, raw requests and an SSE reader."""

import http.client
import json
import re
import socket
import time


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # name (lowercase) -> value
        self.body = body

    @property
    def json(self):
        try:
            return json.loads(self.body.decode()) if self.body else None
        except (ValueError, UnicodeDecodeError):
            return None

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


class WebClient:
    """One admin's view of the API. request() sends the cookie and, for changes, the CSRF token."""

    def __init__(self, port, host="127.0.0.1"):
        self.host, self.port = host, port
        self.cookie = None
        self.csrf = None

    def wait_ready(self, timeout=15.0):
        """Waits until the server accepts connections (webadmin starts after the control socket)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nothing listens on {self.host}:{self.port}")

    def raw(self, method, target, body=None, headers=None, timeout=15):
        """Sends target exactly as given (no normalisation of '..' or escapes)."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.putrequest(method, target, skip_accept_encoding=True)
            hdrs = dict(headers or {})
            if body is not None:
                hdrs.setdefault("Content-Length", str(len(body)))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders(body)
            r = conn.getresponse()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def request(self, method, path, data=None, body=None, ctype="application/json", csrf=True,
                cookie=True, headers=None):
        """data: a JSON-able value; body: raw bytes. csrf may be True, False or a token string."""
        hdrs = dict(headers or {})
        if data is not None:
            body = json.dumps(data).encode()
        if body is not None and ctype:
            hdrs["Content-Type"] = ctype
        if cookie and self.cookie:
            hdrs["Cookie"] = f"sipd_session={self.cookie}"
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            token = self.csrf if csrf is True else (csrf or None)
            if token:
                hdrs["X-CSRF-Token"] = token
        return self.raw(method, path, body, hdrs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def login(self, username, password):
        r = self.request("POST", "/api/login", {"username": username, "password": password}, cookie=False)
        if r.status == 200:
            m = re.search(r"sipd_session=([^;]+)", r.headers.get("set-cookie", ""))
            self.cookie = m.group(1) if m else None
            self.csrf = r.json["csrf"]
        return r

    def events(self, timeout=10):
        """Opens /api/events; returns an EventStream (headers already read)."""
        return EventStream(self.host, self.port, self.cookie, timeout)


class EventStream:
    """Reads Server-Sent Events from a raw socket: next_event(type) -> data (parsed JSON)."""

    def __init__(self, host, port, cookie, timeout):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        req = f"GET /api/events HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n"
        if cookie:
            req += f"Cookie: sipd_session={cookie}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode(errors="replace").split("\r\n")
        self.status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        self.headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}

    def next_event(self, want=None, timeout=5.0):
        """The data of the next event of type want (any when None), or None at the deadline."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\n\n" in self.buf:
                block, _, self.buf = self.buf.partition(b"\n\n")
                etype, data = None, []
                for line in block.decode(errors="replace").split("\n"):
                    if line.startswith("event: "):
                        etype = line[7:]
                    elif line.startswith("data: "):
                        data.append(line[6:])
                if etype and (want is None or etype == want):
                    return etype, json.loads("\n".join(data))
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                return None
            self.buf += chunk
        return None

    def close(self):
        self.sock.close()
