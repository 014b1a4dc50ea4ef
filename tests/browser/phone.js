// A JsSIP phone the browser tests drive through window.phone (register, call, answer, hang up, stats).
import JsSIP from './jssip.js';

const pcConfig = { iceServers: [], rtcpMuxPolicy: 'require' };
const media = { audio: true, video: false };
let ua = null;
let session = null;
const events = [];
let autoAnswer = true;

function log(type, detail = {}) {
  events.push({ type, t: Date.now(), ...detail });
}

function playRemote(pc) {
  // Chromium decodes a remote track only when it plays somewhere (research/clients.md 5.1).
  pc.addEventListener('track', (e) => {
    const el = document.getElementById('remote');
    el.srcObject = e.streams[0] || new MediaStream([e.track]);
    el.play().catch(() => {});
  });
}

function watch(s, originator) {
  session = s;
  s.on('progress', () => log('progress'));
  s.on('sdp', (e) => log('sdp', { originator: e.originator, sdpType: e.type, sdp: e.sdp }));
  s.on('accepted', () => log('accepted'));
  s.on('confirmed', () => log('confirmed'));
  s.on('ended', (e) => log('ended', { originator: e.originator, cause: e.cause }));
  s.on('failed', (e) => log('failed', { originator: e.originator, cause: e.cause }));
  log('session', { originator });
}

if (new URLSearchParams(location.search).has('debug')) JsSIP.debug.enable('JsSIP:*');

window.phone = {
  events,
  register(wsUrl, uri, password, answer = true) {
    autoAnswer = answer;
    return new Promise((resolve) => {
      const socket = new JsSIP.WebSocketInterface(wsUrl);
      ua = new JsSIP.UA({ sockets: [socket], uri, password, register: true, register_expires: 300,
                          session_timers: true, user_agent: 'sipd-ws-test' });
      ua.on('registered', () => { log('registered'); resolve('registered'); });
      ua.on('registrationFailed', (e) => { log('registrationFailed', { cause: e.cause }); resolve(`failed: ${e.cause}`); });
      ua.on('disconnected', () => log('disconnected'));
      ua.on('newRTCSession', (e) => {
        if (e.originator !== 'remote') return;
        watch(e.session, 'remote');
        // The peer connection of an incoming call exists only once answer() made it.
        e.session.on('peerconnection', (ev) => playRemote(ev.peerconnection));
        if (autoAnswer) e.session.answer({ mediaConstraints: media, pcConfig });
      });
      ua.start();
    });
  },
  call(target) {
    const s = ua.call(target, {
      mediaConstraints: media, pcConfig,
      // JsSIP fires peerconnection inside call(): only a handler passed here sees it.
      eventHandlers: { peerconnection: (e) => playRemote(e.peerconnection) },
    });
    watch(s, 'local');
    return true;
  },
  hangup() {
    if (session && !session.isEnded()) session.terminate();
    return true;
  },
  has(type) {
    return events.some((e) => e.type === type);
  },
  last(type) {
    return [...events].reverse().find((e) => e.type === type) || null;
  },
  async stats() {
    const pc = session && session.connection;
    const out = { inboundPackets: 0, outboundPackets: 0, dtls: null, ice: null };
    if (!pc) return out;
    (await pc.getStats()).forEach((r) => {
      if (r.type === 'inbound-rtp' && r.kind === 'audio') out.inboundPackets += r.packetsReceived || 0;
      if (r.type === 'outbound-rtp' && r.kind === 'audio') out.outboundPackets += r.packetsSent || 0;
      if (r.type === 'transport') { out.dtls = r.dtlsState; out.ice = r.iceState; }
    });
    return out;
  },
  stop() {
    if (ua) ua.stop();
    return true;
  },
};
