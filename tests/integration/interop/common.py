"""Shared bits of the real-client tests: free port ranges, polling, a test WAV file, the sipd set-up
(default routing.cfg and module list) and the bookkeeping of started clients."""

import math
import os
import shutil
import socket
import struct
import sys
import wave

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sipdtest import ROOT, free_port, wait_until  # noqa: E402


def free_ports(count, proto="both"):
    """A base port such that base .. base+count-1 are free (clients open neighbours of their SIP port)."""
    for _ in range(100):
        base = free_port(proto)
        if base + count > 65000:
            continue
        try:
            for p in range(base + 1, base + count):
                if free_port_exact(p, proto) != p:
                    raise OSError
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {count} consecutive free ports")


def free_port_exact(port, proto):
    """port itself if it is free on 127.0.0.1 for proto; OSError otherwise."""
    kinds = [socket.SOCK_DGRAM, socket.SOCK_STREAM] if proto == "both" else (
        [socket.SOCK_DGRAM] if proto == "udp" else [socket.SOCK_STREAM])
    for kind in kinds:
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        finally:
            s.close()
    return port


def wait_for(pred, timeout, step=0.1):
    """sipdtest.wait_until at the real clients' slower polling step."""
    return wait_until(pred, timeout, step)


def sine_wav(path, seconds, rate, freq=440.0):
    """A mono 16-bit sine WAV: the clients need a real file to send as their microphone."""
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            frames += struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * i / rate)))
        w.writeframes(bytes(frames))
    return path


# The set-up every real-client test shares: sipd on UDP and TCP with the repository's routing.cfg and the
# default module list, with the settings the client tests vary.
LISTEN = ["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}"]


def default_routing():
    """The repository's routing.cfg, verbatim."""
    with open(os.path.join(ROOT, "routing.cfg")) as f:
        return f.read()


def default_modules(policy, algorithms):
    """The default module list with a session_timer policy and the auth_db challenge algorithms."""
    return [{"name": "parser"}, {"name": "udp"}, {"name": "tcp"}, {"name": "sanity"}, {"name": "maxfwd"},
            {"name": "tm"}, {"name": "auth_db", "realm": "sipd", "algorithms": algorithms},
            {"name": "registrar", "min_expires": 60, "max_expires": 7200},
            {"name": "session_timer", "policy": policy},
            # The default routing.cfg calls rtc_player's functions.
            {"name": "rtc_player", "bind_address": "127.0.0.1"}]


def bindings(sipd, user):
    """user's registrations as sipctl lists them."""
    return sipd.ctl("registrations", user)


class Clients:
    """The real clients a test started: start() registers one, stop() closes some, close_all() (in a finally
    clause) closes whatever is left so no client outlives the test."""

    def __init__(self):
        self.live = []

    def start(self, cls, *args, **kw):
        c = cls(*args, **kw)
        self.live.append(c)
        return c

    def stop(self, *clients):
        for c in clients:
            c.close()
            self.live.remove(c)

    def close_all(self):
        for c in list(self.live):
            c.close()
        self.live = []


def require_tools(run, name, tools):
    """Fails run (and exits) unless each (binary, Debian package) in tools is installed."""
    for tool, pkg in tools:
        if not shutil.which(tool):
            print(f"{name}: {tool} missing (apt-get install {pkg})")
            run.failed += 1
            run.finish()
