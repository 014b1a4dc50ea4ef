"""A WebRTC caller made of aiortc (Debian python3-aiortc) and the scripted SIP UA of rtcua.py.

    /usr/bin/python3 -m interop.aiortc_caller SIPD_PORT USER PASSWORD TO_USER OUT.wav SECONDS [bye|vanish]

Offers recvonly Opus over UDP/TLS/RTP/SAVPF (aiortc's own SDP: ICE, DTLS fingerprint, rtcp-mux), sends
it in an INVITE through sipd, records what it receives to OUT.wav (48 kHz) and prints one JSON line per
step on stdout: {"answered": ...}, {"stats": ...}. "bye" hangs up after SECONDS; "vanish" just stays
silent until it is killed (the test kills it with SIGKILL: no BYE, no DTLS alert, ICE consent stops).
ICE is kept on loopback: aioice's host addresses are replaced by 127.0.0.1.
"""

import asyncio
import json
import sys

import aioice.ice
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRecorder

from .rtcua import Caller

aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]


def say(**kw):
    print(json.dumps(kw), flush=True)


async def main(port, user, password, to_user, out, seconds, mode):
    loop = asyncio.get_running_loop()
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="recvonly")
    recorder = MediaRecorder(out)
    got_track = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        recorder.addTrack(track)
        got_track.set()

    await pc.setLocalDescription(await pc.createOffer())
    ua = Caller(port, user, password)
    call = await loop.run_in_executor(None, ua.invite, to_user, pc.localDescription.sdp)
    status = call.final.status if call.final else None
    say(answered=status, answer=call.answer)
    if status != 200:
        return 1
    ua.ack(call)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=call.answer, type="answer"))
    await asyncio.wait_for(got_track.wait(), 10)
    await recorder.start()
    await asyncio.sleep(seconds)
    stats = await pc.getStats()
    inbound = [s for s in stats.values() if s.type == "inbound-rtp"]
    say(stats={"packets": inbound[0].packetsReceived if inbound else 0,
               "dtls": pc.getTransceivers()[0].receiver.transport.state, "ice": pc.iceConnectionState})
    if mode == "vanish":
        say(vanishing=True)
        await asyncio.sleep(3600)
    r = await loop.run_in_executor(None, ua.bye, call)
    say(bye=r.status if r else None)
    await recorder.stop()
    await pc.close()
    ua.close()
    return 0


if __name__ == "__main__":
    a = sys.argv[1:]
    sys.exit(asyncio.run(main(int(a[0]), a[1], a[2], a[3], a[4], float(a[5]), a[6] if len(a) > 6 else "bye")))
