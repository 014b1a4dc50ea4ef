"""baresip (baresip-core 1.0) run headless for tests: own config dir, sine source, ctrl_tcp JSON events."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading

from .common import free_port, free_ports, wait_for

CONFIG = """poll_method		epoll
sip_listen		127.0.0.1:{sip_port}
call_local_timeout	30
call_max_calls		4
audio_player		alsa,null
audio_source		ausine,440
audio_alert		alsa,null
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		1
audio_level		no
rtp_ports		{rtp_lo}-{rtp_hi}
rtcp_mux		no
rtp_stats		yes
dns_server		127.0.0.1:53
net_interface		127.0.0.1
module_path		/usr/lib/baresip/modules
module			ctrl_tcp.so
module			g711.so
module			alsa.so
module			ausine.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
ctrl_tcp_listen		127.0.0.1:{ctrl_port}
"""


def netstring(obj):
    b = json.dumps(obj).encode()
    return str(len(b)).encode() + b":" + b + b","


class Baresip:
    """One baresip user agent with one account registering through sipd (its outbound proxy).

    transport is "udp", "tcp" or "tls" (cafile: the PEM CA baresip checks sipd's certificate with);
    password None leaves auth_pass out. Events from ctrl_tcp are collected by a reader thread into
    self.events (dicts as baresip sends them)."""

    def __init__(self, name, user, password, sipd_port, transport="udp", answer=True, lifetime=120, cafile=None,
                 webrtc=False):
        self.name = name
        self.user = user
        self.dir = tempfile.mkdtemp(prefix=f"interop-bs-{name}-")
        # sip_listen P opens UDP+TCP on P and TLS on P+1.
        self.sip_port = free_ports(2)
        self.ctrl_port = free_port("tcp")
        rtp = free_ports(4, "udp")
        config = CONFIG.format(sip_port=self.sip_port, rtp_lo=rtp, rtp_hi=rtp + 3, ctrl_port=self.ctrl_port)
        if webrtc:
            # A browser as the peer: DTLS-SRTP keys, ICE, RTP and RTCP on one port (research/clients.md 2, 5.4).
            config = config.replace("rtcp_mux\t\tno", "rtcp_mux\t\tyes")
            config += "module\t\t\tice.so\nmodule\t\t\tsrtp.so\nmodule\t\t\tdtls_srtp.so\n"
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write(config)
            if cafile:
                f.write(f"sip_cafile\t\t{cafile}\n")
        tp = f";transport={transport}" if transport in ("tcp", "tls") else ""
        params = ["regint=600",
                  "audio_codecs=PCMU/8000/1"]
        if password is not None:
            params.insert(0, f"auth_pass={password}")
        if answer:
            params.append("answermode=auto")
        if webrtc:
            params += ["mediaenc=dtls_srtp", "medianat=ice"]
        # The AOR carries sipd's port: sipd is "myself" only on its own ports.
        self.aor = f"sip:{user}@127.0.0.1:{sipd_port}"
        self.account = f"<{self.aor}{tp}>;" + ";".join(params)
        # The account is added over ctrl_tcp once connected, so that no registration event is missed.
        open(os.path.join(self.dir, "accounts"), "w").close()
        open(os.path.join(self.dir, "contacts"), "w").close()
        self.events = []
        self.lock = threading.Lock()
        self.out = open(os.path.join(self.dir, "out.log"), "wb")
        # -t bounds the process's life even if the test dies without stopping it.
        self.proc = subprocess.Popen(["baresip", "-f", self.dir, "-t", str(lifetime)], stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=subprocess.STDOUT)
        self.sock = None
        # Commands are taken once the whole start-up (modules, SIP stack) is done.
        if not wait_for(lambda: "baresip is ready." in self.output() or self.proc.poll() is not None, 10, 0.05):
            self.close()
            raise RuntimeError(f"baresip {name} did not start\n{self.output()[-2000:]}")
        self.sock = wait_for(self._connect, 10, 0.05)
        if not self.sock:
            self.close()
            raise RuntimeError(f"baresip {name}: ctrl_tcp did not come up\n{self.output()[-2000:]}")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.cmd("uanew", self.account)

    def _connect(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"baresip {self.name} exited with {self.proc.returncode}\n{self.output()[-2000:]}")
        try:
            return socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
        except OSError:
            return None

    def _read(self):
        buf = b""
        self.sock.settimeout(None)
        while True:
            try:
                d = self.sock.recv(65536)
            except OSError:
                return
            if not d:
                return
            buf += d
            while b":" in buf:
                n, rest = buf.split(b":", 1)
                if not n.isdigit():
                    return
                n = int(n)
                if len(rest) < n + 1:
                    break
                try:
                    msg = json.loads(rest[:n])
                except ValueError:
                    msg = {"unparsed": rest[:n].decode(errors="replace")}
                with self.lock:
                    self.events.append(msg)
                buf = rest[n + 1:]

    def cmd(self, command, params=""):
        self.sock.sendall(netstring({"command": command, "params": params, "token": command}))

    def types(self):
        with self.lock:
            return [e.get("type") for e in self.events if e.get("event")]

    def event(self, type_):
        """The first event of that type, or None."""
        with self.lock:
            for e in self.events:
                if e.get("event") and e.get("type") == type_:
                    return e
        return None

    def wait_event(self, types, timeout):
        """The first event whose type is in types (a string or a tuple), waiting up to timeout."""
        types = (types,) if isinstance(types, str) else types
        return wait_for(lambda: next((self.event(t) for t in types if self.event(t)), None), timeout)

    def clear(self):
        with self.lock:
            self.events.clear()

    def output(self):
        try:
            with open(os.path.join(self.dir, "out.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self):
        """quit over ctrl_tcp (un-registers), then kill if it lingers."""
        try:
            if self.sock and self.proc.poll() is None:
                self.cmd("quit")
            self.proc.wait(5)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        if self.sock:
            self.sock.close()
        self.out.close()
        shutil.rmtree(self.dir, ignore_errors=True)
