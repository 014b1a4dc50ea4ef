"""tm's RFC 3263 next-hop resolution end to end: a dnsmasq on loopback serves A, SRV and NAPTR
records of example.test (tm's dns_servers points at it), callees listen where the records say,
and the test checks where each relayed request arrives, the answers to names that do not
resolve, and that a cached name is not asked again."""

import os
import re
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun, free_port, parse_sip, sip_request, tcp_read_message  # noqa: E402

DNSMASQ = "/usr/sbin/dnsmasq"
run = TestRun("tm_dns")

DNS_PORT = free_port()
A_PORT = free_port()        # (a) explicit port, A record only
SRV_PORT = free_port()      # (b) the priority-10 SRV target
SRV_HI_PORT = free_port()   # (b) the priority-20 SRV target: never used while 10 is there
NAPTR_TCP = free_port()     # (c) SIP+D2T (order 10) -> _sip._tcp SRV
NAPTR_UDP = free_port()     # (c) SIP+D2U (order 20) -> _sip._udp SRV: loses
FO_503 = free_port()        # (e) priority 10: answers 503
FO_OK = free_port()         # (e) priority 20: answers 200
FO_DEAD = free_port()       # (f) priority 10 over TCP: nobody listens (connection refused)
FO_TCP = free_port()        # (f) priority 20 over TCP: answers 200
BLACKHOLE = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a DNS server that never answers
BLACKHOLE.bind(("127.0.0.1", 0))

RECORDS = [
    "--local=/example.test/",  # authoritative: other names in example.test are NXDOMAIN at once
    "--host-record=a.example.test,127.0.0.1",
    "--host-record=t.example.test,127.0.0.1",
    f"--srv-host=_sip._udp.srv.example.test,t.example.test,{SRV_PORT},10,5",
    f"--srv-host=_sip._udp.srv.example.test,t.example.test,{SRV_HI_PORT},20,100",
    "--naptr-record=naptr.example.test,10,50,S,SIP+D2T,,_sip._tcp.naptr.example.test",
    "--naptr-record=naptr.example.test,20,10,S,SIP+D2U,,_sip._udp.naptr.example.test",
    f"--srv-host=_sip._tcp.naptr.example.test,t.example.test,{NAPTR_TCP},0,0",
    f"--srv-host=_sip._udp.naptr.example.test,t.example.test,{NAPTR_UDP},0,0",
    f"--srv-host=_sip._udp.fo.example.test,t.example.test,{FO_503},10,5",
    f"--srv-host=_sip._udp.fo.example.test,t.example.test,{FO_OK},20,5",
    f"--srv-host=_sip._tcp.fotcp.example.test,t.example.test,{FO_DEAD},10,5",
    f"--srv-host=_sip._tcp.fotcp.example.test,t.example.test,{FO_TCP},20,5",
    f"--server=/slow.example.test/127.0.0.1#{BLACKHOLE.getsockname()[1]}",
]

ROUTING = """request_route {
	if ($hdr(X-Branch) != "") { append_branch("$hdr(X-Branch)"); relay(); exit; }
	if ($hdr(X-Target) != "") { $ru = "$hdr(X-Target)"; relay(); exit; }
	reply(200, "OK");
}
"""


