#!/usr/bin/env python3
"""Integration tests of the tls transport: certificates, verification both ways, relaying across transports,
Record-Route, reload, hostile handshakes, 1000 idle connections, baresip over TLS.

Run: python3 tests/integration/test_tls.py BUILD_DIR [case ...]
"""

import atexit
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import (Sipd, TestRun, free_port, parse_sip, raise_nofile, rss_kib, sip_request,  # noqa: E402
                      tcp_read_message, udp_request)
from tlstest import Pki, client_context, peer_cn, server_context, tls_connect  # noqa: E402
from interop.baresip import Baresip  # noqa: E402
from interop.common import wait_for  # noqa: E402

run = TestRun("tls")
ROUTING = """request_route {
    if (uri_is_myself()) { reply(200, "OK"); exit; }
    if (is_method("INVITE")) { record_route(); }
    relay();
}
"""
IDLE = 5  # tcp idle_timeout, seconds; tls connections obey it too
PKI_DIR = tempfile.mkdtemp(prefix="sipd-tls-pki-")
pki = Pki(PKI_DIR)
SRV_CERT, SRV_KEY = pki.issue("server", ["DNS:sipd.test", "DNS:localhost", "IP:127.0.0.1"], cn="sipd.test")
UAS_CERT, UAS_KEY = pki.issue("uas", ["DNS:naptr.example.test", "DNS:srv.example.test", "IP:127.0.0.1"],
                              cn="uas.test")
WRONG_CERT, WRONG_KEY = pki.issue("wrong", ["DNS:other.test"], cn="other.test")
# The files sipd reads: replaced in place for the reload test.
LIVE_CERT, LIVE_KEY = os.path.join(PKI_DIR, "live.pem"), os.path.join(PKI_DIR, "live.key")
shutil.copy(SRV_CERT, LIVE_CERT)
shutil.copy(SRV_KEY, LIVE_KEY)


class Uas:
    """A TLS (or TCP) SIP server answering every request with 200; records requests and the SNI it saw."""

    def __init__(self, cert=None, key=None):
        self.port = free_port("tcp")
        self.requests = []
        self.sni = []
        self.ctx = None
        if cert:
            self.ctx = server_context(cert, key)
            self.ctx.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.port))
        self.lsock.listen(16)
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.ctx:
                c = self.ctx.wrap_socket(c, server_side=True)
            while True:
                raw = tcp_read_message(c, timeout=30)
                if not raw:
                    return
                m = parse_sip(raw)
                self.requests.append(m)
                if m.start.startswith("ACK "):
                    continue
                lines = ["SIP/2.0 200 OK"] + [f"Via: {v}" for v in m.all("Via")]
                lines += [f"Record-Route: {v}" for v in m.all("Record-Route")]
                lines += [f"From: {m.get('From')}", f"To: {m.get('To')};tag=uas",
                          f"Call-ID: {m.get('Call-ID')}", f"CSeq: {m.get('CSeq')}",
                          f"Contact: <sip:uas@127.0.0.1:{self.port};transport={'tls' if self.ctx else 'tcp'}>",
                          "Content-Length: 0"]
                c.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        except (OSError, ssl.SSLError):
            return
        finally:
            c.close()

    def close(self):
        self.stopping = True
        self.lsock.close()


def options_over(sock, port, call_id=None):
    sock.sendall(sip_request("OPTIONS", f"sip:127.0.0.1:{port}", transport="TLS", call_id=call_id))
    return parse_sip(tcp_read_message(sock, timeout=5))


def log_lines(s, needle, timeout=3.0):
    """The log lines holding needle, once there is one (the socket closes just before the line is written)."""
    wait_for(lambda: needle in s.log_text(), timeout)
    return [line for line in s.log_text().splitlines() if needle in line]


def record_routes(m):
    """The Record-Route entries of m in order, whether in one header or several."""
    return [v.strip() for h in m.all("Record-Route") for v in re.split(r",\s*(?=<)", h)]


def tls_module(**kw):
    m = {"name": "tls", "certificate": LIVE_CERT, "private_key": LIVE_KEY, "ca_file": pki.ca,
         "handshake_timeout": 1}
    m.update(kw)
    return m


