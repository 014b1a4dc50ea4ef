#!/usr/bin/env python3
"""baresip_interop.py PLAY_BINARY rtp|sdes|dtls: baresip calls a minimal UAS (this script) whose SDP answer comes
from rtc_media_play (the media engine); baresip records what it hears (sndfile module) and the recording
must hold the 440 Hz tone. Prints one JSON line; exit 0 = PASS. Loopback only, random ports.
RTC_BARESIP_VERBOSE=1 runs baresip with -v (its log path is in the JSON)."""
import array
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import wave

PLAY, MODE = sys.argv[1], sys.argv[2]
CALL_SECS = 5


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_sip_port():
    """A port free for UDP and TCP, with the next one free for TCP (baresip's TLS listener)."""
    for _ in range(50):
        port = free_udp_port()
        try:
            socks = []
            for kind, p in ((socket.SOCK_STREAM, port), (socket.SOCK_STREAM, port + 1), (socket.SOCK_DGRAM, port + 1)):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free SIP port")


def reply(req, status, extra="", body=""):
    """A response to req (text) with its Via/From/Call-ID/CSeq; To gets our tag."""
    lines = req.split("\r\n")
    keep = [l for l in lines[1:] if l.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "call-id",
                                                                           "i", "cseq")]
    to = next(l for l in lines[1:] if l.split(":", 1)[0].strip().lower() in ("to", "t"))
    if ";tag=" not in to:
        to += ";tag=rtcmedia1"
    head = [f"SIP/2.0 {status}"] + keep + [to] + ([extra] if extra else [])
    head.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def tone_of(path):
    """RMS and zero-crossing frequency of the loudest second of a 16-bit WAV."""
    with wave.open(path) as w:
        rate, ch = w.getframerate(), w.getnchannels()
        pcm = array.array("h", w.readframes(w.getnframes()))[::ch]
    best = (0.0, 0.0)
    for start in range(0, max(1, len(pcm) - rate), rate // 2):
        sec = pcm[start:start + rate]
        if not sec:
            break
        rms = (sum(v * v for v in sec) / len(sec)) ** 0.5
        zc = sum(1 for a, b in zip(sec, sec[1:]) if (a < 0) != (b < 0)) / 2 * rate / len(sec)
        if rms > best[0]:
            best = (rms, zc)
    return best


def main():
    work = tempfile.mkdtemp(prefix="rtc-media-baresip-")
    uas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    uas.bind(("127.0.0.1", 0))
    uas_port = uas.getsockname()[1]
    rtp = free_udp_port() & ~1
    enc = {"sdes": ";mediaenc=srtp-mand", "dtls": ";mediaenc=dtls_srtp", "rtp": ""}[MODE]
    os.makedirs(os.path.join(work, "rec"))
    with open(os.path.join(work, "config"), "w") as f:
        f.write(f"""poll_method epoll
sip_listen 127.0.0.1:{free_sip_port()}
audio_player alsa,null
module alsa.so
audio_source ausine,220
rtp_ports {rtp}-{rtp + 3}
net_interface 127.0.0.1
module_path /usr/lib/baresip/modules
module opus.so
module g711.so
module ausine.so
module aufile.so
module sndfile.so
module srtp.so
module dtls_srtp.so
module_tmp account.so
module_app menu.so
snd_path {work}/rec
""")
    with open(os.path.join(work, "accounts"), "w") as f:
        f.write(f"<sip:caller@127.0.0.1>;regint=0;audio_codecs=opus/48000/2,PCMU/8000/1{enc}\n")
    open(os.path.join(work, "contacts"), "w").close()
    bs = subprocess.Popen(["baresip"] + (["-v"] if os.environ.get("RTC_BARESIP_VERBOSE") else []) + ["-f", work, "-t", str(CALL_SECS + 3), "-e",
                           f"/dial sip:player@127.0.0.1:{uas_port}"],
                          stdin=subprocess.DEVNULL, stdout=open(os.path.join(work, "baresip.log"), "w"),
                          stderr=subprocess.STDOUT)
    result = {"mode": MODE, "pass": False}
    play = None
    uas.settimeout(1.0)
    deadline = time.time() + CALL_SECS + 6
    answered_at = None
    try:
        while time.time() < deadline and bs.poll() is None:
            try:
                data, peer = uas.recvfrom(65535)
            except socket.timeout:
                continue
            msg = data.decode(errors="replace")
            method = msg.split(" ", 1)[0]
            if method == "INVITE" and play is None:
                offer = msg.split("\r\n\r\n", 1)[1]
                result["offer_port"] = next((l.split()[1] for l in offer.splitlines() if l.startswith("m=audio")), "")
                play = subprocess.Popen([PLAY, str(CALL_SECS + 4)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
                play.stdin.write(offer)
                play.stdin.close()
                answer = ""
                for line in play.stdout:
                    if line == "--\n":
                        break
                    answer += line
                result["kind"] = "sdes" if "a=crypto" in answer else "dtls" if "fingerprint" in answer else "rtp"
                uas.sendto(reply(msg, "200 OK", f"Contact: <sip:player@127.0.0.1:{uas_port}>\r\n"
                                 "Content-Type: application/sdp", answer.replace("\n", "\r\n")
                                 if "\r\n" not in answer else answer), peer)
                answered_at = time.time()
            elif method == "BYE":
                uas.sendto(reply(msg, "200 OK"), peer)
            if answered_at and time.time() - answered_at > CALL_SECS:
                break
    finally:
        bs.terminate()
        try:
            bs.wait(5)
        except subprocess.TimeoutExpired:
            bs.kill()
        if play:
            # rtc_media_play prints its counters when its time is up
            try:
                play.wait(timeout=CALL_SECS + 6)
                out = play.stdout.read()
                result["engine"] = next((l[6:] for l in out.splitlines() if l.startswith("STATS ")), "")
            except subprocess.TimeoutExpired:
                play.kill()
                play.wait()
    recs = sorted(glob.glob(os.path.join(work, "rec", "*dec*.wav")))
    result["recordings"] = len(recs)
    if recs:
        rms, hz = tone_of(recs[-1])
        result.update(rms=round(rms), hz=round(hz))
        # the tone is 440 Hz at amplitude 8000 (RMS ~5657) before Opus/G.711
        result["pass"] = rms > 1500 and 380 < hz < 500
    result["log"] = os.path.join(work, "baresip.log")
    print(json.dumps(result))
    return 0 if result["pass"] else 1


sys.exit(main())
