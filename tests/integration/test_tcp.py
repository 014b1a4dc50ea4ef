#!/usr/bin/env python3
"""Integration tests of the tcp transport: framing, keep-alives, limits, timeouts, real clients.

Run: python3 tests/integration/test_tcp.py BUILD_DIR [case ...]
"""

import os
import selectors
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import (Sipd, TestRun, free_port, parse_sip, raise_nofile, rss_kib,  # noqa: E402
                      sip_request)

ROUTING = 'request_route { reply(200, "OK"); }\n'
run = TestRun("tcp")


class Stream:
    """Reads SIP messages framed by Content-Length from a stream socket, keeping leftovers."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _frame(self):
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        msg = parse_sip(self.buf[:end + 4])
        need = end + 4 + int(msg.get("Content-Length", msg.get("l", "0")) or 0)
        if len(self.buf) < need:
            return None
        raw, self.buf = self.buf[:need], self.buf[need:]
        return raw

    def read(self, timeout=5.0):
        """The next message, or None on EOF or timeout."""
        deadline = time.time() + timeout
        while True:
            raw = self._frame()
            if raw:
                return parse_sip(raw)
            left = deadline - time.time()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return None
            if not chunk:
                return None
            self.buf += chunk

    def closed_within(self, timeout):
        """True if the peer closes (EOF or reset) within timeout; data read meanwhile is kept."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False


def connect(port, host="127.0.0.1", rcvbuf=None):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(5)
    s.connect((host, port))
    return s


def options(port, host="127.0.0.1", **kw):
    return sip_request("OPTIONS", f"sip:{host}:{port}" if ":" not in host else f"sip:[{host}]:{port}",
                       via_host=host if ":" not in host else f"[{host}]", transport="TCP", **kw)


def stat(s, name):
    st = s.stats()
    return int(st.get(name, 0)) if isinstance(st, dict) else 0


def tcp_module(**params):
    m = {"name": "tcp"}
    m.update(params)
    return m


def sipd(params=None, listen=None, **kw):
    port = free_port()
    return Sipd(run.build, modules=[{"name": "parser"}, tcp_module(**(params or {}))], routing=ROUTING,
                listen=listen or ["tcp:127.0.0.1:{port}", "tcp:[::1]:{port}"], port=port, **kw)


