"""Memory per session_timer dialog: RSS of sipd before and after N calls answered 200 (with our
Record-Route) and never ended, once tm's transactions are gone, so only the dialogs remain.
Usage: python3 tests/bench/st_memory.py BUILD_DIR [N]   (prints bytes per live dialog)"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sipdtest import Sipd, rss_kib  # noqa: E402


class Callee(threading.Thread):
    """Answers every INVITE 200 with the Record-Route copied, as fast as Python can."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.answered = 0
        self.stop = False
        self.start()

    def run(self):
        keep = (b"via:", b"v:", b"from:", b"f:", b"call-id:", b"i:", b"cseq:", b"record-route:")
        while not self.stop:
            try:
                data, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            if not data.startswith(b"INVITE"):
                continue
            out = [b"SIP/2.0 200 OK"]
            for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
                low = line[:14].lower()
                if low.startswith(keep):
                    out.append(line)
                elif low.startswith((b"to:", b"t:")):
                    out.append(line + b";tag=b")
            out.append(b"Contact: <sip:callee@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n" % self.port)
            self.sock.sendto(b"\r\n".join(out), addr)
            self.answered += 1


def calls(caller, sipd_port, callee_port, start, n):
    for i in range(start, start + n):
        caller.sendto((
            f"INVITE sip:u{i}@127.0.0.1:{sipd_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{caller.getsockname()[1]};branch=z9hG4bKm{i};rport\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:caller{i}@example.com>;tag=a{i}\r\n"
            f"To: <sip:u{i}@example.com>\r\nCall-ID: mem-{i}@bench\r\nCSeq: 1 INVITE\r\n"
            f"Contact: <sip:caller@127.0.0.1:{caller.getsockname()[1]}>\r\nSupported: timer\r\n"
            f"Session-Expires: 1800\r\nX-UA: {callee_port}\r\nContent-Length: 0\r\n\r\n").encode(),
            ("127.0.0.1", sipd_port))
        if i % 200 == 0:
            time.sleep(0.03)  # sipd and the Python callee keep up: every call must become a dialog


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 100000
    callee = Callee()
    routing = ('request_route { maxfwd(70); if (is_method("INVITE|UPDATE")) { session_timer_check(); }\n'
               '  $ru = "sip:$rU@127.0.0.1:$hdr(X-UA)"; record_route(); relay(); }\n')
    mods = [{"name": "parser"}, {"name": "udp"}, {"name": "maxfwd"}, {"name": "tm", "t1": 10, "t2": 40, "t4": 50},
            {"name": "session_timer", "buckets": 131072}]
    with Sipd(build, modules=mods, routing=routing, log_level="error") as s:
        caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        caller.bind(("127.0.0.1", 0))
        caller.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        drain = threading.Thread(target=lambda: [caller.recv(65535) for _ in iter(int, 1)], daemon=True)
        drain.start()
        # A first batch warms up the allocator and tm's table; it is not counted.
        calls(caller, s.port, callee.port, 0, 2000)
        while s.ctl("tm.stats")["current"] > 0:
            time.sleep(0.5)
        base = s.ctl("sessions.stats")["active"]
        before = rss_kib(s.proc.pid)
        t0 = time.time()
        calls(caller, s.port, callee.port, 2000, n)
        took = time.time() - t0
        while s.ctl("tm.stats")["current"] > 0:
            time.sleep(0.5)
        after = rss_kib(s.proc.pid)
        st = s.ctl("sessions.stats")
        live = st["active"] - base
        print(f"{live} live dialogs (of {n} calls in {took:.1f}s), RSS {before} KiB -> {after} KiB: "
              f"{(after - before) * 1024 / max(live, 1):.0f} bytes of RSS per dialog (tm's freed transactions "
              f"included); heap held by dialogs {st['dialog_bytes'] / max(st['active'], 1):.0f} bytes each")
        callee.stop = True


main()
