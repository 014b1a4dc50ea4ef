"""Overload is neither silent nor contagious: kernel UDP drops are counted and reported, src_limit() keeps a
flooding address from taking the server, load_limit() answers 503 with Retry-After, and a legitimate client
registers and calls while another address floods."""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from overload import Client, Flood  # noqa: E402
from sipdtest import Sipd, TestRun, parse_sip, sip_request  # noqa: E402
from sipua import UA  # noqa: E402

run = TestRun("overload")

PROXY = """request_route {
	%s
	sanity();
	maxfwd(70);
	if (has_to_tag()) { loose_route(); relay(); exit; }
	if ($rm == "OPTIONS") { reply(200, "OK"); exit; }
	if ($rm == "REGISTER") { save(); exit; }
	if (!uri_is_myself()) { record_route(); relay(); exit; }
	reply(404, "Not Here");
}
"""


def modules(rl=None, udp=None, extra=()):
    return [{"name": "parser"}, dict({"name": "udp"}, **(udp or {})), {"name": "sanity"}, {"name": "maxfwd"},
            {"name": "tm", "t1": 200}, {"name": "registrar"}, dict({"name": "ratelimit"}, **(rl or {}))] + list(extra)


def stat(s, name):
    return int(s.stats().get(name, 0))


def udp_final(sock, data, port, timeout=2.0):
    """Sends request data; its final response (same Call-ID), or None."""
    call_id = parse_sip(data).get("Call-ID")
    sock.sendto(data, ("127.0.0.1", port))
    sock.settimeout(timeout)
    end = time.time() + timeout
    while time.time() < end:
        try:
            m = parse_sip(sock.recv(65535))
        except socket.timeout:
            return None
        if m and m.status and m.status >= 200 and m.get("Call-ID") == call_id:
            return m
    return None


def proc_drops(port):
    hexp = ":%04X" % port
    total = 0
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[1].endswith(hexp):
                    total += int(cols[-1])
    return total


@run.case
def kernel_drops_are_counted_and_reported_once_per_period():
    # One worker and the smallest receive buffer: a flood from two processes overflows it.
    with Sipd(run.build, modules=[{"name": "parser"}, {"name": "udp", "rcvbuf": 4096, "drop_log_interval": 60}],
              workers=1) as s:
        f = Flood(s.port, 1.5, procs=2)
        f.join()
        # A datagram read after the drops carries the kernel's count.
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        run.expect(udp_final(probe, sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}",
                                                via_port=probe.getsockname()[1]), s.port), "probe answered")
        counted, kernel = stat(s, "udp.rx_dropped_kernel"), proc_drops(s.port)
        run.expect(counted > 0, f"udp.rx_dropped_kernel counts the drops (kernel says {kernel})")
        run.expect(counted <= kernel, f"counted {counted} <= the kernel's {kernel}")
        reports = [ln for ln in s.log_text().splitlines() if "the kernel dropped" in ln]
        run.expect(len(reports) == 1, f"one warning per period, got {reports}")
        run.expect(f"udp:127.0.0.1:{s.port}" in reports[0], reports[0])


@run.case
def src_limit_drops_a_flooding_address_and_not_the_others():
    rl = {"src_rate": 20, "src_burst": 40, "log_interval": 60}
    with Sipd(run.build, modules=modules(rl), routing=PROXY % "src_limit();") as s:
        flooder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        flooder.bind(("127.0.0.2", 0))
        fport = flooder.getsockname()[1]
        for _ in range(400):
            flooder.sendto(sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}", via_host="127.0.0.2",
                                       via_port=fport), ("127.0.0.1", s.port))
        legit = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        legit.bind(("127.0.0.1", 0))
        lport = legit.getsockname()[1]
        for _ in range(10):
            r = udp_final(legit, sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}", via_port=lport), s.port)
            run.expect(r and r.status == 200, "the other address is answered")
        answered = 0
        flooder.settimeout(0.5)
        try:
            while True:
                flooder.recv(65535)
                answered += 1
        except socket.timeout:
            pass
        run.expect(40 <= answered < 120, f"the flooder got its burst and little more: {answered} answers")
        dropped = stat(s, "ratelimit.src_dropped")
        run.expect(dropped >= 400 - answered - 5, f"ratelimit.src_dropped {dropped}")
        reports = [ln for ln in s.log_text().splitlines() if "sends past src_rate" in ln]
        run.expect(len(reports) == 1 and "127.0.0.2" in reports[0], f"one report naming the source: {reports}")