def dns_ready(port, timeout=3.0):
    """True once the server answers an A query (for a name no case uses)."""
    q = struct.pack(">HHHHHH", 0x5d1d, 0x0100, 1, 0, 0, 0) + b"\x05ready\x07example\x04test\x00" + \
        struct.pack(">HH", 1, 1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", port))
            if s.recv(512)[:2] == q[:2]:
                return True
        except OSError:
            time.sleep(0.05)
        finally:
            s.close()
    return False


class Caller:
    """A UDP client of sipd: sends one request, collects responses."""

    def __init__(self, sipd_port, headers, method="OPTIONS"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.raw = sip_request(method, f"sip:bob@127.0.0.1:{sipd_port}", via_port=self.sock.getsockname()[1],
                               headers=headers)
        self.sent = time.time()
        self.sock.sendto(self.raw, ("127.0.0.1", sipd_port))

    def final(self, timeout):
        deadline = self.sent + timeout
        while time.time() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            try:
                m = parse_sip(self.sock.recvfrom(65535)[0])
            except socket.timeout:
                break
            if m and m.status and m.status >= 200:
                return m
        return None

    def close(self):
        self.sock.close()


def answer(req, status=200, reason="OK"):
    """A response to req (every Via, a To tag)."""
    lines = [f"SIP/2.0 {status} {reason}"]
    for n, v in req.headers:
        ln = n.lower()
        if ln in ("via", "v", "from", "f", "call-id", "i", "cseq"):
            lines.append(f"{n}: {v}")
        elif ln in ("to", "t"):
            lines.append(f"{n}: {v}" + ("" if "tag=" in v else ";tag=callee"))
    return ("\r\n".join(lines + ["Content-Length: 0"]) + "\r\n\r\n").encode()


def udp_callee(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    return s


def udp_receive(sock, timeout):
    """The request that arrives on sock (answered 200), or None."""
    sock.settimeout(timeout)
    try:
        data, addr = sock.recvfrom(65535)
    except socket.timeout:
        return None
    m = parse_sip(data)
    sock.sendto(answer(m), addr)
    return m


def relay_udp(s, header, port, quiet=()):
    """Relays via header to a UDP callee on port; checks it got the request and the caller the 200;
    the sockets on the ports in quiet must get nothing."""
    callee = udp_callee(port)
    others = [udp_callee(p) for p in quiet]
    c = Caller(s.port, [header])
    try:
        req = udp_receive(callee, 3)
        run.expect(req is not None, f"nothing arrived on UDP port {port}")
        run.expect(req.get("Via", "").startswith("SIP/2.0/UDP"), f"top Via {req.get('Via')}")
        fin = c.final(3)
        run.expect(fin is not None and fin.status == 200, f"caller got {fin and fin.start}")
        for o, p in zip(others, quiet):
            run.expect(udp_receive(o, 0.05) is None, f"port {p} got the request too")
        return time.time() - c.sent
    finally:
        c.close()
        callee.close()
        for o in others:
            o.close()


def dns_log(path):
    with open(path, errors="replace") as f:
        return f.read()


def queries(path, qtype, name):
    return len(re.findall(rf"query\[{qtype}\] {re.escape(name)} from", dns_log(path)))


def run_with_dnsmasq(log_path):
    mods = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"},
            {"name": "tm", "t1": 100, "t2": 400, "t4": 500, "timer_c": 1500,
             "dns_servers": f"127.0.0.1:{DNS_PORT}"}]
    with Sipd(run.build, modules=mods, routing=ROUTING,
              listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]) as s:

        @run.case
        def a_record_explicit_port():
            relay_udp(s, f"X-Target: sip:alice@a.example.test:{A_PORT}", A_PORT)
            # 4.2: an explicit port means no NAPTR and no SRV, only the address.
            log = dns_log(log_path)
            run.expect("query[A] a.example.test" in log, "no A query for a.example.test")
            run.expect("query[NAPTR] a.example.test" not in log and "_sip._udp.a.example.test" not in log,
                       "NAPTR or SRV asked although the URI has a port")

        @run.case
        def srv_lowest_priority():
            relay_udp(s, "X-Target: sip:bob@srv.example.test", SRV_PORT, quiet=[SRV_HI_PORT])
            run.expect(queries(log_path, "SRV", "_sip._udp.srv.example.test") == 1, "SRV not asked once")

        @run.case
        def cached_name_not_asked_again():
            before = {t: queries(log_path, t, n) for t, n in (("NAPTR", "srv.example.test"),
                                                              ("SRV", "_sip._udp.srv.example.test"),
                                                              ("A", "t.example.test"))}
            relay_udp(s, "X-Branch: sip:carol@srv.example.test", SRV_PORT, quiet=[SRV_HI_PORT])
            time.sleep(0.2)
            after = {t: queries(log_path, t, n) for t, n in (("NAPTR", "srv.example.test"),
                                                             ("SRV", "_sip._udp.srv.example.test"),
                                                             ("A", "t.example.test"))}
            run.expect(before == after and before["SRV"] == 1, f"queries before {before}, after {after}")

        @run.case
        def a_503_fails_over_to_the_next_srv_target():
            first, second = udp_callee(FO_503), udp_callee(FO_OK)
            c = Caller(s.port, ["X-Target: sip:bob@fo.example.test"])
            try:
                first.settimeout(3)
                data, addr = first.recvfrom(65535)
                req = parse_sip(data)
                first.sendto(answer(req, 503, "Service Unavailable"), addr)
                again = udp_receive(second, 3)
                run.expect(again is not None, "the priority-20 target got nothing after the 503")
                run.expect(again.get("Via").split("branch=")[1] != req.get("Via").split("branch=")[1],
                           "a new branch for the new target")
                fin = c.final(3)
                run.expect(fin is not None and fin.status == 200, f"caller got {fin and fin.start}")
            finally:
                c.close()
                first.close()
                second.close()

        @run.case
        def a_refused_connection_fails_over_to_the_next_srv_target():
            lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind(("127.0.0.1", FO_TCP))
            lsock.listen(4)
            lsock.settimeout(3)
            c = Caller(s.port, ["X-Target: sip:bob@fotcp.example.test;transport=tcp"])
            conn = None
            try:
                conn, _ = lsock.accept()
                req = parse_sip(tcp_read_message(conn, 3))
                run.expect(req is not None and req.start.startswith("OPTIONS "), "nothing on the second target")
                conn.sendall(answer(req))
                fin = c.final(3)
                run.expect(fin is not None and fin.status == 200, f"caller got {fin and fin.start}")
            finally:
                c.close()
                if conn:
                    conn.close()
                lsock.close()

        @run.case
        def naptr_selects_tcp():
            lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind(("127.0.0.1", NAPTR_TCP))
            lsock.listen(4)
            lsock.settimeout(3)
            udp = udp_callee(NAPTR_UDP)
            c = Caller(s.port, ["X-Target: sip:dave@naptr.example.test"])
            conn = None
            try:
                conn, _ = lsock.accept()
                raw = tcp_read_message(conn, 3)
                req = parse_sip(raw)
                run.expect(req is not None and req.start.startswith("OPTIONS sip:dave@naptr.example.test"),
                           f"over TCP: {req and req.start}")
                run.expect(req.get("Via", "").startswith("SIP/2.0/TCP"), f"top Via {req.get('Via')}")
                conn.sendall(answer(req))
                fin = c.final(3)
                run.expect(fin is not None and fin.status == 200, f"caller got {fin and fin.start}")
                run.expect(udp_receive(udp, 0.05) is None, "the order-20 UDP record was used too")
            finally:
                c.close()
                if conn:
                    conn.close()
                lsock.close()
                udp.close()

        @run.case
        def unknown_name_fails_fast():
            c = Caller(s.port, ["X-Target: sip:erin@nx.example.test"], method="INVITE")
            try:
                fin = c.final(2)
                run.expect(fin is not None and fin.status == 404, f"caller got {fin and fin.start}")
                run.expect(fin.reason == "Unresolvable Destination", f"reason {fin.reason!r}")
                run.expect(time.time() - c.sent < 1.0, f"took {time.time() - c.sent:.2f}s")
                # NXDOMAIN for the name itself ends the lookup: no SRV or A query after the NAPTR.
                log = dns_log(log_path)
                run.expect("query[NAPTR] nx.example.test" in log and "_sip._udp.nx.example.test" not in log
                           and "query[A] nx.example.test" not in log, "queries went on after NXDOMAIN")
            finally:
                c.close()

        @run.case
        def silent_dns_server_fails_without_blocking():
            c = Caller(s.port, ["X-Target: sip:frank@slow.example.test"], method="INVITE")
            try:
                # Meanwhile sipd answers what needs no DNS, at once.
                t0 = time.time()
                opt = Caller(s.port, [])
                own = opt.final(1)
                opt.close()
                run.expect(own is not None and own.status == 200 and time.time() - t0 < 0.5,
                           f"OPTIONS to sipd during the lookup: {own and own.start}")
                fin = c.final(8)
                took = time.time() - c.sent
                run.expect(fin is not None and fin.status == 504, f"caller got {fin and fin.start}")
                run.expect(fin.reason == "DNS Server Failure", f"reason {fin.reason!r}")
                run.expect(2.0 < took < 6.0, f"gave up after {took:.2f}s (1 s + 2 s expected)")
            finally:
                c.close()


@run.case
def bad_dns_servers_refused():
    mods = [{"name": "parser"}, {"name": "udp"}, {"name": "tm", "dns_servers": "127.0.0.1:53,dns.example:53"}]
    try:
        with Sipd(run.build, modules=mods, routing=ROUTING, check_exit=False):
            pass
    except RuntimeError as e:
        msg = str(e)
        run.expect("exited" in msg and '"dns.example:53"' in msg and "dns_servers" in msg,
                   f"unclear error: {msg[-600:]}")
        return
    run.expect(False, "sipd started with dns_servers naming a host name")


log_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"tm-dns-{os.getpid()}.log")
with open(log_path, "wb") as logf:
    dnsmasq = subprocess.Popen([DNSMASQ, "-k", "-p", str(DNS_PORT), "--listen-address=127.0.0.1",
                                "--bind-interfaces", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                                "--pid-file=", "--log-queries", "--log-facility=-"] + RECORDS,
                               stdout=logf, stderr=subprocess.STDOUT)
try:
    if dns_ready(DNS_PORT):
        run_with_dnsmasq(log_path)
    else:
        @run.case
        def dnsmasq_started():
            run.expect(False, f"dnsmasq did not answer:\n{dns_log(log_path)[-2000:]}")
finally:
    dnsmasq.terminate()
    try:
        dnsmasq.wait(5)
    except subprocess.TimeoutExpired:
        dnsmasq.kill()
        dnsmasq.wait()
    BLACKHOLE.close()
    if run.failed:
        print(dns_log(log_path)[-3000:])
    os.unlink(log_path)
run.finish()