# RFC 3263 over a dnsmasq on loopback (tm's dns_servers): NAPTR picks SIPS+D2T for naptr.example.test,
# SRV _sips._tcp serves srv.example.test; both lead to TLS servers whose certificate names the domain.
UAS_NAPTR, UAS_SRV = Uas(UAS_CERT, UAS_KEY), Uas(UAS_CERT, UAS_KEY)
DNS_PORT = free_port()
DNS_RECORDS = [
    "--local=/example.test/",
    "--host-record=t.example.test,127.0.0.1",
    "--naptr-record=naptr.example.test,10,50,S,SIPS+D2T,,_sips._tcp.naptr.example.test",
    "--naptr-record=naptr.example.test,20,10,S,SIP+D2U,,_sip._udp.naptr.example.test",
    f"--srv-host=_sips._tcp.naptr.example.test,t.example.test,{UAS_NAPTR.port},0,0",
    f"--srv-host=_sips._tcp.srv.example.test,t.example.test,{UAS_SRV.port},0,0",
]
dnsmasq = subprocess.Popen(["/usr/sbin/dnsmasq", "-k", "-p", str(DNS_PORT), "--listen-address=127.0.0.1",
                            "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--pid-file=",
                            "--log-facility=-"] + DNS_RECORDS, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
atexit.register(lambda: (dnsmasq.terminate(), dnsmasq.wait(5)))
UDP_PORT, TLS_PORT, TCP_PORT = free_port(), free_port("tcp"), free_port("tcp")
LISTEN = [f"udp:127.0.0.1:{UDP_PORT}", f"tcp:127.0.0.1:{TCP_PORT}", f"tls:127.0.0.1:{TLS_PORT}"]
MODULES = [{"name": "parser"}, {"name": "udp"},
           {"name": "tcp", "idle_timeout": IDLE, "max_connections_per_ip": 3000},
           tls_module(), {"name": "tm", "dns_servers": f"127.0.0.1:{DNS_PORT}"}]


def stat(s, name):
    return int(s.stats().get(name, 0))


with Sipd(run.build, modules=MODULES, routing=ROUTING, listen=LISTEN, port=UDP_PORT) as s:

    @run.case
    def options_answered_over_tls_and_listed():
        c = tls_connect(TLS_PORT, pki.ca, server_name="sipd.test")
        r = options_over(c, TLS_PORT)
        run.expect(r and r.status == 200, f"200 over TLS: {r and r.start}")
        run.expect(peer_cn(c) == "sipd.test", f"sipd presented its certificate: {peer_cn(c)}")
        conns = s.ctl("conns", "list")
        mine = [x for x in conns if x["proto"] == "tls" and x["peer"].endswith(f":{c.getsockname()[1]}")]
        run.expect(len(mine) == 1 and mine[0]["state"] == "open" and mine[0]["detail"].startswith("TLSv1.3"),
                   f"conns list shows the TLS connection: {conns}")
        run.expect(s.ctl("tcp", "list") == conns or len(s.ctl("tcp", "list")) == len(conns),
                   "tcp list is the same listing")
        c.close()

    @run.case
    def two_hundred_pipelined_requests_all_answered():
        c = tls_connect(TLS_PORT, pki.ca)
        c.sendall(b"".join(sip_request("OPTIONS", f"sip:127.0.0.1:{TLS_PORT}", transport="TLS", cseq=i + 1)
                           for i in range(200)))
        got, deadline = b"", time.time() + 10
        c.settimeout(1)
        while got.count(b"SIP/2.0 200 ") < 200 and time.time() < deadline:
            try:
                d = c.recv(65536)
            except socket.timeout:
                continue
            if not d:
                break
            got += d
        run.expect(got.count(b"SIP/2.0 200 ") == 200, f"answers: {got.count(b'SIP/2.0 200 ')}")
        c.close()

    @run.case
    def tls12_accepted_tls11_refused():
        ctx = client_context(pki.ca)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        c = tls_connect(TLS_PORT, pki.ca, ctx=ctx)
        run.expect(c.version() == "TLSv1.2", f"TLS 1.2 negotiated: {c.version()}")
        run.expect(options_over(c, TLS_PORT).status == 200, "served over TLS 1.2")
        c.close()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("ALL:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            return  # this Python cannot even offer TLS 1.1
        try:
            c = tls_connect(TLS_PORT, pki.ca, ctx=ctx)
            c.close()
            raise AssertionError("a TLS 1.1 handshake succeeded")
        except (ssl.SSLError, ConnectionResetError):
            pass

    @run.case
    def garbage_instead_of_a_handshake_is_logged_once_and_closed():
        before = stat(s, "tls.handshake_failed")
        c = socket.create_connection(("127.0.0.1", TLS_PORT), timeout=5)
        port = c.getsockname()[1]
        c.sendall(b"OPTIONS sip:x SIP/2.0\r\n\r\n")
        c.settimeout(3)
        try:
            run.expect(c.recv(100) == b"", "sipd closed the connection")
        except ConnectionResetError:
            pass
        c.close()
        run.expect(wait_for(lambda: stat(s, "tls.handshake_failed") == before + 1, 3), "tls.handshake_failed counted")
        lines = log_lines(s, f"127.0.0.1:{port} closed")
        run.expect(len(lines) == 1 and "tls handshake failed" in lines[0], f"one log line with the reason: {lines}")

    @run.case
    def stalled_handshake_closed_at_handshake_timeout_while_others_served():
        c = socket.create_connection(("127.0.0.1", TLS_PORT), timeout=5)
        port = c.getsockname()[1]
        t0 = time.time()
        ok = tls_connect(TLS_PORT, pki.ca)
        run.expect(options_over(ok, TLS_PORT).status == 200, "another client is served meanwhile")
        c.settimeout(4)
        try:
            run.expect(c.recv(100) == b"", "closed")
        except ConnectionResetError:
            pass
        took = time.time() - t0
        run.expect(0.8 <= took <= 2.5, f"closed after the 1 s handshake_timeout, not {took:.2f}s")
        lines = log_lines(s, f"127.0.0.1:{port} closed")
        run.expect(len(lines) == 1 and "handshake not done within 1000 ms" in lines[0], f"log: {lines}")
        run.expect(options_over(ok, TLS_PORT).status == 200, "the other client still served")
        ok.close()
        c.close()

    @run.case
    def naptr_picks_tls_with_sni_and_double_record_route():
        uas = UAS_NAPTR
        try:
            req = sip_request("INVITE", "sip:uas@naptr.example.test", via_port=5999)
            r = parse_sip(udp_request("127.0.0.1", UDP_PORT, req, timeout=5))
            run.expect(r and r.status == 200, f"200 relayed back over UDP: {r and r.start}\n{s.log_text()[-1500:]}")
            m = next(x for x in uas.requests if x.start.startswith("INVITE"))
            run.expect(m.get("Via").startswith("SIP/2.0/TLS 127.0.0.1:"), f"our Via says TLS: {m.get('Via')}")
            rr = record_routes(m)
            run.expect(rr[:2] == [f"<sip:127.0.0.1:{TLS_PORT};transport=tls;lr>", f"<sip:127.0.0.1:{UDP_PORT};lr>"],
                       f"two Record-Routes, TLS side first: {rr}")
            run.expect(uas.sni == ["naptr.example.test"], f"SNI carried the URI's domain (RFC 5922): {uas.sni}")
        finally:
            uas.close()

    @run.case
    def sips_uri_over_srv_gets_a_sips_record_route():
        uas = UAS_SRV
        try:
            req = sip_request("INVITE", "sips:uas@srv.example.test", via_port=5999)
            r = parse_sip(udp_request("127.0.0.1", UDP_PORT, req, timeout=5))
            run.expect(r and r.status == 200, f"200: {r and r.start}")
            m = next(x for x in uas.requests if x.start.startswith("INVITE"))
            rr = record_routes(m)
            run.expect(rr and rr[0] == f"<sips:127.0.0.1:{TLS_PORT};lr>", f"sips Record-Route on the TLS side: {rr}")
            run.expect(uas.sni == ["srv.example.test"], f"SNI: {uas.sni}")
        finally:
            uas.close()

    @run.case
    def relay_tls_to_tcp():
        uas = Uas()
        try:
            c = tls_connect(TLS_PORT, pki.ca)
            c.sendall(sip_request("INVITE", f"sip:uas@127.0.0.1:{uas.port};transport=tcp", transport="TLS"))
            r = None
            for _ in range(3):
                r = parse_sip(tcp_read_message(c, timeout=5))
                if not r or r.status >= 200:
                    break
            run.expect(r and r.status == 200, f"200 back over TLS: {r and r.start}")
            m = next(x for x in uas.requests if x.start.startswith("INVITE"))
            rr = record_routes(m)
            run.expect(rr[:2] == [f"<sip:127.0.0.1:{TCP_PORT};transport=tcp;lr>",
                                  f"<sip:127.0.0.1:{TLS_PORT};transport=tls;lr>"], f"two Record-Routes: {rr}")
            c.close()
        finally:
            uas.close()

    @run.case
    def verify_server_refuses_a_wrong_certificate_with_a_clear_log_line():
        uas = Uas(WRONG_CERT, WRONG_KEY)
        try:
            req = sip_request("OPTIONS", f"sip:uas@127.0.0.1:{uas.port};transport=tls", via_port=5999)
            r = parse_sip(udp_request("127.0.0.1", UDP_PORT, req, timeout=8))
            run.expect(r and r.status >= 400, f"the request fails: {r and r.start}")
            run.expect(not uas.requests, "nothing reached the server with the wrong certificate")
            lines = [l for l in s.log_text().splitlines() if f"to 127.0.0.1:{uas.port} closed" in l]
            run.expect(len(lines) == 1 and "certificate of 127.0.0.1 not accepted: IP address mismatch" in lines[0],
                       f"one clear line: {lines}")
        finally:
            uas.close()

    @run.case
    def reload_serves_the_new_certificate_and_keeps_open_connections():
        old = tls_connect(TLS_PORT, pki.ca)
        run.expect(peer_cn(old) == "sipd.test", "old certificate first")
        cert2, key2 = pki.issue("renewed", ["DNS:sipd.test", "IP:127.0.0.1"], cn="renewed.sipd.test")
        shutil.copy(cert2, LIVE_CERT)
        shutil.copy(key2, LIVE_KEY)
        res = s.ctl("tls", "reload")
        run.expect("renewed.sipd.test" in res["summary"], f"reload answers with the new subject: {res}")
        new = tls_connect(TLS_PORT, pki.ca)
        run.expect(peer_cn(new) == "renewed.sipd.test", f"new connections get the new certificate: {peer_cn(new)}")
        run.expect(options_over(old, TLS_PORT).status == 200, "the connection made before the reload still works")
        run.expect(options_over(new, TLS_PORT).status == 200, "and the new one")
        # A broken file is refused and the current certificate stays.
        with open(LIVE_KEY, "w") as f:
            f.write("garbage\n")
        p = s.ctl("tls", "reload", check=False)
        run.expect("private_key" in str(p) and "modules.conf:" in str(p), f"reload refused with file:line: {p}")
        third = tls_connect(TLS_PORT, pki.ca)
        run.expect(peer_cn(third) == "renewed.sipd.test", "still the renewed certificate")
        shutil.copy(key2, LIVE_KEY)
        for c in (old, new, third):
            c.close()

    @run.case
    def thousand_idle_tls_connections_held_then_closed_at_idle_timeout():
        raise_nofile(4096)
        closed_idle = stat(s, "tls.closed_idle")
        rss0 = rss_kib(s.proc.pid)
        conns = []
        ctx = client_context(pki.ca)
        # TLS 1.2 session resumption keeps the 1000 handshakes cheap for this Python client (and
        # exercises sipd's session cache); keep-alives keep the first connections from reaching
        # idle_timeout when the handshakes take long (a busy machine, ASan).
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        first = tls_connect(TLS_PORT, pki.ca, ctx=ctx)
        conns.append(first)
        t0 = last_ping = time.time()
        while len(conns) < 1000:
            raw = socket.create_connection(("127.0.0.1", TLS_PORT), timeout=30)
            conns.append(ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=first.session))
            if time.time() - last_ping > 1:
                for c in conns:
                    c.sendall(b"\r\n\r\n")
                last_ping = time.time()
        resumed = sum(1 for c in conns if c.session_reused)
        run.expect(resumed >= 990, f"sessions resumed: {resumed}")
        run.expect(len(conns) == 1000, f"1000 handshakes done: {len(conns)}")
        opened = time.time()
        rss1 = rss_kib(s.proc.pid)
        open_now = stat(s, "tls.connections_open")
        run.expect(open_now >= 1000, f"1000 TLS connections open: {open_now}")
        print(f"    1000 idle TLS connections: handshakes in {opened - t0:.1f}s, sipd RSS {rss0} -> {rss1} KiB "
              f"({(rss1 - rss0) * 1024 / 1000:.0f} bytes per connection)")
        fresh = tls_connect(TLS_PORT, pki.ca)
        run.expect(options_over(fresh, TLS_PORT).status == 200, "a new client is served with 1000 held")
        fresh.close()
        run.expect(wait_for(lambda: stat(s, "tls.closed_idle") >= closed_idle + 1000, IDLE + 6, 0.25),
                   f"all closed at idle_timeout: {stat(s, 'tls.closed_idle') - closed_idle}")
        conns[0].settimeout(1)
        got = b""
        try:
            while True:
                d = conns[0].recv(4096)
                if not d:
                    break
                got += d
        except (ConnectionResetError, ssl.SSLError):
            pass
        except socket.timeout:
            raise AssertionError("the client does not see the close")
        run.expect(got.strip(b"\r\n") == b"", f"only keep-alive pongs before the close: {got[:40]!r}")
        for c in conns:
            c.close()
        last = tls_connect(TLS_PORT, pki.ca)
        run.expect(options_over(last, TLS_PORT).status == 200, "served after the mass close")
        last.close()

# baresip (libre 1.1) as a TLS client: registration, calls crossing transports, a reload in the middle of a call.
with open(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "routing.cfg")) as f:
    DEFAULT_ROUTING = f.read()
