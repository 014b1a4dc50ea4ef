#!/usr/bin/python3
"""aiortc_interop.py PLAY_BINARY: aiortc (a second WebRTC stack) offers audio, rtc_media_play answers
through the media engine, and the decoded tone must arrive: prints one JSON line, exit 0 = PASS.
Runs with Debian's /usr/bin/python3, where python3-aiortc lives."""
import array
import asyncio
import json
import subprocess
import sys

from aiortc import RTCPeerConnection, RTCSessionDescription

FRAMES = 150  # 3 s of 20 ms frames


async def main(play):
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="recvonly")
    got = {"frames": 0, "rms": 0.0}
    done = asyncio.Event()

    @pc.on("track")
    def on_track(track):
        async def reader():
            energy = 0.0
            while got["frames"] < FRAMES:
                frame = await track.recv()
                pcm = array.array("h", bytes(frame.planes[0]))
                energy += sum(v * v for v in pcm) / max(1, len(pcm))
                got["frames"] += 1
            got["rms"] = (energy / FRAMES) ** 0.5
            done.set()

        asyncio.ensure_future(reader())

    await pc.setLocalDescription(await pc.createOffer())
    proc = subprocess.Popen([play, "8"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    proc.stdin.write(pc.localDescription.sdp)
    proc.stdin.close()
    answer = ""
    for line in proc.stdout:
        if line == "--\n":
            break
        answer += line
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    try:
        await asyncio.wait_for(done.wait(), 10)
    except asyncio.TimeoutError:
        pass
    got["ice"] = pc.iceConnectionState
    got["connection"] = pc.connectionState
    await pc.close()
    proc.terminate()
    proc.wait()
    # the tone is a 440 Hz sine of amplitude 8000: RMS about 5657 after Opus
    got["pass"] = got["frames"] == FRAMES and got["rms"] > 2000
    print(json.dumps(got))
    return 0 if got["pass"] else 1


sys.exit(asyncio.run(main(sys.argv[1])))
