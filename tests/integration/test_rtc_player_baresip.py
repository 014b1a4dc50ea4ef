"""rtc_player heard by baresip: SDES-SRTP (mediaenc srtp-mand) and DTLS-SRTP (dtls_srtp) with Opus, and
G.711 over SDES; baresip's sndfile module records what it hears, which must correlate with the greeting.
baresip has no RFC 4028 support, so session_timer runs with policy "supported" here."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop.audiocheck import envelope_correlation, load_wav, rms_dbfs  # noqa: E402
from interop.baresip import Baresip  # noqa: E402
from interop.common import wait_for  # noqa: E402
from rtcplayer import GREETING, calls, player_sipd  # noqa: E402
from sipdtest import TestRun  # noqa: E402

run = TestRun("rtc_player_baresip")
src, src_rate = load_wav(GREETING)


def hear(s, name, codecs, mediaenc, kind, codec, transport="udp", seconds=5, port=None, **kw):
    b = Baresip(name, "alice", "secret", port or s.port, transport=transport, answer=False, codecs=codecs,
                mediaenc=mediaenc, record=True, **kw)
    try:
        run.expect(b.wait_event("REGISTER_OK", 10) is not None, f"registered: {b.types()}")
        tp = f";transport={transport}" if transport != "udp" else ""
        b.cmd("dial", f"sip:welcome@127.0.0.1:{port or s.port}{tp}")
        est = b.wait_event(("CALL_ESTABLISHED", "CALL_CLOSED"), 10)
        run.expect(est is not None and est.get("type") == "CALL_ESTABLISHED", f"call established: {est}")
        time.sleep(seconds)
        live = calls(s)
        run.expect(len(live) == 1 and live[0]["kind"] == kind and live[0]["codec"] == codec
                   and live[0]["packets_sent"] > 40 * (seconds - 1), f"rtc calls: {live}")
        b.cmd("hangup")
        run.expect(b.wait_event("CALL_CLOSED", 5) is not None, "call closed")
        run.expect(wait_for(lambda: calls(s) == [], 3), "the player freed the call")
        time.sleep(0.3)
        recs = b.recordings()
        run.expect(len(recs) == 1, f"one recording: {recs}")
        heard, rate = load_wav(recs[0])
        corr = envelope_correlation(heard, rate, src, src_rate)
        run.expect(corr > 0.8, f"baresip hears the greeting: correlation {corr:.3f}, {rms_dbfs(heard):.1f} dBFS, "
                   f"{len(heard) / rate:.1f} s")
    finally:
        b.close()


# libre 1.1 aborts on a SHA-256 challenge: MD5 only.
with player_sipd(run.build, st_policy="supported", algorithms=["MD5"], ring_ms=100) as s:
    s.ctl("users", "add", "alice", "secret")

    @run.case
    def sdes_srtp_opus():
        hear(s, "sdes", "opus/48000/2,PCMU/8000/1", "srtp-mand", "sdes", "opus")

    @run.case
    def dtls_srtp_opus():
        hear(s, "dtls", "opus/48000/2,PCMU/8000/1", "dtls_srtp", "webrtc", "opus")

    @run.case
    def sdes_srtp_pcmu_over_tcp():
        hear(s, "tcp", "PCMU/8000/1", "srtp-mand", "sdes", "pcmu", transport="tcp", seconds=4)

# A caller over TLS (SDES-SRTP) once the tls module is built (it lands from another branch, with the
# test PKI helper tlstest.py and baresip's cafile option).
if not os.path.exists(os.path.join(run.build, "modules", "tls.so")):
    print("SKIP sdes_srtp_over_tls: the tls module is not built (it comes from the stream_tls branch)")
else:
    import tempfile
    from sipdtest import free_port
    from tlstest import Pki

    pki = Pki(tempfile.mkdtemp(prefix="rtc-tls-pki-"))
    cert, key = pki.issue("server", ["DNS:localhost", "IP:127.0.0.1"], cn="sipd.test")
    tls_port = free_port("tcp")
    with player_sipd(run.build, st_policy="supported", algorithms=["MD5"], ring_ms=100,
                     listen=["udp:127.0.0.1:{port}", "tcp:127.0.0.1:{port}", f"tls:127.0.0.1:{tls_port}"],
                     extra_modules=[{"name": "tls", "certificate": cert, "private_key": key}]) as s:
        s.ctl("users", "add", "alice", "secret")

        @run.case
        def sdes_srtp_over_tls():
            hear(s, "tls", "opus/48000/2,PCMU/8000/1", "srtp-mand", "sdes", "opus", transport="tls",
                 port=tls_port, cafile=pki.ca)

run.finish()
