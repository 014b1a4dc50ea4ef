"""Shared bits of the real-client helpers: free port ranges, polling, a test WAV file."""

import math
import os
import socket
import struct
import sys
import time
import wave

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from sipdtest import free_port  # noqa: E402


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
    """Polls pred until it returns something true or timeout passes; returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


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
