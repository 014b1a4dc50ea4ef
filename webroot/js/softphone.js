// The softphone page: registers this browser with JsSIP over WebSocket (GET /api/softphone) and calls any user.

import { api, errorText } from './api.js';
import { initLayout, notify, el, fieldError, duration } from './ui.js';

const $ = (id) => document.getElementById(id);
// Chromium's default bundle policy: SIP phones (baresip, Linphone) answer without BUNDLE, which max-bundle refuses.
const PC_CONFIG = { iceServers: [], rtcpMuxPolicy: 'require' };

let JsSIP = null;
let ua = null;
let account = null;
let session = null;
let answeredAt = 0;
let clock = null;

initLayout();

function log(text) {
	const list = $('log');
	list.prepend(el('li', {}, `${new Date().toLocaleTimeString()}  ${text}`));
	while (list.childElementCount > 30)
		list.lastChild.remove();
}

function regState(kind, text) {
	$('reg-state').replaceChildren(el('span', { class: `badge ${kind}` }, text));
}

function callState(text) {
	$('call-state').textContent = text;
}

function setButtons() {
	const registered = ua && ua.isRegistered();
	$('call-button').disabled = !registered || !!session;
	$('hangup-button').disabled = !session;
	$('mute-button').disabled = !session || !answeredAt;
}

/** Builds the request URI: a bare user name goes to the domain of our own account. */
function targetUri(text) {
	if (/^sips?:/i.test(text))
		return text;
	const domain = account.uri.replace(/^sips?:[^@]*@/i, '');
	return `sip:${text}@${domain}`;
}

function startClock() {
	answeredAt = Date.now();
	clearInterval(clock);
	const tick = () => {
		$('call-timer').textContent = duration((Date.now() - answeredAt) / 1000);
	};
	tick();
	clock = setInterval(tick, 1000);
}

function attachRemote(pc) {
	pc.addEventListener('track', (e) => {
		const audio = $('remote-audio');
		audio.srcObject = e.streams[0] || new MediaStream([e.track]);
		audio.play().catch(() => log('The browser did not start the audio; click anywhere on the page to hear it.'));
	});
}

function endCall(text) {
	clearInterval(clock);
	session = null;
	answeredAt = 0;
	$('incoming').hidden = true;
	$('remote-audio').srcObject = null;
	$('mute-button').setAttribute('aria-pressed', 'false');
	$('mute-button').textContent = 'Mute';
	callState(text);
	setButtons();
	if (document.activeElement === $('hangup-button') || document.activeElement === $('answer-button')
		|| document.activeElement === document.body)
		$('target').focus();
}

/** Wires one call's events to the page; outgoing or incoming. */
function follow(s, who) {
	session = s;
	s.on('progress', () => {
		callState(`Ringing ${who}…`);
		log(`${who} is ringing`);
	});
	s.on('accepted', () => {
		callState(`In call with ${who}`);
		log(`${who} answered`);
		startClock();
		setButtons();
	});
	s.on('confirmed', () => setButtons());
	s.on('ended', (e) => {
		const by = e.originator === 'remote' ? `${who} hung up` : 'You hung up';
		log(`Call ended: ${by}${e.cause && e.cause !== 'Terminated' ? ` (${e.cause})` : ''}`);
		endCall(`Call ended (${e.originator === 'remote' ? 'the other side hung up' : 'you hung up'})`);
	});
	s.on('failed', (e) => {
		const code = e.message && e.message.status_code >= 300 ? ` (${e.message.status_code} ${e.message.reason_phrase})` : '';
		log(`Call failed: ${e.cause}${code}`);
		endCall(`Call failed: ${e.cause}${code}`);
	});
	setButtons();
}

async function microphone() {
	try {
		return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
	} catch {
		log('No microphone: calling to listen only');
		return null;
	}
}

async function call(target) {
	const uri = targetUri(target);
	const stream = await microphone();
	callState(`Calling ${target}…`);
	log(`Calling ${uri}`);
	const options = {
		pcConfig: PC_CONFIG,
		sessionTimersExpires: 1800,
		eventHandlers: { peerconnection: (e) => attachRemote(e.peerconnection) },
	};
	if (stream) {
		options.mediaStream = stream;
	} else {
		options.mediaConstraints = { audio: false, video: false };
		options.rtcOfferConstraints = { offerToReceiveAudio: true };
	}
	try {
		follow(ua.call(uri, options), target);
	} catch (err) {
		endCall(`Could not call: ${err.message}`);
	}
}

