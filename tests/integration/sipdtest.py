"""Integration-test harness: starts the real sipd binary on loopback and talks SIP to it.

Usage in a test script (run as `python3 tests/integration/test_x.py BUILD_DIR`):

    from sipdtest import Sipd, TestRun, sip_request, udp_request, parse_sip
    run = TestRun("udp")
    with Sipd(run.build, modules=[{"name": "parser"}, {"name": "udp"}],
              routing='request_route { reply(200, "OK"); }') as s:
        @run.case
        def options_answered():
            resp = udp_request("127.0.0.1", s.port, sip_request("OPTIONS", f"sip:127.0.0.1:{s.port}"))
            run.expect(parse_sip(resp).status == 200, "status 200")
    run.finish()
"""

import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# A stateless script: sanity() and maxfwd() first, then 200 to OPTIONS and 404 to everything else.
OPTIONS_ROUTING = """request_route {
	sanity();
	maxfwd(70);
	if ($rm == "OPTIONS") {
		reply(200, "OK");
		exit;
	}
	reply(404, "Not Here");
}
"""


def free_port(proto="both", host="127.0.0.1"):
    """A port free for UDP and TCP on host (best effort: it is released before use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(200):
        port = random.randint(20000, 60000)
        ok = True
        kinds = [socket.SOCK_DGRAM, socket.SOCK_STREAM] if proto == "both" else (
            [socket.SOCK_DGRAM] if proto == "udp" else [socket.SOCK_STREAM])
        for kind in kinds:
            s = socket.socket(family, kind)
            try:
                s.bind((host, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise RuntimeError("no free port found")


def cfg_value(v):
    """Formats a Python value as a libconfig value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(cfg_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def cfg_group(d):
    return "{ " + " ".join(f"{k} = {cfg_value(v)};" for k, v in d.items()) + " }"


class Sipd:
    """A sipd process with a generated modules.conf and routing.cfg in a temp dir."""

    def __init__(self, build, modules=None, routing=None, listen=None, core=None, workers=2,
                 log_level="info", port=None, args=None, env=None, check_exit=True,
                 sipd_bin=None, sipctl_bin=None, module_path=None):
        self.build = os.path.abspath(build)
        self.dir = tempfile.mkdtemp(prefix="sipd-test-")
        self.port = port or free_port()
        # A list of module dicts, or "default": the module list of the repository's modules.conf.
        self.modules = modules if modules is not None else [{"name": "parser"}, {"name": "udp"}]
        self.routing = routing if routing is not None else 'request_route { reply(200, "OK"); }\n'
        self.listen = [l.format(port=self.port) for l in (listen or [f"udp:127.0.0.1:{{port}}"])]
        self.core = dict(core or {})
        self.workers = workers
        self.log_level = log_level
        self.args = list(args or [])
        self.env = env
        self.check_exit = check_exit
        self.proc = None
        self.conf = os.path.join(self.dir, "modules.conf")
        self.script = os.path.join(self.dir, "routing.cfg")
        self.sock = os.path.join(self.dir, "sipd.ctl")
        self.db = os.path.join(self.dir, "sipd.db")
        self.log = os.path.join(self.dir, "sipd.log")
        self.sipd = sipd_bin or os.path.join(self.build, "core", "sipd")
        self.sipctl = sipctl_bin or os.path.join(self.build, "core", "sipctl")
        self.module_path = module_path or os.path.join(self.build, "modules")

    @staticmethod
    def default_modules_block():
        """The `modules = ( ... );` list of the repository's default modules.conf, verbatim."""
        with open(os.path.join(ROOT, "modules.conf")) as f:
            text = f.read()
        m = re.search(r"(?ms)^modules\s*=\s*\(.*?^\);", text)
        if not m:
            raise RuntimeError("no modules list in modules.conf")
        # The web admin's fixed port would collide between tests running side by side; its first-start
        # password hash costs seconds under ASan (OpenSSL's PBKDF2 allocates per iteration).
        block = re.sub(r'"127\.0\.0\.1:8080"', lambda _: f'"127.0.0.1:{free_port("tcp")}"', m.group(0))
        return block.replace('name = "webadmin";', 'name = "webadmin"; pbkdf2_iterations = 10000;')

    def write_config(self):
        core = {"listen": self.listen, "workers": self.workers, "routing": "routing.cfg",
                "database": self.db, "log_level": self.log_level, "control_socket": self.sock}
        core.update(self.core)
        if self.modules == "default":
            modules = self.default_modules_block()
        else:
            modules = "modules = (\n  " + ",\n  ".join(cfg_group(m) for m in self.modules) + "\n);"
        with open(self.conf, "w") as f:
            f.write(f"core = {cfg_group(core)};\n{modules}\n")
        with open(self.script, "w") as f:
            f.write(self.routing)

    def start(self, timeout=10.0):
        self.write_config()
        cmd = [self.sipd, "-D", "-f", self.conf, "-M", self.module_path,
               "-S", self.sock, "--db", self.db] + self.args
        self.logf = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.logf.close()
                raise RuntimeError(f"sipd exited with {self.proc.returncode} at start:\n{self.log_text()}")
            if os.path.exists(self.sock):
                try:
                    self.ctl("version")
                    # The control socket answers while modules still start: wait for the workers too
                    # (the line is logged at info level).
                    if self.log_level in ("info", "debug") and " started: " not in self.log_text():
                        raise RuntimeError("starting")
                    return self
                except Exception:
                    pass
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        self.logf.close()
        raise RuntimeError(f"sipd did not become ready in {timeout}s:\n{self.log_text()}")

    def stop(self, timeout=15.0):
        """SIGTERM and wait; returns the exit code (SIGKILL after timeout is a failure)."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"sipd did not stop within {timeout}s after SIGTERM")
        finally:
            self.logf.close()

    def log_text(self):
        try:
            with open(self.log, "r", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def ctl(self, *args, check=True):
        """Runs sipctl -j ARGS; returns the parsed JSON result (raises on error if check)."""
        p = subprocess.run([self.sipctl, "-S", self.sock, "-j"] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=15)
        if check and p.returncode != 0:
            raise RuntimeError(f"sipctl {' '.join(map(str, args))} failed ({p.returncode}): "
                               f"{p.stdout}{p.stderr}")
        out = p.stdout.strip()
        try:
            return json.loads(out) if out else None
        except json.JSONDecodeError:
            return out

    def stats(self):
        return self.ctl("stats")

    def __enter__(self):
        # SIPD_START_TIMEOUT: more patience for slow builds (ASan with full stacks) on a loaded machine.
        return self.start(float(os.environ.get("SIPD_START_TIMEOUT", "10")))

    def __exit__(self, exc_type, exc, tb):
        code = self.stop()
        if self.check_exit and exc_type is None and code not in (0, None):
            raise RuntimeError(f"sipd exited with {code}:\n{self.log_text()[-4000:]}")


def new_branch():
    return "z9hG4bK" + "%016x" % random.getrandbits(64)


def sip_request(method, ruri, via_host="127.0.0.1", via_port=5999, transport="UDP", headers=None,
                body="", rport=True, cseq=1, call_id=None, from_tag=None, to="", max_forwards=70,
                omit=(), from_uri=None):
    """Builds a request as bytes; headers is a list of 'Name: value' lines added at the end;
    omit names default headers to leave out (e.g. 'Call-ID'); from_uri replaces sip:tester@VIA_HOST."""
    call_id = call_id or "%016x@test" % random.getrandbits(64)
    from_tag = from_tag or "%08x" % random.getrandbits(32)
    rp = ";rport" if rport else ""
    lines = [
        ("Via", f"SIP/2.0/{transport} {via_host}:{via_port};branch={new_branch()}{rp}"),
        ("Max-Forwards", str(max_forwards)),
        ("From", f"<{from_uri or f'sip:tester@{via_host}'}>;tag={from_tag}"),
        ("To", to or f"<{ruri}>"),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
    ]
    out = [f"{method} {ruri} SIP/2.0"]
    out += [f"{n}: {v}" for n, v in lines if n not in omit]
    out += list(headers or [])
    if "Content-Length" not in omit:
        out.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(out) + "\r\n\r\n" + body).encode()


class SipMessage:
    def __init__(self, raw):
        self.raw = raw
        text = raw.decode("utf-8", "replace")
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.start = lines[0]
        self.status = None
        self.reason = ""
        self.method = None
        m = re.match(r"SIP/2\.0 (\d{3}) ?(.*)", self.start)
        if m:
            self.status = int(m.group(1))
            self.reason = m.group(2)
        else:
            self.method = self.start.split(" ", 1)[0] or None
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            n, _, v = line.partition(":")
            self.headers.append((n.strip(), v.strip()))

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def get(self, name, default=None):
        vals = self.all(name)
        return vals[0] if vals else default


def parse_sip(raw):
    return SipMessage(raw) if raw else None


def udp_request(host, port, data, timeout=2.0, bind_port=0, expect=1):
    """Sends one datagram, returns the first reply that is not 1xx (or the last one) or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.bind((host, bind_port))
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        last = None
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                last, _ = s.recvfrom(65535)
            except socket.timeout:
                break
            m = parse_sip(last)
            if m and m.status and m.status >= 200:
                return last
        return last
    finally:
        s.close()


def tcp_connect(host, port, timeout=5.0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def tcp_read_message(sock, timeout=5.0):
    """Reads one SIP message framed by Content-Length from a stream socket; None on EOF/timeout."""
    sock.settimeout(timeout)
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            m = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d+)", buf[:end])
            need = end + 4 + (int(m.group(1)) if m else 0)
            if len(buf) >= need:
                return buf[:need]
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None
        if not chunk:
            return None
        buf += chunk
    return None


def proc_status(pid, key):
    """A number field of /proc/PID/status (VmRSS in KiB, Threads, ...); 0 when it is absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid):
    """The resident set size of process pid in KiB."""
    return proc_status(pid, "VmRSS")


def raise_nofile(n):
    """Raises this process's soft open-file limit to n (at most the hard limit); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(max(soft, n), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return want


def wait_until(pred, timeout, step=0.05):
    """Polls pred until it returns something true or timeout passes; returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class TestRun:
    """Collects named cases; finish() prints 'N passed, N failed' and exits non-zero on failure."""

    def __init__(self, name):
        self.name = name
        self.build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
        self.passed = 0
        self.failed = 0
        self.only = set(sys.argv[2:])

    def case(self, fn):
        if self.only and fn.__name__ not in self.only:
            return fn
        start = time.time()
        try:
            fn()
            self.passed += 1
            print(f"[PASS] {self.name}.{fn.__name__} ({time.time() - start:.2f}s)", flush=True)
        except Exception as e:
            self.failed += 1
            print(f"[FAIL] {self.name}.{fn.__name__}: {e}", flush=True)
            traceback.print_exc()
        return fn

    @staticmethod
    def expect(cond, what):
        if not cond:
            raise AssertionError(what)

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        sys.exit(1 if self.failed or not self.passed else 0)