with sipd({"max_connections_per_ip": 4096, "max_message_size": 4096}) as s:

    @run.case
    def two_messages_in_one_write():
        c = connect(s.port)
        a, b = options(s.port, call_id="first@t"), options(s.port, call_id="second@t", cseq=2)
        c.sendall(a + b)
        st = Stream(c)
        r1, r2 = st.read(), st.read()
        run.expect(r1 and r1.status == 200 and r1.get("Call-ID") == "first@t", f"first answered: {r1 and r1.start}")
        run.expect(r2 and r2.status == 200 and r2.get("Call-ID") == "second@t", f"second answered: {r2 and r2.start}")
        c.close()

    @run.case
    def trickled_a_few_bytes_at_a_time():
        c = connect(s.port)
        body = "hello over a trickle"
        msg = sip_request("MESSAGE", f"sip:u@127.0.0.1:{s.port}", transport="TCP", body=body,
                          headers=["Content-Type: text/plain"])
        for i in range(0, len(msg), 3):
            c.sendall(msg[i:i + 3])
            time.sleep(0.002)
        r = Stream(c).read()
        run.expect(r and r.status == 200, f"answered after trickle: {r and r.start}")
        c.close()

    @run.case
    def body_split_with_pipelined_follower():
        c = connect(s.port)
        m1 = sip_request("MESSAGE", f"sip:u@127.0.0.1:{s.port}", transport="TCP", body="x" * 500,
                         call_id="split1@t")
        m2 = options(s.port, call_id="split2@t")
        data = m1 + m2
        cut = len(m1) - 123  # inside the first body
        c.sendall(data[:cut])
        time.sleep(0.1)
        c.sendall(data[cut:])
        st = Stream(c)
        ids = {st.read().get("Call-ID"), st.read().get("Call-ID")}
        run.expect(ids == {"split1@t", "split2@t"}, f"both answered: {ids}")
        c.close()

    @run.case
    def body_without_content_length_gets_400_and_close():
        c = connect(s.port)
        c.sendall(options(s.port, omit=("Content-Length",), headers=["Content-Type: text/plain"]) + b"some body")
        st = Stream(c)
        r = st.read()
        run.expect(r and r.status == 400, f"400 answer: {r and r.start}")
        run.expect("Content-Length" in r.reason, f"reason names the problem: {r.reason}")
        run.expect(st.closed_within(3), "connection closed after the 400")
        c.close()

    @run.case
    def invalid_content_length_gets_400_and_close():
        c = connect(s.port)
        c.sendall(options(s.port, omit=("Content-Length",), headers=["Content-Length: 12abc"]))
        st = Stream(c)
        r = st.read()
        run.expect(r and r.status == 400 and "Invalid Content-Length" in r.reason, f"400: {r and r.start}")
        run.expect(st.closed_within(3), "connection closed after the 400")
        c.close()

    @run.case
    def oversized_message_gets_513_and_close():
        c = connect(s.port)
        c.sendall(sip_request("MESSAGE", f"sip:u@127.0.0.1:{s.port}", transport="TCP", body="y" * 5000))
        st = Stream(c)
        r = st.read()
        run.expect(r and r.status == 513, f"513: {r and r.start}")
        run.expect(st.closed_within(3), "connection closed after the 513")
        c.close()

    @run.case
    def garbage_gets_a_bare_answer_and_close():
        c = connect(s.port)
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st = Stream(c)
        r = st.read()
        run.expect(r and r.status == 400, f"bare 400: {r and r.start}")
        run.expect(st.closed_within(3), "closed")
        c.close()

    @run.case
    def crlf_ping_gets_crlf_pong():
        c = connect(s.port)
        before = stat(s, "tcp.keepalive_pongs")
        c.sendall(b"\r\n\r\n")
        c.settimeout(3)
        pong = c.recv(100)
        run.expect(pong == b"\r\n", f"single CRLF pong, got {pong!r}")
        # stray CRLFs before a request are ignored, and the ping split in two still pongs
        c.sendall(b"\r\n" + options(s.port))
        r = Stream(c).read()
        run.expect(r and r.status == 200, "request after a stray CRLF answered")
        c.sendall(b"\r\n")
        time.sleep(0.1)
        c.sendall(b"\r\n")
        pong = c.recv(100)
        run.expect(pong == b"\r\n", f"split ping answered, got {pong!r}")
        run.expect(stat(s, "tcp.keepalive_pongs") - before == 2, "keepalive_pongs counted")
        c.close()

    @run.case
    def ipv6_loopback():
        c = connect(s.port, host="::1")
        c.sendall(options(s.port, host="::1"))
        r = Stream(c).read()
        run.expect(r and r.status == 200, f"answered over ::1: {r and r.start}")
        c.close()

    @run.case
    def sipctl_tcp_list_shows_connections():
        c = connect(s.port)
        c.sendall(options(s.port))
        Stream(c).read()
        mine = f"127.0.0.1:{c.getsockname()[1]}"
        lst = s.ctl("tcp", "list")
        run.expect(isinstance(lst, list), f"a list: {lst!r}"[:200])
        ent = [e for e in lst if e.get("peer") == mine]
        run.expect(len(ent) == 1, f"our connection {mine} listed")
        e = ent[0]
        for k in ("id", "peer", "local", "age_s", "idle_s", "rx_bytes", "tx_bytes", "queued", "state"):
            run.expect(k in e, f"field {k}")
        run.expect(e["state"] == "open" and e["rx_bytes"] > 0 and e["tx_bytes"] > 0, f"counts: {e}")
        run.expect(e["local"] == f"127.0.0.1:{s.port}", f"local {e['local']}")
        c.close()

    @run.case
    def sipsak_over_tcp():
        if not shutil.which("sipsak"):
            raise AssertionError("sipsak not installed")
        p = subprocess.run(["sipsak", "-E", "tcp", "-vv", "-s", f"sip:127.0.0.1:{s.port}"],
                           capture_output=True, text=True, timeout=20)
        run.expect(p.returncode == 0 and "200 OK" in p.stdout, f"sipsak exit {p.returncode}: {p.stdout[-300:]}")

    @run.case
    def two_thousand_concurrent_connections():
        n = 2000
        raise_nofile(n + 200)
        pid = s.proc.pid
        open_before = stat(s, "tcp.connections_open")
        rss0 = rss_kib(pid)
        socks = []
        for _ in range(n):
            socks.append(connect(s.port))
        # every connection accepted and idle: the memory they cost
        deadline = time.time() + 10
        while stat(s, "tcp.connections_open") < open_before + n and time.time() < deadline:
            time.sleep(0.1)
        rss1 = rss_kib(pid)
        held = stat(s, "tcp.connections_open")
        sel = selectors.DefaultSelector()
        streams = {}
        for i, c in enumerate(socks):
            c.sendall(options(s.port, call_id=f"conc{i}@t"))
            c.setblocking(False)
            streams[c] = Stream(c)
            sel.register(c, selectors.EVENT_READ)
        answered = 0
        deadline = time.time() + 30
        while sel.get_map() and time.time() < deadline:
            for key, _ in sel.select(timeout=1):
                c = key.fileobj
                st = streams[c]
                try:
                    chunk = c.recv(65536)
                except BlockingIOError:
                    continue
                st.buf += chunk
                raw = st._frame()
                if raw and parse_sip(raw).status == 200:
                    answered += 1
                    sel.unregister(c)
                elif not chunk:
                    sel.unregister(c)
        rss2 = rss_kib(pid)
        for c in socks:
            c.close()
        print(f"    held {held} connections open; sipd RSS {rss0} KiB before, {rss1} KiB with {n} idle "
              f"connections ({(rss1 - rss0) * 1024 / n:.0f} bytes each), {rss2} KiB after one OPTIONS each")
        run.expect(held >= n, f"{held} connections open at once")
        run.expect(answered == n, f"{answered}/{n} answered")

    @run.case
    def outbound_connect_then_reuse():
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(8)
        lst.settimeout(3)
        addr = f"127.0.0.1:{lst.getsockname()[1]}"
        connected = stat(s, "tcp.connected")
        cid = s.ctl("tcp", "ping", addr)["conn_id"]
        peer, _ = lst.accept()
        peer.settimeout(3)
        run.expect(peer.recv(4) == b"\r\n\r\n", "keep-alive arrived on a new connection")
        peer.sendall(b"\r\n")  # the pong is ignored by sipd
        cid2 = s.ctl("tcp", "ping", addr)["conn_id"]
        run.expect(cid2 == cid, f"second send reuses connection {cid} (got {cid2})")
        run.expect(peer.recv(4) == b"\r\n\r\n", "second keep-alive on the same connection")
        lst.settimeout(0.3)
        try:
            lst.accept()
            run.expect(False, "no second connection")
        except socket.timeout:
            pass
        # requests may come back on the connection sipd opened; answers use it too
        peer.sendall(options(s.port))
        r = Stream(peer).read()
        run.expect(r and r.status == 200, "request on the outbound connection answered on it")
        run.expect(stat(s, "tcp.connected") == connected + 1, "connected counted once")
        ent = [e for e in s.ctl("tcp", "list") if e["id"] == cid]
        run.expect(ent and ent[0]["direction"] == "out" and ent[0]["peer"] == addr, f"listed as outbound: {ent}")
        peer.close()
        lst.close()

    @run.case
    def send_to_client_address_reuses_its_connection():
        c = connect(s.port)
        c.sendall(options(s.port))
        run.expect(Stream(c).read().status == 200, "answered")
        accepted, connected = stat(s, "tcp.accepted"), stat(s, "tcp.connected")
        me = f"127.0.0.1:{c.getsockname()[1]}"
        cid = s.ctl("tcp", "ping", me)["conn_id"]
        c.settimeout(3)
        run.expect(c.recv(4) == b"\r\n\r\n", "sent over the client's own connection (alias)")
        ent = [e for e in s.ctl("tcp", "list") if e["peer"] == me]
        run.expect(ent and ent[0]["id"] == cid and ent[0]["direction"] == "in", f"same connection: {ent}")
        run.expect(stat(s, "tcp.accepted") == accepted and stat(s, "tcp.connected") == connected,
                   "no new connection either way")
        c.close()

    @run.case
    def connect_refused_is_reported_and_counted():
        port = free_port("tcp")
        before = stat(s, "tcp.closed_error")
        s.ctl("tcp", "ping", f"127.0.0.1:{port}")
        deadline = time.time() + 3
        while stat(s, "tcp.closed_error") == before and time.time() < deadline:
            time.sleep(0.05)
        run.expect(stat(s, "tcp.closed_error") == before + 1, "failed connect counted")
        run.expect(not [e for e in s.ctl("tcp", "list") if e["peer"] == f"127.0.0.1:{port}"], "not listed")
        run.expect("connect failed" in s.log_text(), "logged once")

    @run.case
    def bad_rpc_arguments_get_clear_errors():
        for bad in ("nonsense", "127.0.0.1", "127.0.0.1:0", "[::1]5060", "999.1.1.1:5060"):
            p = subprocess.run([s.sipctl, "-S", s.sock, "tcp", "ping", bad], capture_output=True, text=True,
                               timeout=10)
            run.expect(p.returncode == 1 and "expected an address" in (p.stdout + p.stderr),
                       f"{bad}: {p.returncode} {p.stdout}{p.stderr}")

    @run.case
    def half_close_still_answered():
        c = connect(s.port)
        c.sendall(options(s.port, call_id="half@t"))
        c.shutdown(socket.SHUT_WR)
        st = Stream(c)
        r = st.read()
        run.expect(r and r.status == 200 and r.get("Call-ID") == "half@t", "answer owed is still written")
        run.expect(st.closed_within(3), "then closed")
        c.close()

    @run.case
    def write_queue_limit_closes_a_slow_reader():
        before = stat(s, "tcp.closed_limit")
        c = connect(s.port, rcvbuf=4096)
        vias = [f"Via: SIP/2.0/TCP 10.0.0.{k}:5060;branch=z9hG4bK{k:04d}{'x' * 150}" for k in range(12)]  # under max_message_size 4096
        c.setblocking(False)
        pending, t0, closed, polled = b"", time.time(), False, time.time()
        while time.time() - t0 < 8 and not closed:
            if not pending:
                pending = options(s.port, headers=vias)
            try:
                pending = pending[c.send(pending):]
            except BlockingIOError:
                time.sleep(0.01)
            except (ConnectionResetError, BrokenPipeError):
                closed = True
            if time.time() - polled > 0.25:
                polled = time.time()
                closed = closed or stat(s, "tcp.closed_limit") > before
        deadline = time.time() + 2
        while stat(s, "tcp.closed_limit") == before and time.time() < deadline:
            time.sleep(0.05)
        run.expect(stat(s, "tcp.closed_limit") == before + 1,
                   f"closed at max_write_queue (1 MiB): {before} -> {s.stats()} after {time.time() - t0:.1f}s")
        run.expect(stat(s, "tcp.write_queue_full") >= 1, f"write_queue_full counted: {s.stats()}")
        run.expect(time.time() - t0 < 8, "well before write_timeout")
        c.close()

    @run.case
    def peer_reset_closes_only_that_connection():
        a, b = connect(s.port), connect(s.port)
        a.sendall(options(s.port)[:20])
        a.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        a.close()  # RST
        b.sendall(options(s.port))
        r = Stream(b).read()
        run.expect(r and r.status == 200, "the other connection still served")
        b.close()


