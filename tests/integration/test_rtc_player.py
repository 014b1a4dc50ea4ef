"""rtc_player with a scripted caller over UDP and plain RTP (G.711): the audio library over sipctl,
answering calls (100/180/200, SDP answer, RFC 4028), what the caller hears, and every way a call ends
(BYE, CANCEL while ringing, audio played once, an unrefreshed session, a caller gone silent), with
re-INVITE and UPDATE refreshes, 488 and the routing of users without audio."""

import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from interop.audiocheck import envelope_correlation, load_wav, rms_dbfs  # noqa: E402
from interop.common import wait_for  # noqa: E402
from interop.rtcua import Caller, sdp_addr, sdp_port  # noqa: E402
from rtcplayer import GREETING, calls, player_sipd  # noqa: E402
from sipdtest import TestRun  # noqa: E402

run = TestRun("rtc_player")
tmp = tempfile.mkdtemp(prefix="rtc-player-test-")


def sox(name, *args):
    path = os.path.join(tmp, name)
    subprocess.run(["sox", "-n"] + list(args[:-1]) + [path] + args[-1].split(), check=True)
    return path


def ctl_fails(s, *args):
    p = subprocess.run([s.sipctl, "-S", s.sock] + list(args), capture_output=True, text=True)
    return p.returncode, p.stderr.strip()