@run.case
def src_limit_reply_answers_503_with_retry_after():
    rl = {"src_rate": 1, "src_burst": 2, "src_action": "reply", "retry_after": 7}
    with Sipd(run.build, modules=modules(rl), routing=PROXY % "src_limit();") as s:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.2", 0))
        port = sock.getsockname()[1]
        got = [udp_final(sock, sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}", via_host="127.0.0.2",
                                           via_port=port), s.port) for _ in range(4)]
        run.expect([m.status for m in got] == [200, 200, 503, 503], f"{[m and m.status for m in got]}")
        run.expect(got[2].get("Retry-After") == "7", f"Retry-After {got[2].get('Retry-After')}")
        run.expect(stat(s, "ratelimit.src_rejected") == 2, "counted")


@run.case
def load_limit_turns_new_requests_away_and_lets_dialogs_finish():
    rl = {"load_rate": 20, "retry_after": 3, "log_interval": 60}
    with Sipd(run.build, modules=modules(rl), routing=PROXY % "load_limit();") as s:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        # 45 in a burst: however a second boundary splits them, one side is past 20.
        for _ in range(45):
            sock.sendto(sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}", via_port=port), ("127.0.0.1", s.port))
        statuses, retry = [], None
        sock.settimeout(1.0)
        try:
            while len(statuses) < 45:
                m = parse_sip(sock.recv(65535))
                statuses.append(m.status)
                if m.status == 503:
                    retry = m.get("Retry-After")
        except socket.timeout:
            pass
        run.expect(statuses.count(503) >= 1, f"past 20/s some are answered 503: {statuses}")
        run.expect(retry == "3", f"Retry-After {retry}")
        # Inside a dialog (To tag) the request goes on even now.
        for _ in range(45):
            sock.sendto(sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}", via_port=port), ("127.0.0.1", s.port))
        bob = UA("bob")
        m = udp_final(sock, sip_request("BYE", bob.uri(), via_port=port, to="<sip:bob@x>;tag=t1"), s.port)
        bob.close()
        run.expect(m and m.status != 503, f"in-dialog request not turned away: {m and m.status}")
        run.expect(stat(s, "ratelimit.load_rejected") >= 1, "counted")
        run.expect(any("overloaded" in ln for ln in s.log_text().splitlines()), "reported")


@run.case
def legitimate_client_gets_through_a_flood():
    """Shortened flood.py: one process floods from 127.0.0.2 at 3 000 INVITEs/s (15 times src_rate;
    paced so that a sanitizer build on a busy machine still reads most of what arrives: flood.py floods
    at full speed) while 127.0.0.1 registers and calls for 10 s, or until it did 10 operations (30 s at
    most: under ASan on a loaded machine each one may wait seconds behind the queued flood); at least
    99 % must succeed."""
    rl = {"src_rate": 200, "src_burst": 400}
    with Sipd(run.build, modules=modules(rl), routing=PROXY % "src_limit();\n\tload_limit();") as s:
        bob = UA("bob")
        client = Client(s.port)
        f = Flood(s.port, 40, procs=1, rate=3000)
        time.sleep(0.5)
        start = time.time()
        i = 0
        while time.time() < start + 30 and (time.time() < start + 10 or 2 * i < 10):
            client.register(f"legit{i}")
            client.call(bob.uri())
            i += 1
        sent, secs = f.stop()
        bob.close()
        total = sum(client.ok.values()) + sum(client.failed.values())
        rate = sum(client.ok.values()) / max(1, total)
        print(f"    flood: {sent} datagrams from 127.0.0.2 ({sent / secs:.0f}/s), dropped by src_limit "
              f"{stat(s, 'ratelimit.src_dropped')}, kernel drops {stat(s, 'udp.rx_dropped_kernel')}; legit "
              f"{client.ok} ok, {client.failed} failed: {100 * rate:.1f} %", flush=True)
        run.expect(total >= 10, f"enough legitimate traffic: {total}")
        run.expect(rate >= 0.99, f"legitimate success {100 * rate:.1f} % (statuses {client.statuses[-20:]})")


run.finish()