T = 10
UAS = []


def ua(name, user, transport, port):
    u = Baresip(name, user, f"{user}-pw", port, transport, cafile=pki.ca if transport == "tls" else None)
    UAS.append(u)
    return u


def registered_ok(u):
    ev = u.wait_event(("REGISTER_OK", "REGISTER_FAIL"), T)
    run.expect(ev and ev["type"] == "REGISTER_OK", f"{u.name} registered: {ev}\n{u.output()[-1500:]}")


def call(s, a, b, port, reload=False):
    for u in (a, b):
        registered_ok(u)
    a.cmd("dial", f"sip:bob@127.0.0.1:{port}")
    for u in (a, b):
        ev = u.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), T)
        run.expect(ev and ev["type"] == "CALL_ESTABLISHED", f"{u.name}: call up: {ev}\n{u.output()[-1500:]}")
    if reload:
        res = s.ctl("tls", "reload")
        run.expect(res.get("summary"), f"reloaded: {res}")
    time.sleep(1)
    run.expect(not a.event("CALL_CLOSED") and not b.event("CALL_CLOSED"), "the call is still up")
    run.expect(len(s.ctl("sessions")["sessions"]) == 1, "sipd stays on the path (Record-Route)")
    a.cmd("hangup")
    run.expect(b.wait_event("CALL_CLOSED", T), "the BYE reached the callee through sipd")