# Short session intervals (test_intervals), a ring long enough to CANCEL, phones that go silent for
# 3 s are gone.
with player_sipd(run.build, test_intervals=True, min_se=2, ring_ms=1200, rtp_timeout=3) as s:
    s.ctl("users", "add", "alice", "secret")
    s.ctl("users", "add", "bob", "secret")
    beep = sox("beep.wav", "-r", "44100", "-c", "2", "synth 1 sine 600 vol 0.5")
    src, src_rate = load_wav(GREETING)

    @run.case
    def library_over_sipctl():
        run.expect(s.ctl("audio", "add", "beep", beep)["name"] == "beep", "audio add")
        listed = {a["name"]: a for a in s.ctl("audio", "list")}
        run.expect("greeting" in listed and listed["greeting"]["library"], "the demo greeting is listed")
        run.expect(listed["beep"]["format"] == "wav" and 990 <= listed["beep"]["duration_ms"] <= 1010,
                   f"beep: {listed['beep']}")
        f = s.ctl("audio", "file", "beep")
        run.expect(f["content_type"] == "audio/wav" and os.path.exists(f["path"]), f"audio file: {f}")
        code, err = ctl_fails(s, "audio", "add", "beep", beep)
        run.expect(code == 1 and "exists" in err, f"duplicate: {err}")
        notes = os.path.join(tmp, "notes.wav")
        with open(notes, "w") as fh:
            fh.write("not audio at all\n")
        code, err = ctl_fails(s, "audio", "add", "notes", notes)
        run.expect(code == 1 and "not a readable audio file" in err, f"text file: {err}")
        code, err = ctl_fails(s, "audio", "add", "rel", "beep.wav")
        run.expect(code == 1 and "absolute path" in err, f"relative path: {err}")
        code, err = ctl_fails(s, "audio", "assign", "carol", "nothing")
        run.expect(code == 1 and "no audio named" in err, f"assign unknown audio: {err}")
        code, err = ctl_fails(s, "audio", "assign", "carol", "beep", "twice")
        run.expect(code == 1 and "loop or once" in err, f"bad mode: {err}")
        s.ctl("audio", "assign", "carol", "beep", "once")
        a = {x["user"]: x for x in s.ctl("audio", "assignments")}
        run.expect(a.get("carol", {}).get("mode") == "once" and a.get("welcome", {}).get("audio") == "greeting",
                   f"assignments: {a}")
        run.expect(s.ctl("rtc", "calls") == [], "no calls yet")

    def answered_call(ua, user="welcome", codecs=("PCMU",), headers=None):
        call = ua.invite(user, ua.rtp.offer(list(codecs)), headers=headers)
        run.expect(call.final is not None and call.final.status == 200,
                   f"200 OK for {user}: {call.final.start if call.final else 'nothing'}")
        if call.final is None or call.final.status != 200:
            return None
        ua.ack(call)
        ua.rtp.keepalive(("127.0.0.1", sdp_port(call.answer)))
        return call

    @run.case
    def call_is_answered_and_heard():
        ua = Caller(s.port, "alice", "secret")
        try:
            call = ua.invite("welcome", ua.rtp.offer(["PCMU", "PCMA"]))
            r = call.final
            run.expect(r is not None and r.status == 200, "200 OK")
            if not r or r.status != 200:
                return
            run.expect(r.get("Content-Type") == "application/sdp", "SDP answer")
            run.expect(re.search(r"m=audio \d+ RTP/AVP 0\r\n", call.answer) is not None, f"PCMU: {call.answer}")
            run.expect(sdp_addr(call.answer) == "127.0.0.1", "media on 127.0.0.1")
            run.expect(r.get("Require") == "timer" and r.get("Session-Expires", "").endswith("refresher=uac"),
                       f"RFC 4028: {r.get('Require')} / {r.get('Session-Expires')}")
            run.expect(call.target and call.target.startswith("sip:welcome@127.0.0.1:"), f"Contact {call.target}")
            ua.ack(call)
            ua.rtp.keepalive(("127.0.0.1", sdp_port(call.answer)))
            wait_for(lambda: ua.rtp.count() >= 200, 6)
            live = calls(s)
            run.expect(len(live) == 1 and live[0]["user"] == "welcome" and live[0]["codec"] == "pcmu"
                       and live[0]["kind"] == "rtp" and live[0]["packets_sent"] > 0, f"rtc calls: {live}")
            heard = ua.rtp.decoded()
            corr = envelope_correlation(heard, 8000, src, src_rate)
            run.expect(corr > 0.8, f"what the caller hears is the greeting: correlation {corr:.3f}, "
                       f"{rms_dbfs(heard):.1f} dBFS over {len(heard) / 8000:.1f} s")
            # Pacing: 20 ms apart on average, timestamps 160 apart.
            pk = ua.rtp.packets[:150]
            span = pk[-1][0] - pk[0][0]
            run.expect(2.5 < span < 3.5, f"150 packets took {span:.2f} s")
            run.expect(all((b[3] - a[3]) % 2**32 == 160 for a, b in zip(pk, pk[1:])), "timestamps step 160")
            # A re-INVITE gets the same media and the same answer.
            r2 = ua.in_dialog(call, "INVITE", ua.timer_headers(), ua.rtp.offer(["PCMU"]))
            run.expect(r2 is not None and r2.status == 200 and r2.body == call.answer, "re-INVITE: same answer")
            if r2 is not None:
                ua.ack(call)
            opt = ua.in_dialog(call, "OPTIONS")
            run.expect(opt is not None and opt.status == 200, "OPTIONS in the dialog")
            bye = ua.bye(call)
            run.expect(bye is not None and bye.status == 200, "BYE answered 200")
            run.expect(wait_for(lambda: calls(s) == [], 2), "the call is gone after BYE")
            n = ua.rtp.count()
            time.sleep(0.5)
            run.expect(ua.rtp.count() - n <= 2, "media stopped")
        finally:
            ua.close()

    def settle():
        """A case that failed half-way leaves its call to the silence timeout: start from none."""
        wait_for(lambda: calls(s) == [], 6)

    @run.case
    def cancel_while_ringing():
        settle()
        ua = Caller(s.port, "alice", "secret")
        try:
            call = ua.invite("welcome", ua.rtp.offer(["PCMU"]), wait_final=False)
            run.expect(any(p.status == 180 for p in call.provisional), "180 Ringing")
            live = calls(s)
            run.expect(len(live) == 1 and live[0]["state"] == "ringing", f"ringing call listed: {live}")
            c, f = ua.cancel(call)
            run.expect(c is not None and c.status == 200, "200 to CANCEL")
            run.expect(f is not None and f.status == 487, f"487 to the INVITE: {f.start if f else None}")
            run.expect(wait_for(lambda: calls(s) == [], 3), "the call is freed")
            run.expect(ua.rtp.count() == 0, "no media was sent")
        finally:
            ua.close()

    @run.case
    def user_without_audio_is_routed_as_before():
        settle()
        ua = Caller(s.port, "alice", "secret")
        try:
            call = ua.invite("bob", ua.rtp.offer(["PCMU"]))
            run.expect(call.final is not None and call.final.status == 480, "bob is not registered: 480")
            call = ua.invite("nobody", ua.rtp.offer(["PCMU"]))
            run.expect(call.final is not None and call.final.status == 404, "unknown user: 404")
            run.expect(calls(s) == [], "the player took none of them")
        finally:
            ua.close()

    @run.case
    def no_common_codec_is_488():
        settle()
        ua = Caller(s.port, "alice", "secret")
        try:
            sdp = ua.rtp.offer(["PCMU"]).replace("RTP/AVP 0", "RTP/AVP 9").replace("a=rtpmap:0 PCMU/8000",
                                                                                  "a=rtpmap:9 G722/8000")
            call = ua.invite("welcome", sdp)
            r = call.final
            run.expect(r is not None and r.status == 488, f"488: {r.start if r else None}")
            run.expect(r is not None and r.get("Warning", "").startswith("399 "), f"Warning: {r.get('Warning')}")
            call = ua.invite("welcome", "")
            run.expect(call.final is not None and call.final.status == 488, "no offer: 488")
            run.expect(calls(s) == [], "nothing kept")
        finally:
            ua.close()

    @run.case
    def once_hangs_up_at_the_end():
        ua = Caller(s.port, "alice", "secret")
        try:
            call = answered_call(ua, "carol", ("PCMA",))
            if not call:
                return
            bye = ua.wait_request("BYE", call, 5)
            run.expect(bye is not None, "the player sends BYE when the audio is over")
            run.expect(45 <= ua.rtp.count() <= 60, f"one second of audio: {ua.rtp.count()} packets")
            run.expect(wait_for(lambda: calls(s) == [], 2), "the call is gone")
        finally:
            ua.close()

    @run.case
    def session_refreshed_by_the_caller_then_expiring():
        ua = Caller(s.port, "alice", "secret")
        try:
            call = answered_call(ua, headers=ua.timer_headers(4, "uac", 2))
            if not call:
                return
            run.expect(call.final.get("Session-Expires") == "4;refresher=uac", call.final.get("Session-Expires"))
            for _ in range(2):
                time.sleep(2)
                r = ua.in_dialog(call, "UPDATE", ua.timer_headers(4, "uac", 2))
                run.expect(r is not None and r.status == 200 and r.get("Session-Expires") == "4;refresher=uac",
                           f"UPDATE refresh: {r.start if r else None} {r.get('Session-Expires') if r else ''}")
            run.expect(len(calls(s)) == 1, "alive after two refreshes (6 s > the 4 s interval)")
            t0 = time.time()
            bye = ua.wait_request("BYE", call, 6)
            run.expect(bye is not None and 1.5 < time.time() - t0 < 5,
                       "without refresh the player ends the session with BYE (RFC 4028 10)")
            run.expect(wait_for(lambda: calls(s) == [], 2), "the call is gone")
        finally:
            ua.close()

    @run.case
    def player_refreshes_when_it_is_the_refresher():
        ua = Caller(s.port, "alice", "secret")
        try:
            call = answered_call(ua, headers=ua.timer_headers(4, "uas", 2))
            if not call:
                return
            run.expect(call.final.get("Session-Expires") == "4;refresher=uas", call.final.get("Session-Expires"))
            upd = ua.wait_request("UPDATE", call, 4)
            run.expect(upd is not None and upd.get("Session-Expires") == "4;refresher=uas",
                       f"the player refreshes with UPDATE: {upd.get('Session-Expires') if upd else None}")
            time.sleep(3)
            live = calls(s)
            run.expect(len(live) == 1 and live[0]["refresher"] == "uas", f"still playing: {live}")
            ua.bye(call)
            run.expect(wait_for(lambda: calls(s) == [], 2), "gone after BYE")
        finally:
            ua.close()

    @run.case
    def silent_caller_is_gone():
        ua = Caller(s.port, "alice", "secret")
        try:
            call = answered_call(ua)
            if not call:
                return
            time.sleep(1)
            ua.rtp.stop_keepalive()
            bye = ua.wait_request("BYE", call, 8)
            run.expect(bye is not None, "a caller that stopped sending media gets BYE (rtp_timeout)")
            run.expect(wait_for(lambda: calls(s) == [], 2), "the call is freed")
        finally:
            ua.close()

    @run.case
    def delete_and_unassign():
        s.ctl("audio", "unassign", "carol")
        code, err = ctl_fails(s, "audio", "unassign", "carol")
        run.expect(code == 1 and "no audio assigned" in err, err)
        s.ctl("audio", "assign", "carol", "beep")
        s.ctl("audio", "delete", "beep")
        run.expect("carol" not in [a["user"] for a in s.ctl("audio", "assignments")], "assignment gone with it")
        run.expect("beep" not in [a["name"] for a in s.ctl("audio", "list")], "audio gone")

run.finish()
