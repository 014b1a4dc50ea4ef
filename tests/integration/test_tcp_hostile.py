"""Hostile TCP peers against the real sipd (what test_tcp.py does not cover): a connection flood from one
address while another keeps being served, the global connection cap and its recovery, connection churn
without fd leaks, silent connections, and half-open peers (FIN in the middle of a message). Other loopback
addresses (127.0.0.x) play the other hosts."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sipdtest import Sipd, TestRun, free_port, parse_sip, sip_request, tcp_read_message, wait_until  # noqa: E402

run = TestRun("tcp_hostile")
ROUTING = 'request_route { reply(200, "OK"); }\n'


def sipd(**tcp):
    port = free_port()
    m = {"name": "tcp"}
    m.update(tcp)
    return Sipd(run.build, modules=[{"name": "parser"}, m], routing=ROUTING, listen=["tcp:127.0.0.1:{port}"],
                port=port)


def connect(port, source="127.0.0.1", timeout=3.0):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.bind((source, 0))
    c.settimeout(timeout)
    c.connect(("127.0.0.1", port))
    return c


def options(port, source="127.0.0.1"):
    return sip_request("OPTIONS", f"sip:127.0.0.1:{port}", via_host=source, transport="TCP")


def ask(port, source="127.0.0.1"):
    """One OPTIONS on a new connection; True when answered 200."""
    try:
        c = connect(port, source, 2)
    except OSError:
        return False
    try:
        c.sendall(options(port, source))
        r = parse_sip(tcp_read_message(c, 2))
        return bool(r and r.status == 200)
    except OSError:
        return False
    finally:
        c.close()


def closed(c, timeout):
    """True if the peer closes c (EOF or reset) within timeout."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        c.settimeout(max(0.05, deadline - time.time()))
        try:
            if c.recv(65536) == b"":
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def stat(s, name):
    return int(s.stats().get(name, 0))


def fds(s):
    return len(os.listdir(f"/proc/{s.proc.pid}/fd"))


with sipd(max_connections_per_ip=40, max_connections=400, idle_timeout=3, read_timeout=3) as s:

    @run.case
    def flood_from_one_address_while_another_is_served():
        base_fds = fds(s)
        stop = threading.Event()
        results = []

        def legit():
            while not stop.is_set():
                results.append(ask(s.port, "127.0.0.1"))
                time.sleep(0.02)

        t = threading.Thread(target=legit)
        t.start()
        held, refused = [], 0
        t0 = time.time()
        # Connect-and-hold as fast as we can, far past the per-address cap, then churn.
        for _ in range(200):
            try:
                held.append(connect(s.port, "127.0.0.2", 1))
            except OSError:
                refused += 1
        churned = 0
        while time.time() - t0 < 2.5:
            try:
                connect(s.port, "127.0.0.2", 1).close()
            except OSError:
                refused += 1
            churned += 1
        flood_time = time.time() - t0
        time.sleep(0.5)
        stop.set()
        t.join()
        ok = sum(results)
        run.expect(results and ok / len(results) >= 0.99,
                   f"legitimate requests during the flood: {ok}/{len(results)}")
        run.expect(stat(s, "tcp.rejected_limit") >= 150, f"flood connections refused: {s.stats()}")
        open_now = stat(s, "tcp.connections_open")
        run.expect(open_now <= 41, f"at most the per-address cap stays open: {open_now}")
        for c in held:
            c.close()
        run.expect(wait_until(lambda: stat(s, "tcp.connections_open") == 0, 5),
                   f"all closed: {stat(s, 'tcp.connections_open')}")
        run.expect(wait_until(lambda: fds(s) <= base_fds, 3), f"no fd leaked: {base_fds} -> {fds(s)}")
        print(f"    {len(held) + churned} flood connects in {flood_time:.1f}s, {len(results)} legitimate "
              f"OPTIONS, {ok} answered", flush=True)

    @run.case
    def silent_connections_are_closed_after_idle_timeout():
        before = stat(s, "tcp.closed_idle")
        silent = [connect(s.port, "127.0.0.3") for _ in range(20)]
        t0 = time.time()
        run.expect(all(closed(c, 6) for c in silent), "every silent connection closed")
        took = time.time() - t0
        run.expect(2 <= took <= 5.5, f"after about idle_timeout (3 s): {took:.1f}s")
        run.expect(stat(s, "tcp.closed_idle") >= before + 20, "counted as idle")
        for c in silent:
            c.close()

    @run.case
    def half_open_peer_fin_inside_a_message():
        # The peer sends half a request, then FIN: the rest can never come.
        c = connect(s.port, "127.0.0.4")
        c.sendall(options(s.port, "127.0.0.4")[:60])
        c.shutdown(socket.SHUT_WR)
        t0 = time.time()
        run.expect(closed(c, 5), "sipd closes its side")
        took = time.time() - t0
        run.expect(took < 1.0, f"at the FIN, not after read_timeout (3 s): {took:.2f}s")
        c.close()
        run.expect(ask(s.port, "127.0.0.4"), "the address is served again")

    @run.case
    def half_open_peer_vanished_without_fin():
        # A peer that died mid-message (no FIN ever comes): read_timeout frees the connection.
        before = stat(s, "tcp.closed_read_timeout")
        c = connect(s.port, "127.0.0.5")
        c.sendall(options(s.port, "127.0.0.5")[:60])
        run.expect(closed(c, 6), "closed")
        run.expect(stat(s, "tcp.closed_read_timeout") == before + 1, "counted as read timeout")
        c.close()

    @run.case
    def per_address_cap_frees_up_and_spares_other_addresses():
        held = [connect(s.port, "127.0.0.6") for _ in range(40)]
        run.expect(wait_until(lambda: stat(s, "tcp.connections_open") >= 40, 3), "40 held")
        extra = connect(s.port, "127.0.0.6")
        run.expect(closed(extra, 3), "the 41st from that address is closed")
        run.expect(ask(s.port, "127.0.0.7"), "another address is served")
        held.pop().close()
        run.expect(wait_until(lambda: stat(s, "tcp.connections_open") < 40, 3), "one closed")
        run.expect(ask(s.port, "127.0.0.6"), "a freed slot is usable again")
        for c in held + [extra]:
            c.close()

with sipd(max_connections_per_ip=1000, max_connections=50, idle_timeout=30) as s:

    @run.case
    def global_cap_refuses_then_recovers():
        held = []
        for i in range(60):
            try:
                held.append(connect(s.port, f"127.0.1.{i % 5 + 1}", 1))
            except OSError:
                pass
        run.expect(wait_until(lambda: stat(s, "tcp.connections_open") == 50, 3),
                   f"open at the cap: {stat(s, 'tcp.connections_open')}")
        run.expect(stat(s, "tcp.rejected_limit") >= 10, f"past the cap refused: {s.stats()}")
        run.expect(not ask(s.port, "127.0.0.8"), "a new connection is refused at the global cap")
        for c in held:
            c.close()
        run.expect(wait_until(lambda: stat(s, "tcp.connections_open") == 0, 5), "flood gone")
        run.expect(ask(s.port, "127.0.0.8"), "served again once the flood is gone")

run.finish()