if not shutil.which("baresip"):
    print("tls: baresip missing (apt-get install baresip-core): its cases are skipped and count as failed")
    run.failed += 1
else:
    BS_MODULES = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, tls_module(), {"name": "sanity"},
                  {"name": "maxfwd"}, {"name": "tm"}, {"name": "auth_db", "realm": "sipd", "algorithms": ["MD5"]},
                  {"name": "registrar", "min_expires": 60, "max_expires": 7200},
                  {"name": "session_timer", "policy": "supported"},
            # The default routing.cfg calls rtc_player's functions.
            {"name": "rtc_player", "bind_address": "127.0.0.1"}]
    UDP2, TCP2, TLS2 = free_port(), free_port("tcp"), free_port("tcp")
    try:
        with Sipd(run.build, modules=BS_MODULES, routing=DEFAULT_ROUTING, port=UDP2,
                  listen=[f"udp:127.0.0.1:{UDP2}", f"tcp:127.0.0.1:{TCP2}", f"tls:127.0.0.1:{TLS2}"]) as s2:
            for user in ("alice", "bob"):
                s2.ctl("users", "add", user, f"{user}-pw")

            @run.case
            def baresip_registers_over_tls():
                u = ua("carol-tls", "alice", "tls", TLS2)
                try:
                    registered_ok(u)
                    b = s2.ctl("registrations", "alice")
                    run.expect(len(b) == 1 and b[0]["transport"] == "tls", f"one tls binding: {b}")
                    run.expect(any(c["proto"] == "tls" and c["state"] == "open" for c in s2.ctl("conns", "list")),
                               "its connection is listed")
                finally:
                    u.close()
                    UAS.remove(u)

            @run.case
            def baresip_call_udp_to_tls_survives_a_reload():
                a, b = ua("alice-udp", "alice", "udp", UDP2), ua("bob-tls", "bob", "tls", TLS2)
                try:
                    call(s2, a, b, UDP2, reload=True)
                finally:
                    for u in (a, b):
                        u.close()
                        UAS.remove(u)

            @run.case
            def baresip_call_tls_to_tcp():
                a, b = ua("alice-tls", "alice", "tls", TLS2), ua("bob-tcp", "bob", "tcp", TCP2)
                try:
                    call(s2, a, b, TLS2)
                finally:
                    for u in (a, b):
                        u.close()
                        UAS.remove(u)
    finally:
        for u in UAS:
            u.close()


