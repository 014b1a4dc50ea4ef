"""N aiortc WebRTC receivers in one process, against sipd's rtc_player (SIP) or Janus's streaming plugin (REST).

    /usr/bin/python3 tests/bench/webrtc_peers.py sipd  SIPD_PORT  TO_USER  N HOLD SERVER_PID
    /usr/bin/python3 tests/bench/webrtc_peers.py janus JANUS_URL  MOUNT_ID N HOLD SERVER_PID

Sets up N receive-only Opus peers (ICE kept on $PEER_ADDR, 127.0.0.1 by default; candidates the server offers outside 127.0.0.0/8
are dropped), waits until every one has its track and DTLS is connected, then holds them HOLD seconds and
prints one JSON line: the server's CPU over the hold (from /proc/SERVER_PID/stat), this client's own CPU,
and the RTP packets each peer received during the hold (aiortc inbound-rtp stats). Every wait is bounded.
"""

import asyncio
import json
import os
import sys
import time
import urllib.request

import aioice.ice
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaBlackhole

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from interop.rtcua import Caller  # noqa: E402

# PEER_ADDR: the peers' own address (127.0.0.1 unless the script says otherwise, see janus_compare.sh).
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: [os.environ.get("PEER_ADDR", "127.0.0.1")]
HZ = os.sysconf("SC_CLK_TCK")
SETUP_TIMEOUT = 20.0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14 and 15)


def loopback_only(sdp):
    """The SDP without candidates outside 127.0.0.0/8; and how many were dropped."""
    out, dropped = [], 0
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:") and line.split()[4].split(".")[0] != "127":
            dropped += 1
            continue
        out.append(line)
    return "\r\n".join(out), dropped


class Peer:
    def __init__(self):
        self.pc = RTCPeerConnection()
        self.sink = MediaBlackhole()
        self.track = asyncio.Event()
        self.dropped = 0

        @self.pc.on("track")
        def on_track(track):
            self.sink.addTrack(track)
            self.track.set()

    async def connected(self):
        await asyncio.wait_for(self.track.wait(), SETUP_TIMEOUT)
        await self.sink.start()
        deadline = time.monotonic() + SETUP_TIMEOUT
        while self.pc.connectionState != "connected":
            if time.monotonic() > deadline or self.pc.connectionState in ("failed", "closed"):
                raise RuntimeError(f"peer state {self.pc.connectionState}")
            await asyncio.sleep(0.1)

    async def packets(self):
        stats = await self.pc.getStats()
        return sum(s.packetsReceived for s in stats.values() if s.type == "inbound-rtp")

    async def close(self):
        await self.sink.stop()
        await self.pc.close()


