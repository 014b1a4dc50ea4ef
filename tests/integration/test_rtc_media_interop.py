#!/usr/bin/env python3
"""The media engine against real peers: headless Chromium (playwright-core) and aiortc offer audio with no
SIP in between, baresip calls a minimal UAS (plain RTP, SDES-SRTP, DTLS-SRTP); build/.../rtc_media_play
answers through the engine and each peer must decode the 440 Hz tone.
usage: test_rtc_media_interop.py BUILD_DIR"""
import json
import os
import subprocess

from sipdtest import ROOT, TestRun

run = TestRun("rtc_media_interop")
PLAY = os.path.join(run.build, "modules", "rtc_player", "media", "rtc_media_play")
TESTS = os.path.join(ROOT, "modules", "rtc_player", "media", "tests")


def result_of(cmd, timeout):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    run.expect(lines, f"no result from {cmd[0]}: rc={p.returncode} {p.stdout[-500:]} {p.stderr[-500:]}")
    return p.returncode, json.loads(lines[-1])


@run.case
def chromium_hears_opus_over_dtls_srtp():
    run.expect(os.path.isdir(os.path.join(ROOT, "node_modules", "playwright-core")),
               "node_modules missing: run scripts/js_setup.sh")
    rc, r = result_of(["node", os.path.join(TESTS, "chromium_interop.js"), ROOT, PLAY, "4"], 60)
    run.expect(r.get("dtlsState") == "connected", f"DTLS not connected: {r}")
    run.expect(r.get("packetsReceived", 0) > 160, f"too few packets: {r}")
    run.expect(r.get("totalAudioEnergy", 0) > 0, f"silence: {r}")
    run.expect(rc == 0, f"chromium_interop failed: {r}")


@run.case
def aiortc_hears_the_tone():
    rc, r = result_of(["/usr/bin/python3", os.path.join(TESTS, "aiortc_interop.py"), PLAY], 40)
    run.expect(rc == 0 and r["frames"] == 150, f"aiortc: {r}")
    run.expect(r["rms"] > 2000, f"aiortc heard too little: {r}")


def baresip(mode):
    rc, r = result_of(["python3", os.path.join(TESTS, "baresip_interop.py"), PLAY, mode], 60)
    run.expect(r.get("recordings"), f"baresip recorded nothing: {r}")
    run.expect(rc == 0, f"baresip did not hear the tone over {mode}: {r}")


@run.case
def baresip_hears_plain_rtp():
    baresip("rtp")


@run.case
def baresip_hears_sdes_srtp():
    baresip("sdes")


@run.case
def baresip_hears_dtls_srtp():
    baresip("dtls")


run.finish()
