"""Memory per idle WebSocket connection, ws and wss: sipd's RSS before and after N idle connections.

Usage: python3 tests/bench/ws_memory.py BUILD_DIR [N] [ws|wss|both]   (default 500, both)
Prints e.g. "500 idle wss connections: RSS 10164 -> 15280 KiB, 10.2 KiB per connection".
The connections are made by this process (wsclient.py, TLS by Python's ssl); the kernel's socket
buffers are not in sipd's RSS.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
from sipdtest import Sipd, free_port, proc_status  # noqa: E402
from wsclient import WsClient  # noqa: E402


def measure(build, n, proto, cert, key):
    port = free_port("tcp")
    mods = [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"},
            {"name": "tls", "certificate": cert, "private_key": key},
            {"name": "ws", "max_connections": n + 50, "max_connections_per_ip": n + 50}]
    with Sipd(build, modules=mods, listen=["udp:127.0.0.1:{port}", f"{proto}:127.0.0.1:{port}"]) as s:
        # One connection first: the one-time costs (OpenSSL's tables, the first buffers) are not per connection.
        warm = WsClient(port, origin="http://127.0.0.1:8080", tls=proto == "wss")
        time.sleep(1)
        r0 = proc_status(s.proc.pid, "VmRSS")
        conns = [WsClient(port, origin="http://127.0.0.1:8080", tls=proto == "wss") for _ in range(n)]
        time.sleep(2)
        r1 = proc_status(s.proc.pid, "VmRSS")
        open_now = len(s.ctl("ws", "list"))
        print(f"{n} idle {proto} connections: RSS {r0} -> {r1} KiB, {(r1 - r0) * 1024 / n / 1024:.1f} KiB per "
              f"connection ({open_now} listed, {proc_status(s.proc.pid, 'Threads')} threads)", flush=True)
        for c in conns + [warm]:
            c.close()


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    which = sys.argv[3] if len(sys.argv) > 3 else "both"
    d = tempfile.mkdtemp(prefix="ws-mem-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    try:
        for proto in (("ws", "wss") if which == "both" else (which,)):
            measure(build, n, proto, cert, key)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
