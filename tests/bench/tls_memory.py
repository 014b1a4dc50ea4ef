"""Memory per idle TLS connection, sipd vs Kamailio (tls module): PSS of the server's processes before and after
N TLS connections that finished their handshake and stay idle (PSS, so Kamailio's shared memory is not counted
once per process).
Usage: python3 tests/bench/tls_memory.py BUILD_DIR [N]   (prints KiB per connection for each server)"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from sipdtest import Sipd, free_port, raise_nofile  # noqa: E402
from tlstest import Pki, client_context, tls_connect  # noqa: E402

KAMAILIO_CFG = """#!KAMAILIO
debug=1
log_stderror=yes
children=2
tcp_children=2
auto_aliases=no
dns=no
rev_dns=no
enable_tls=yes
tcp_connection_lifetime=3600
tcp_max_connections=65536
tls_max_connections=65536
loadmodule "tls.so"
loadmodule "sl.so"
modparam("tls", "config", "{tlscfg}")
request_route {{ sl_send_reply("200", "OK"); }}
"""


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def tree(pid):
    """pid and its children (Kamailio forks its workers)."""
    out = [pid]
    for p in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(p.split("/")[2]))
        except (OSError, ValueError, IndexError):
            pass
    return out


def measure(name, port, pids_fn, ca, n):
    ctx = client_context(ca)
    time.sleep(0.5)
    before = pss_kib(pids_fn())
    conns = [tls_connect(port, ca, ctx=ctx) for _ in range(n)]
    time.sleep(1.0)
    after = pss_kib(pids_fn())
    for c in conns:
        c.close()
    per = (after - before) * 1024 / n
    print(f"{name}: PSS {before} -> {after} KiB over {n} idle TLS connections: {per:.0f} bytes per connection")
    return per


build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
raise_nofile(n * 2 + 100)
tmp = tempfile.mkdtemp(prefix="sipd-tlsmem-")
pki = Pki(tmp)
cert, key = pki.issue("server", ["IP:127.0.0.1"])
port = free_port("tcp")
mods = [{"name": "parser"}, {"name": "tcp", "idle_timeout": 3600, "max_connections_per_ip": n + 100},
        {"name": "tls", "certificate": cert, "private_key": key}]
with Sipd(build, modules=mods, listen=[f"tls:127.0.0.1:{port}"], log_level="error") as s:
    measure("sipd", port, lambda: [s.proc.pid], pki.ca, n)

if shutil.which("kamailio"):
    kport = free_port("tcp")
    with open(os.path.join(tmp, "tls.cfg"), "w") as f:
        f.write(f"[server:default]\nmethod = TLSv1.2+\nverify_certificate = no\nrequire_certificate = no\n"
                f"private_key = {key}\ncertificate = {cert}\n")
    with open(os.path.join(tmp, "kamailio.cfg"), "w") as f:
        f.write(KAMAILIO_CFG.format(tlscfg=os.path.join(tmp, "tls.cfg")))
    log = open(os.path.join(tmp, "kamailio.log"), "wb")
    k = subprocess.Popen(["kamailio", "-f", os.path.join(tmp, "kamailio.cfg"), "-DD", "-E", "-n", "2", "-Y", tmp,
                          "-P", os.path.join(tmp, "k.pid"), "-w", tmp, "-m", "256", "-M", "16",
                          "-l", f"tls:127.0.0.1:{kport}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", kport), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        measure("kamailio", kport, lambda: tree(k.pid), pki.ca, n)
    finally:
        k.terminate()
        k.wait(15)
        log.close()
shutil.rmtree(tmp, ignore_errors=True)
