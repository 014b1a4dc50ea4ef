// chromium_interop.js: headless Chromium (playwright-core, /usr/bin/chromium) offers audio, rtc_media_play
// answers through the media engine (ICE-lite + DTLS-SRTP + Opus), and the page's getStats() must show
// packets, decoded audio above silence and a connected DTLS transport.
// usage: node chromium_interop.js REPO_ROOT PLAY_BINARY [SECS]   -> prints one JSON line, exit 0 = PASS
'use strict';
const path = require('path');
const { spawn } = require('child_process');

const [root, playBin, secsArg] = process.argv.slice(2);
const secs = Number(secsArg || 5);
const { chromium } = require(path.join(root, 'node_modules', 'playwright-core'));

function answerFrom(child) {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d.toString();
      const i = out.indexOf('\n--\n');
      if (i >= 0) resolve(out.slice(0, i + 1));
    });
    child.on('exit', (code) => reject(new Error(`rtc_media_play exited ${code}: ${out}`)));
  });
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--allow-loopback-in-peer-connection',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
      '--disable-features=WebRtcHideLocalIpsWithMdns'],
  });
  let child;
  let result = { pass: false };
  try {
    const page = await browser.newPage();
    await page.setContent('<audio id="a" autoplay></audio>');
    const offer = await page.evaluate(async () => {
      const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
      window.pc = pc;
      pc.addTransceiver('audio', { direction: 'recvonly' });
      pc.ontrack = (e) => {
        const a = document.getElementById('a');
        a.srcObject = new MediaStream([e.track]);
        a.play();
      };
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((r) => {
        if (pc.iceGatheringState === 'complete') r();
        pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
        setTimeout(r, 3000);
      });
      return pc.localDescription.sdp;
    });
    child = spawn(playBin, [String(secs + 2)], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.end(offer);
    const answer = await answerFrom(child);
    await page.evaluate(async (sdp) => { await window.pc.setRemoteDescription({ type: 'answer', sdp }); }, answer);
    await page.waitForTimeout(secs * 1000);
    const stats = await page.evaluate(async () => {
      const out = { iceState: window.pc.iceConnectionState };
      (await window.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          Object.assign(out, { packetsReceived: s.packetsReceived, packetsLost: s.packetsLost,
            jitter: s.jitter, audioLevel: s.audioLevel, totalAudioEnergy: s.totalAudioEnergy,
            totalSamplesReceived: s.totalSamplesReceived });
        }
        if (s.type === 'transport') {
          Object.assign(out, { dtlsState: s.dtlsState, srtpCipher: s.srtpCipher, dtlsRole: s.dtlsRole });
        }
      });
      return out;
    });
    result = { ...stats };
    result.pass = stats.dtlsState === 'connected' && stats.packetsReceived > 40 * secs &&
      stats.totalAudioEnergy > 0 && stats.totalSamplesReceived > 0;
  } catch (e) {
    result.error = String(e);
  } finally {
    await browser.close();
    if (child) child.kill('SIGTERM');
  }
  console.log(JSON.stringify(result));
  process.exit(result.pass ? 0 : 1);
})();
