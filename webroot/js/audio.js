// The audio library page: upload, listen, delete recordings; assign them to users; the calls being played to.

import { api, subscribe, errorText, seg } from './api.js';
import { initLayout, liveState, notify, el, confirmAction, fieldError, duration, num, bytes, cell, emptyRow } from './ui.js';

const MAX_UPLOAD = 20 * 1024 * 1024; // webadmin's default max_upload; the server has the last word (413)
const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;
const USER_RE = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]{1,64}$/;
const $ = (id) => document.getElementById(id);
const calls = new Map();
let library = [];

initLayout({ live: true });
$('max-size').textContent = bytes(MAX_UPLOAD);

/** A 404 naming rtc_player means the module is not loaded: say so once and disable the forms. */
function unavailable(err) {
	if (err.status !== 404 || !/rtc_player/.test(errorText(err)))
		return false;
	notify('status', 'warn', 'The audio player (module rtc_player) is not loaded on this server. Add it to modules.conf to play recordings to callers.');
	for (const b of document.querySelectorAll('form button'))
		b.disabled = true;
	return true;
}

function fail(what, err) {
	if (!unavailable(err))
		notify('status', 'error', `${what}: ${errorText(err)}`);
}

/** Shows message at input and puts the focus there. */
function invalid(input, message) {
	fieldError(input, message);
	input.focus();
}

function checkName(v) {
	if (!v)
		return 'Enter a name for the recording.';
	if (!NAME_RE.test(v))
		return 'Use 1 to 64 letters, digits, - _ or . (not at the start).';
	return '';
}

function checkFile(f) {
	if (!f)
		return 'Choose an audio file.';
	if (f.size === 0)
		return 'The file is empty.';
	if (f.size > MAX_UPLOAD)
		return `The file is ${bytes(f.size)}; the limit is ${bytes(MAX_UPLOAD)}.`;
	return '';
}

/** A name from a file name: extension dropped, other characters replaced by '-'. */
function nameFromFile(file) {
	return file.name.replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[.-]+/, '').slice(0, 64);
}

