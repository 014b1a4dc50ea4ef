"""Memory per idle WebSocket connection: sipd's RSS before and after N idle ws connections.

Usage: python3 tests/bench/ws_memory.py BUILD_DIR [N]   (default N = 200)
Prints e.g. "200 idle ws connections: RSS 10164 -> 15280 KiB, 25.6 KiB per connection".
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
from sipdtest import Sipd, free_port  # noqa: E402
from wsclient import WsClient  # noqa: E402


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    port = free_port("tcp")
    mods = [{"name": "parser"}, {"name": "udp"},
            {"name": "ws", "max_connections": n + 50, "max_connections_per_ip": n + 50}]
    with Sipd(build, modules=mods, listen=["udp:127.0.0.1:{port}", f"ws:127.0.0.1:{port}"]) as s:
        time.sleep(1)
        r0 = status(s.proc.pid, "VmRSS")
        conns = [WsClient(port, origin="http://127.0.0.1:8080") for _ in range(n)]
        time.sleep(2)
        r1 = status(s.proc.pid, "VmRSS")
        print(f"{n} idle ws connections: RSS {r0} -> {r1} KiB, {(r1 - r0) / n:.1f} KiB per connection "
              f"({status(s.proc.pid, 'Threads')} threads: civetweb keeps max_connections + 4)")
        for c in conns:
            c.close()


if __name__ == "__main__":
    main()