@run.case
def verify_client_required_refuses_a_client_without_certificate():
    port = free_port("tcp")
    mods = [{"name": "parser"}, {"name": "tcp"}, tls_module(verify_client="required")]
    with Sipd(run.build, modules=mods, listen=[f"tls:127.0.0.1:{port}"]) as v:
        try:
            c = tls_connect(port, pki.ca)
            # TLS 1.3: the server's refusal arrives after the client finished its side.
            c.sendall(sip_request("OPTIONS", f"sip:127.0.0.1:{port}", transport="TLS"))
            r = tcp_read_message(c, timeout=3)
            run.expect(r is None, f"served without a client certificate: {r!r}")
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass
        lines = log_lines(v, "closed: tls handshake failed")
        run.expect(len(lines) == 1 and "certificate" in lines[0], f"one line naming the missing certificate: {lines}")
        ctx = client_context(pki.ca)
        ctx.load_cert_chain(UAS_CERT, UAS_KEY)  # issued by the CA sipd trusts
        c = tls_connect(port, pki.ca, ctx=ctx)
        r = options_over(c, port)
        run.expect(r and r.status == 200, f"a client with a certificate is served: {r and r.start}")
        conns = v.ctl("conns", "list")
        run.expect(any("peer CN=uas.test" in x["detail"] for x in conns), f"the listing names the client: {conns}")
        c.close()


# Configuration errors stop the start with file:line.
@run.case
def missing_certificate_stops_the_start_with_file_and_line():
    bad = Sipd(run.build, modules=[{"name": "parser"}, {"name": "tcp"}, tls_module(certificate="/nonexistent.pem")],
               listen=[f"tls:127.0.0.1:{free_port('tcp')}"])
    try:
        bad.start()
        bad.stop()
        raise AssertionError("sipd started without its certificate")
    except RuntimeError as e:
        run.expect(re.search(r"modules\.conf:\d+: parameter 'certificate': cannot read /nonexistent\.pem", str(e)),
                   f"file:line in the error: {str(e)[-800:]}")


run.finish()