function libraryRow(a) {
	const player = el('audio', { controls: true, preload: 'none', src: `/api/audio/${seg(a.name)}/file`, 'aria-label': `Play ${a.name}` });
	return el('tr', { dataset: { audio: a.name } },
		el('th', { scope: 'row', 'data-label': 'Name', class: 'mono' }, a.name),
		cell('Format', a.format || a.content_type || '—'),
		cell('Length', Number.isFinite(a.duration_ms) ? duration(a.duration_ms / 1000) : '—', { class: 'num' }),
		cell('Users', num(a.users), { class: 'num' }),
		cell('Listen', player),
		cell('Actions', el('div', { class: 'actions' },
			el('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${a.name}`, onclick: () => removeAudio(a) }, 'Delete')),
		{ class: 'row-actions' }));
}

async function loadLibrary() {
	try {
		const data = await api('GET', '/api/audio');
		library = data.items || [];
		$('library').replaceChildren(...(library.length ? library.map(libraryRow)
			: [emptyRow(6, 'No recordings yet. Upload one above.')]));
		const select = $('assign-audio');
		const keep = select.value;
		select.replaceChildren(...(library.length ? library.map((a) => el('option', { value: a.name }, a.name))
			: [el('option', { value: '' }, 'Upload a recording first')]));
		if (library.some((a) => a.name === keep))
			select.value = keep;
	} catch (err) {
		$('library').replaceChildren(emptyRow(6, 'The library could not be read.'));
		fail('Could not read the audio library', err);
	}
}

function assignmentRow(a) {
	return el('tr', {},
		el('th', { scope: 'row', 'data-label': 'User', class: 'mono' }, a.user),
		cell('Recording', a.audio, { class: 'mono' }),
		cell('At the end', el('span', { class: 'badge info' }, a.mode === 'once' ? 'hang up' : 'loop')),
		cell('Actions', el('div', { class: 'actions' },
			el('button', { type: 'button', class: 'small danger', 'aria-label': `Stop answering ${a.user} with audio`, onclick: () => unassign(a) }, 'Unassign')),
		{ class: 'row-actions' }));
}

async function loadAssignments() {
	try {
		const data = await api('GET', '/api/assignments');
		const items = (data.items || []).sort((x, y) => x.user.localeCompare(y.user));
		$('assignments').replaceChildren(...(items.length ? items.map(assignmentRow)
			: [emptyRow(4, 'No user is answered with audio. Calls ring their phones as usual.')]));
	} catch (err) {
		$('assignments').replaceChildren(emptyRow(4, 'The assignments could not be read.'));
		fail('Could not read the assignments', err);
	}
}

async function loadUsers() {
	try {
		const data = await api('GET', '/api/users?limit=1000');
		$('user-names').replaceChildren(...(data.items || []).map((u) => el('option', { value: u.username })));
	} catch {
		/* only suggestions */
	}
}

function callRow(c) {
	const media = [c.kind, c.codec].filter(Boolean).join(', ');
	return el('tr', { class: 'flash' },
		el('th', { scope: 'row', 'data-label': 'User called', class: 'mono' }, c.user || '—'),
		cell('Recording', c.audio || '—', { class: 'mono' }),
		cell('Media', media || '—'),
		cell('Peer', c.peer || '—', { class: 'mono' }),
		cell('Packets sent', num(c.packets_sent), { class: 'num' }),
		cell('Call-ID', c.call_id || '—', { class: 'mono any' }));
}

function drawCalls() {
	const list = [...calls.values()];
	$('calls').replaceChildren(...(list.length ? list.map(callRow)
		: [emptyRow(6, 'Nobody is listening right now.')]));
}

async function loadCalls() {
	try {
		const data = await api('GET', '/api/rtc/calls');
		calls.clear();
		for (const c of data.items || [])
			calls.set(c.call_id, c);
		drawCalls();
	} catch (err) {
		$('calls').replaceChildren(emptyRow(6, 'The player calls could not be read.'));
		fail('Could not read the player calls', err);
	}
}

$('audio-file').addEventListener('change', () => {
	const f = $('audio-file').files[0];
	fieldError($('audio-file'), f ? checkFile(f) : '');
	if (f && !$('audio-name').value.trim()) {
		$('audio-name').value = nameFromFile(f);
		fieldError($('audio-name'), '');
	}
});

$('upload-form').addEventListener('submit', async (e) => {
	e.preventDefault();
	const file = $('audio-file').files[0];
	const name = $('audio-name').value.trim();
	const okFile = fieldError($('audio-file'), checkFile(file));
	const okName = fieldError($('audio-name'), checkName(name));
	if (!okFile || !okName) {
		(okFile ? $('audio-name') : $('audio-file')).focus();
		return;
	}
	$('upload-button').disabled = true;
	notify('status', 'info', `Uploading ${file.name} (${bytes(file.size)}) and converting it…`);
	try {
		await api('POST', `/api/audio?name=${encodeURIComponent(name)}`, file);
		notify('status', 'ok', `Recording ${name} added. Assign it to a user to play it to their callers.`);
		$('upload-form').reset();
		await loadLibrary();
		$('assign-audio').value = name;
		$('library').querySelector(`tr[data-audio="${CSS.escape(name)}"]`)?.classList.add('flash');
		$('audio-file').focus();
	} catch (err) {
		if (err.status === 409)
			invalid($('audio-name'), `There is already a recording named ${name}.`);
		else if (err.status === 413)
			invalid($('audio-file'), 'The file is larger than the server accepts.');
		else if (err.status === 400)
			invalid(/name/i.test(errorText(err)) ? $('audio-name') : $('audio-file'), errorText(err));
		if (!unavailable(err))
			notify('status', 'error', `Not uploaded: ${errorText(err)}`);
	} finally {
		$('upload-button').disabled = false;
	}
});

async function removeAudio(a) {
	const users = Number(a.users) || 0;
	if (!await confirmAction({
		title: `Delete ${a.name}?`,
		text: users ? `${users} ${users === 1 ? 'user is' : 'users are'} answered with it; deleting it may be refused until they are unassigned.`
			: 'The recording is removed from the library for good.',
		confirm: 'Delete recording',
	}))
		return;
	try {
		await api('DELETE', `/api/audio/${seg(a.name)}`);
		notify('status', 'ok', `Recording ${a.name} deleted.`);
		await loadLibrary();
		$('audio-file').focus();
	} catch (err) {
		fail(`Could not delete ${a.name}`, err);
	}
}

$('assign-form').addEventListener('submit', async (e) => {
	e.preventDefault();
	const user = $('assign-user').value.trim();
	const audio = $('assign-audio').value;
	const mode = document.querySelector('input[name="mode"]:checked').value;
	const okUser = fieldError($('assign-user'), !user ? 'Enter the user whose calls the server answers.'
		: USER_RE.test(user) ? '' : 'That is not a valid user name.');
	const okAudio = fieldError($('assign-audio'), audio ? '' : 'Upload a recording first.');
	if (!okUser || !okAudio) {
		(okUser ? $('assign-audio') : $('assign-user')).focus();
		return;
	}
	$('assign-button').disabled = true;
	try {
		await api('PUT', `/api/users/${seg(user)}/audio`, { audio, mode });
		notify('status', 'ok', `Calls to ${user} are now answered with ${audio} (${mode === 'once' ? 'played once, then hang up' : 'in a loop'}).`);
		$('assign-user').value = '';
		await Promise.all([loadAssignments(), loadLibrary()]);
		$('assign-user').focus();
	} catch (err) {
		if (err.status === 404 && /user/i.test(errorText(err)))
			invalid($('assign-user'), errorText(err));
		else
			fail('Could not assign', err);
	} finally {
		$('assign-button').disabled = false;
	}
});

async function unassign(a) {
	try {
		await api('DELETE', `/api/users/${seg(a.user)}/audio`);
		notify('status', 'ok', `Calls to ${a.user} ring their phones again.`);
		await Promise.all([loadAssignments(), loadLibrary()]);
		$('assign-user').focus();
	} catch (err) {
		fail(`Could not unassign ${a.user}`, err);
	}
}

drawCalls();
loadLibrary();
loadAssignments();
loadUsers();
loadCalls();
let first = true;
subscribe({
	'rtc.call.started': (c) => {
		if (c && c.call_id) {
			calls.set(c.call_id, c);
			drawCalls();
		}
	},
	'rtc.call.ended': (c) => {
		if (c && calls.delete(c.call_id))
			drawCalls();
	},
}, (state) => {
	liveState(state);
	if (state === 'live' && !first)
		loadCalls();
	first = false;
});