class SipdPeer(Peer):
    """Calls TO_USER through sipd with an aiortc offer (as tests/integration/interop/aiortc_caller.py does)."""

    def __init__(self, port, to_user):
        super().__init__()
        self.port, self.to_user = port, to_user

    async def setup(self):
        loop = asyncio.get_running_loop()
        self.pc.addTransceiver("audio", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.ua = Caller(self.port, "bench", "bench")
        self.call = await loop.run_in_executor(None, self.ua.invite, self.to_user, self.pc.localDescription.sdp)
        status = self.call.final.status if self.call.final else None
        if status != 200:
            raise RuntimeError(f"INVITE answered {status}")
        self.ua.ack(self.call)
        answer, self.dropped = loopback_only(self.call.answer)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        await self.connected()

    async def teardown(self):
        await asyncio.get_running_loop().run_in_executor(None, self.ua.bye, self.call)
        await self.close()
        self.ua.close()


def janus_post(url, body):
    body = dict(body, transaction=os.urandom(6).hex())
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


class JanusPeer(Peer):
    """Watches a streaming mountpoint: Janus offers, aiortc answers (REST transport, long-poll for events)."""

    def __init__(self, base, mount):
        super().__init__()
        self.base, self.mount = base, mount
        self.sid = None

    async def setup(self):
        loop = asyncio.get_running_loop()

        def post(url, body):
            return loop.run_in_executor(None, janus_post, url, body)

        self.sid = (await post(self.base, {"janus": "create"}))["data"]["id"]
        hid = (await post(f"{self.base}/{self.sid}", {"janus": "attach", "plugin": "janus.plugin.streaming"}))[
            "data"]["id"]
        self.handle = f"{self.base}/{self.sid}/{hid}"
        await post(self.handle, {"janus": "message", "body": {"request": "watch", "id": self.mount}})
        offer = None
        deadline = time.monotonic() + SETUP_TIMEOUT
        while offer is None and time.monotonic() < deadline:
            url = f"{self.base}/{self.sid}?maxev=5&rid={time.monotonic_ns()}"
            evs = await loop.run_in_executor(None, lambda: json.load(urllib.request.urlopen(url, timeout=35)))
            for e in evs if isinstance(evs, list) else [evs]:
                if "error" in e or e.get("plugindata", {}).get("data", {}).get("error"):
                    raise RuntimeError(f"janus: {json.dumps(e)}")
                if e.get("jsep", {}).get("type") == "offer":
                    offer = e["jsep"]["sdp"]
        if offer is None:
            raise RuntimeError("janus sent no offer")
        offer, self.dropped = loopback_only(offer)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await post(self.handle, {"janus": "message", "body": {"request": "start"},
                                 "jsep": {"type": "answer", "sdp": self.pc.localDescription.sdp}})
        # aiortc does not trickle: every candidate is in the answer.
        await post(self.handle, {"janus": "trickle", "candidate": {"completed": True}})
        await self.connected()

    async def keepalive(self):
        await asyncio.get_running_loop().run_in_executor(None, janus_post, f"{self.base}/{self.sid}",
                                                         {"janus": "keepalive"})

    async def teardown(self):
        await self.close()
        if self.sid:
            await asyncio.get_running_loop().run_in_executor(None, janus_post, f"{self.base}/{self.sid}",
                                                             {"janus": "destroy"})


async def main(kind, target, what, n, hold, server_pid):
    if kind == "sipd":
        peers = [SipdPeer(int(target), what) for _ in range(n)]
    else:
        peers = [JanusPeer(target, int(what)) for _ in range(n)]
    t_setup = time.monotonic()
    # A few set-ups at a time: aiortc's DTLS handshakes are CPU-heavy on 2 cores.
    sem = asyncio.Semaphore(5)

    async def one(p):
        async with sem:
            await p.setup()

    results = await asyncio.gather(*(one(p) for p in peers), return_exceptions=True)
    errors = [repr(r) for r in results if isinstance(r, Exception)]
    up = [p for p, r in zip(peers, results) if not isinstance(r, Exception)]
    setup_s = time.monotonic() - t_setup
    await asyncio.sleep(2)  # let the last ones settle
    p0 = [await p.packets() for p in up]
    c0, s0, w0 = cpu_ticks(server_pid), os.times(), time.monotonic()
    end = w0 + hold
    while time.monotonic() < end:
        await asyncio.sleep(min(10, max(0, end - time.monotonic())))
        if kind == "janus":
            await asyncio.gather(*(p.keepalive() for p in up), return_exceptions=True)
    c1, s1, w1 = cpu_ticks(server_pid), os.times(), time.monotonic()
    p1 = [await p.packets() for p in up]
    still = sum(1 for p in up if p.pc.connectionState == "connected")
    got = sorted(b - a for a, b in zip(p0, p1))
    wall = w1 - w0
    server_cpu = (c1 - c0) / HZ / wall
    print(json.dumps({
        "server": kind, "peers": n, "connected": len(up), "still_connected": still, "setup_s": round(setup_s, 1),
        "hold_s": round(wall, 1), "server_cpu_pct": round(server_cpu * 100, 1),
        "server_cpu_pct_per_stream": round(server_cpu * 100 / max(len(up), 1), 2),
        "client_cpu_pct": round(((s1.user + s1.system) - (s0.user + s0.system)) / wall * 100, 1),
        "pkts_per_peer_min": got[0] if got else 0, "pkts_per_peer_median": got[len(got) // 2] if got else 0,
        "pkts_per_peer_max": got[-1] if got else 0, "expected_at_50pps": round(wall * 50),
        "dropped_nonloopback_candidates": sum(p.dropped for p in peers), "errors": errors[:3],
        "error_count": len(errors)}), flush=True)
    await asyncio.gather(*(p.teardown() for p in up), return_exceptions=True)
    return 0 if not errors else 1


if __name__ == "__main__":
    a = sys.argv[1:]
    sys.exit(asyncio.run(main(a[0], a[1], a[2], int(a[3]), float(a[4]), int(a[5]))))
