"""Latency of GET /api/users with many users (p50/p99), and of a few other API reads.

Usage: python3 tests/bench/webadmin_users.py [BUILD_DIR] [USERS] [REQUESTS]
(defaults: build-bench if it exists else build, 10000 users, 300 requests per measure).
The users are written straight into the database before sipd starts (auth_db loads them at start):
the measure is the API's, not the time to create them one by one.
"""

import http.client
import os
import sqlite3
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from sipdtest import ROOT, Sipd, free_port  # noqa: E402
from webclient import WebClient  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else (
    os.path.join(ROOT, "build-bench") if os.path.isdir(os.path.join(ROOT, "build-bench")) else os.path.join(ROOT, "build"))
n_users = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
n_req = int(sys.argv[3]) if len(sys.argv) > 3 else 300
http_port = free_port("tcp")
modules = [{"name": "parser"}, {"name": "udp"}, {"name": "auth_db", "realm": "sipd"},
           {"name": "webadmin", "listen": [f"127.0.0.1:{http_port}"], "bootstrap_admin": False}]


def fill(db):
    con = sqlite3.connect(db)
    now = int(time.time())
    con.executemany("INSERT INTO users(username, realm, ha1_md5, ha1_sha256, enabled, created, updated) "
                    "VALUES(?, 'sipd', ?, ?, 1, ?, ?)",
                    ((f"user{i:05d}", "0" * 32, "0" * 64, now, now) for i in range(n_users)))
    con.commit()
    con.close()


def measure(web, path):
    """Milliseconds per request over one keep-alive connection: (p50, p99, bytes of one answer)."""
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
    hdrs = {"Cookie": f"sipd_session={web.cookie}"}
    times, size = [], 0
    for _ in range(n_req):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=hdrs)
        r = conn.getresponse()
        body = r.read()
        times.append((time.perf_counter() - t0) * 1000)
        if r.status != 200:
            sys.exit(f"{path}: {r.status} {body[:200]}")
        size = len(body)
    conn.close()
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], size


s = Sipd(build, modules=modules)
s.start()  # creates the tables
s.stop()
fill(s.db)
with s:
    web = WebClient(http_port).wait_ready()
    s.ctl("admin", "add", "bench", "bench-password")
    if web.login("bench", "bench-password").status != 200:
        sys.exit("login failed")
    total = web.get("/api/users?limit=1").json["total"]
    print(f"webadmin_users: {total} users, {n_req} requests per line, one keep-alive connection, build {build}")
    for path in ("/api/users", "/api/users?offset=9950&limit=50", "/api/users?q=user0999&limit=50",
                 "/api/users?limit=1000", "/api/stats", "/api/session"):
        p50, p99, size = measure(web, path)
        print(f"  GET {path:38s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms  ({size} bytes)")
    t0 = time.perf_counter()
    r = web.login("bench", "bench-password")
    print(f"  POST /api/login (PBKDF2, 600000 iterations)  {(time.perf_counter() - t0) * 1000:.0f} ms")
