// The browser side of test_rtc_player_browser.py: JsSIP over ws calls the player and reports, in
// window.result, what getStats() saw of the received audio (codec, packets, audio level).
// Query: ws, uri, pass, target, secs.
import JsSIP from '/webroot/vendor/jssip.js';

const q = new URLSearchParams(location.search);
const secs = Number(q.get('secs') || 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
window.result = null;
let done = false;

function finish(r) {
  if (done) return;
  done = true;
  window.result = r;
}

async function inbound(pc) {
  const stats = await pc.getStats();
  let rtp = null;
  const codecs = {};
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') rtp = s;
    if (s.type === 'codec') codecs[s.id] = s.mimeType;
  });
  return rtp && { packets: rtp.packetsReceived || 0, level: rtp.audioLevel || 0,
                  codec: codecs[rtp.codecId] || '' };
}

const ua = new JsSIP.UA({ sockets: [new JsSIP.WebSocketInterface(q.get('ws'))], uri: q.get('uri'),
                          password: q.get('pass'), register: false, session_timers: true });
ua.on('connected', () => {
  let pc;
  const session = ua.call(q.get('target'), {
    mediaConstraints: { audio: true, video: false },
    pcConfig: { iceServers: [], bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' },
    sessionTimersExpires: 90,
    eventHandlers: {
      peerconnection: (e) => {
        pc = e.peerconnection;
        // Chromium decodes (and reports audioLevel) only for a track that plays somewhere.
        pc.addEventListener('track', (ev) => {
          const el = document.getElementById('remote');
          el.srcObject = ev.streams[0] || new MediaStream([ev.track]);
          el.play().catch(() => {});
        });
      },
    },
  });
  session.on('confirmed', async () => {
    let best = { packets: 0, level: 0, codec: '' };
    for (let i = 0; i < secs * 4; i++) {
      await sleep(250);
      const s = await inbound(pc);
      if (s) best = { packets: s.packets, level: Math.max(best.level, s.level), codec: s.codec };
    }
    session.terminate();
    finish({ ok: true, ice: pc.iceConnectionState, ...best });
  });
  session.on('failed', (e) => finish({ ok: false, cause: e.cause,
                                        code: e.message && e.message.status_code }));
});
ua.start();
setTimeout(() => finish({ ok: false, cause: 'timeout' }), (secs + 20) * 1000);