with sipd({"idle_timeout": 2, "read_timeout": 2, "write_timeout": 2, "max_write_queue": 64 * 1024 * 1024,
           "max_connections_per_ip": 3, "connect_timeout": 1}) as s:

    @run.case
    def connect_timeout():
        # A listener whose accept queue is full drops further SYNs: the connect hangs.
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(0)
        addr = ("127.0.0.1", lst.getsockname()[1])
        fillers = []
        for _ in range(3):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(addr)
            fillers.append(f)
        time.sleep(0.2)
        before = stat(s, "tcp.closed_error")
        t0 = time.time()
        s.ctl("tcp", "ping", f"127.0.0.1:{addr[1]}")
        while stat(s, "tcp.closed_error") == before and time.time() - t0 < 5:
            time.sleep(0.05)
        took = time.time() - t0
        run.expect(stat(s, "tcp.closed_error") == before + 1 and 0.8 <= took <= 3,
                   f"connect abandoned after {took:.1f}s (connect_timeout 1)")
        run.expect("connect timeout" in s.log_text(), "logged")
        for f in fillers:
            f.close()
        lst.close()

    @run.case
    def idle_connection_closed_after_idle_timeout():
        c = connect(s.port)
        c.sendall(options(s.port))
        st = Stream(c)
        run.expect(st.read().status == 200, "answered")
        t0 = time.time()
        closed = st.closed_within(6)
        took = time.time() - t0
        run.expect(closed and 1.5 <= took <= 4.5, f"closed after {took:.1f}s (idle_timeout 2)")
        run.expect(stat(s, "tcp.closed_idle") >= 1, "closed_idle counted")
        c.close()

    @run.case
    def slow_loris_dropped_while_others_served():
        slow = connect(s.port)
        msg = options(s.port)
        t0 = time.time()
        served = []
        closed = False
        i = 0
        while time.time() - t0 < 6:
            try:
                slow.sendall(msg[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            i += 1
            if i in (2, 4):
                other = connect(s.port)
                other.sendall(options(s.port))
                r = Stream(other).read(timeout=2)
                served.append(r is not None and r.status == 200)
                other.close()
            slow.settimeout(0.4)
            try:
                if slow.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
                break
        took = time.time() - t0
        run.expect(served == [True, True], f"others served meanwhile: {served}")
        run.expect(closed and took < 4.5, f"slow sender dropped after {took:.1f}s (read_timeout 2)")
        run.expect(stat(s, "tcp.closed_read_timeout") >= 1, "closed_read_timeout counted")
        slow.close()

    @run.case
    def peer_that_never_reads_dropped_after_write_timeout():
        c = connect(s.port, rcvbuf=4096)
        # Many Via lines make every answer big, so the socket buffers fill quickly.
        vias = [f"Via: SIP/2.0/TCP 10.0.0.{k}:5060;branch=z9hG4bK{k:04d}{'x' * 150}" for k in range(20)]
        c.setblocking(False)
        sent = 0
        pending = b""
        t0 = time.time()
        # Shorter than write_timeout: the answers must still be queued when we look.
        while time.time() - t0 < 1.2 and sent < 3000:
            if not pending:
                pending = options(s.port, headers=vias)
                sent += 1
            try:
                pending = pending[c.send(pending):]
            except BlockingIOError:
                time.sleep(0.01)
        queued = max([e["queued"] for e in s.ctl("tcp", "list")] + [0])
        run.expect(queued > 0, f"answers pile up in the write queue ({queued} bytes after {sent} requests)")
        deadline = time.time() + 8
        while stat(s, "tcp.closed_write_timeout") < 1 and time.time() < deadline:
            time.sleep(0.2)
        run.expect(stat(s, "tcp.closed_write_timeout") >= 1, "closed_write_timeout counted")
        run.expect(stat(s, "tcp.bytes_dropped") > 0, "dropped bytes counted")
        c.close()

    @run.case
    def per_ip_limit():
        socks = [connect(s.port) for _ in range(3)]
        before = stat(s, "tcp.rejected_limit")
        extra = connect(s.port)  # accepted by the kernel, closed by sipd
        st = Stream(extra)
        run.expect(st.closed_within(3), "the 4th connection from one IP is closed")
        run.expect(stat(s, "tcp.rejected_limit") == before + 1, "rejected_limit counted")
        for c in socks + [extra]:
            c.close()


def free_pair():
    """A port P free for UDP and TCP with P+1 free for TCP: baresip puts SIP/TLS on P+1."""
    for _ in range(50):
        p = free_port()
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
        finally:
            t.close()
    raise RuntimeError("no free port pair")


def answer(req, code=200, reason="OK"):
    """A response to req (a parsed request) with its Via, From, To, Call-ID and CSeq."""
    lines = [f"SIP/2.0 {code} {reason}"]
    lines += [f"Via: {v}" for v in req.all("Via")]
    lines += [f"{h}: {req.get(h)}" for h in ("From", "To", "Call-ID", "CSeq")]
    return ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()


RELAY = 'request_route { if ($rm == "MESSAGE") { relay(); exit; } reply(200, "OK"); }\n'

if os.path.exists(os.path.join(run.build, "modules", "tm.so")):
    port = free_port()
    with Sipd(run.build, modules=[{"name": "parser"}, {"name": "tcp"}, {"name": "tm"}], routing=RELAY,
              listen=["tcp:127.0.0.1:{port}"], port=port) as s:

        @run.case
        def tm_relays_over_a_new_then_reused_connection():
            up = socket.socket()
            up.bind(("127.0.0.1", 0))
            up.listen(8)
            up.settimeout(3)
            uport = up.getsockname()[1]
            c = connect(s.port)
            cs = Stream(c)
            ups = None
            for n in range(2):
                c.sendall(sip_request("MESSAGE", f"sip:bob@127.0.0.1:{uport};transport=tcp", transport="TCP",
                                      body=f"hi {n}", call_id=f"relay{n}@t", cseq=n + 1))
                if ups is None:
                    peer, _ = up.accept()
                    ups = Stream(peer)
                req = ups.read()
                run.expect(req and req.start.startswith("MESSAGE sip:bob@"), f"relayed upstream: {req and req.start}")
                run.expect(req.all("Via")[0].startswith("SIP/2.0/TCP"), f"sipd's Via says TCP: {req.all('Via')[0]}")
                peer.sendall(answer(req))
                r = cs.read()
                run.expect(r and r.status == 200 and r.get("Call-ID") == f"relay{n}@t",
                           f"answer {n} back on the client's connection: {r and r.start}")
            up.settimeout(0.3)
            try:
                up.accept()
                run.expect(False, "the second request reused the upstream connection")
            except socket.timeout:
                pass
            run.expect(stat(s, "tcp.connected") == 1, "one outbound connection")
            c.close()
            peer.close()
            up.close()

        @run.case
        def refused_upstream_fails_the_transaction_quickly():
            dead = free_port("tcp")
            c = connect(s.port)
            t0 = time.time()
            c.sendall(sip_request("MESSAGE", f"sip:bob@127.0.0.1:{dead};transport=tcp", transport="TCP",
                                  body="x", call_id="dead@t"))
            r = Stream(c).read(timeout=10)
            took = time.time() - t0
            run.expect(r and r.status >= 400, f"a final error answer: {r and r.start}")
            run.expect(took < 3, f"from the transport error, not a 32 s timer ({took:.1f}s)")
            c.close()


@run.case
def baresip_register_and_options_over_tcp():
    """A real UA: baresip registers over TCP (the script answers 200) and sends OPTIONS on the same flow."""
    exe = shutil.which("baresip")
    if not exe:
        raise AssertionError("baresip not installed (apt-get install baresip-core)")
    with sipd() as s:
        home = os.path.join(s.dir, "baresip")
        os.makedirs(home)
        ua_port = free_pair()
        with open(os.path.join(home, "config"), "w") as f:
            f.write(f"sip_listen 127.0.0.1:{ua_port}\nnet_interface 127.0.0.1\n"
                    "dns_server 127.0.0.1:53\nmodule_path /usr/lib/baresip/modules\n"
                    "module account.so\nmodule menu.so\n")
        with open(os.path.join(home, "accounts"), "w") as f:
            f.write(f"<sip:alice@127.0.0.1;transport=tcp>;regint=60;"
                    f"outbound=\"sip:127.0.0.1:{s.port};transport=tcp\"\n")
        p = subprocess.run([exe, "-f", home, "-t", "3", "-e", f"/options sip:127.0.0.1:{s.port};transport=tcp"],
                           capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
        out = p.stdout + p.stderr
        run.expect("{0/TCP/v4} 200 OK (sipd/" in out, f"REGISTER over TCP answered: {out[-800:]}")
        run.expect("----- OPTIONS of" in out and "SIP/2.0 200 OK" in out, f"OPTIONS answered: {out[-800:]}")
        run.expect(stat(s, "tcp.accepted") == 1, "one TCP connection carried everything")
        run.expect(stat(s, "tcp.rx_messages") >= 2, "REGISTER and OPTIONS received over TCP")


run.finish()