function incoming(s) {
	const from = s.remote_identity.uri.toString();
	log(`Incoming call from ${from}`);
	follow(s, from);
	s.on('peerconnection', (e) => attachRemote(e.peerconnection));
	$('incoming-from').textContent = from;
	$('incoming').hidden = false;
	callState(`${from} is calling`);
	$('answer-button').focus();
}

async function register() {
	if (ua) {
		ua.stop();
		ua = null;
	}
	regState('', 'Starting');
	try {
		account = await api('GET', '/api/softphone');
	} catch (err) {
		regState('off', 'Not available');
		notify('status', 'error', `No softphone account: ${errorText(err)}`);
		return;
	}
	$('my-uri').textContent = account.uri || '—';
	$('ws-url').textContent = account.ws_url || 'none';
	if (!account.ws_url) {
		regState('off', 'No WebSocket');
		notify('status', 'warn', `Browsers cannot reach SIP on this server yet: ${account.message || 'it has no ws or wss listener'}.`);
		log('The server has no WebSocket listener for SIP');
		return;
	}
	if (!JsSIP) {
		try {
			JsSIP = (await import('/vendor/jssip.js')).default;
		} catch {
			regState('off', 'JsSIP missing');
			notify('status', 'error', 'The SIP library is not installed on the server: run scripts/js_setup.sh.');
			return;
		}
	}
	const socket = new JsSIP.WebSocketInterface(account.ws_url);
	ua = new JsSIP.UA({
		sockets: [socket],
		uri: account.uri,
		authorization_user: account.username,
		password: account.password,
		realm: account.realm || undefined,
		register: true,
		session_timers: true,
		user_agent: 'sipd admin softphone',
	});
	ua.on('connecting', () => regState('', 'Connecting'));
	ua.on('connected', () => {
		regState('', 'Registering');
		log(`Connected to ${account.ws_url}; registering as ${account.uri}`);
	});
	ua.on('disconnected', () => {
		regState('off', 'Disconnected');
		log('WebSocket closed; retrying');
		setButtons();
	});
	ua.on('registered', () => {
		regState('ok', 'Registered');
		notify('status', 'ok', `Ready: registered as ${account.uri}.`);
		log(`Registered as ${account.uri}`);
		setButtons();
	});
	ua.on('unregistered', () => {
		regState('', 'Not registered');
		setButtons();
	});
	ua.on('registrationFailed', (e) => {
		const code = e.response ? ` (${e.response.status_code} ${e.response.reason_phrase})` : '';
		regState('off', 'Failed');
		notify('status', 'error', `Registration failed: ${e.cause}${code}.`);
		log(`Registration failed: ${e.cause}${code}`);
		setButtons();
	});
	ua.on('newRTCSession', (e) => {
		if (e.originator !== 'remote')
			return;
		if (session) {
			e.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
			return;
		}
		incoming(e.session);
	});
	ua.start();
}

$('call-form').addEventListener('submit', (e) => {
	e.preventDefault();
	const target = $('target').value.trim();
	if (!fieldError($('target'), target ? '' : 'Enter whom to call.')) {
		$('target').focus();
		return;
	}
	if (!/^sips?:/i.test(target) && !/^[A-Za-z0-9\-_.!~*'()&=+$,;?/]{1,64}$/.test(target)) {
		fieldError($('target'), 'A user name has no spaces or @; give a full sip: address otherwise.');
		$('target').focus();
		return;
	}
	call(target);
	$('hangup-button').focus();
});
$('hangup-button').addEventListener('click', () => {
	if (session)
		session.terminate();
});
$('mute-button').addEventListener('click', () => {
	if (!session)
		return;
	const muted = $('mute-button').getAttribute('aria-pressed') === 'true';
	if (muted)
		session.unmute({ audio: true });
	else
		session.mute({ audio: true });
	$('mute-button').setAttribute('aria-pressed', String(!muted));
	$('mute-button').textContent = muted ? 'Mute' : 'Unmute';
	log(muted ? 'Microphone on' : 'Microphone muted');
});
$('answer-button').addEventListener('click', async () => {
	if (!session)
		return;
	$('incoming').hidden = true;
	const stream = await microphone();
	session.answer(stream ? { mediaStream: stream, pcConfig: PC_CONFIG }
		: { mediaConstraints: { audio: false, video: false }, pcConfig: PC_CONFIG });
	$('hangup-button').focus();
});
$('decline-button').addEventListener('click', () => {
	if (session)
		session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
});
$('reconnect-button').addEventListener('click', register);
window.addEventListener('beforeunload', () => {
	if (ua)
		ua.stop();
});

api('GET', '/api/users?limit=1000').then((data) => {
	$('user-names').replaceChildren(...(data.items || []).map((u) => el('option', { value: u.username })));
}).catch(() => {});
register();
