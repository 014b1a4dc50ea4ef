// The users page: search and page through the SIP users; add, change password, enable/disable, delete.

import { api, errorText, seg } from './api.js';
import { initLayout, notify, el, confirmAction, fieldError, cell, emptyRow } from './ui.js';

const PAGE = 25;
const NAME_RE = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]{1,64}$/;

const $ = (id) => document.getElementById(id);
const state = { q: '', offset: 0, total: 0, highlight: null };

initLayout();

function checkUsername(value) {
	if (!value)
		return 'Enter a username.';
	if (value.length > 64)
		return 'At most 64 characters.';
	if (!NAME_RE.test(value))
		return 'Only letters, digits and - _ . ! ~ * \' ( ) & = + $ , ; ? / are allowed (no spaces, no @).';
	return '';
}

function checkPassword(value) {
	if (!value)
		return 'Enter a password.';
	if (value.length > 256)
		return 'At most 256 characters.';
	if (/[\r\n]/.test(value))
		return 'No line breaks.';
	return '';
}

function date(seconds) {
	return Number.isFinite(seconds) ? new Date(seconds * 1000).toLocaleDateString() : '—';
}

function row(u) {
	const name = u.username;
	const toggle = el('button', { type: 'button', class: 'small', onclick: (e) => setEnabled(u, e.currentTarget) },
		u.enabled ? 'Disable' : 'Enable');
	toggle.setAttribute('aria-label', `${u.enabled ? 'Disable' : 'Enable'} ${name}`);
	return el('tr', { dataset: { user: name }, class: name === state.highlight ? 'flash' : null },
		el('th', { scope: 'row', 'data-label': 'Username', class: 'mono' }, name),
		cell('Realm', u.realm || ''),
		cell('Status', el('span', { class: `badge ${u.enabled ? 'ok' : 'off'}` }, u.enabled ? 'Enabled' : 'Disabled')),
		cell('Created', date(u.created)),
		cell('Actions', el('div', { class: 'actions' },
			el('button', { type: 'button', class: 'small', 'aria-label': `Change password of ${name}`, onclick: (e) => openPasswd(u, e.currentTarget) }, 'Change password'),
			toggle,
			el('button', { type: 'button', class: 'small danger', 'aria-label': `Delete ${name}`, onclick: () => remove(u) }, 'Delete')),
		{ class: 'row-actions' }));
}

async function load() {
	const qs = new URLSearchParams({ offset: String(state.offset), limit: String(PAGE) });
	if (state.q)
		qs.set('q', state.q);
	try {
		const data = await api('GET', `/api/users?${qs}`);
		const items = data.items || [];
		state.total = data.total || 0;
		if (!items.length && state.offset > 0 && state.total > 0) {
			state.offset = Math.max(0, Math.floor((state.total - 1) / PAGE) * PAGE);
			return load();
		}
		$('users').replaceChildren(...(items.length ? items.map(row)
			: [emptyRow(5, state.q ? `No user name contains “${state.q}”.` : 'No users yet. Add the first one above.')]));
		const first = state.total ? state.offset + 1 : 0;
		const last = state.offset + items.length;
		$('page-info').textContent = state.total ? `${first}–${last} of ${state.total}` : '';
		$('count').textContent = `${state.total} ${state.total === 1 ? 'user' : 'users'}${state.q ? ' match' : ''}`;
		$('prev').disabled = state.offset === 0;
		$('next').disabled = last >= state.total;
		state.highlight = null;
	} catch (err) {
		notify('status', 'error', `Could not load the users: ${errorText(err)}`);
	}
}

/** Shows a 400 that names a field next to that field, anything else in the status line. */
function showError(err, fields, statusId = 'status') {
	const field = err.body && err.body.field;
	if (err.status === 400 && field && fields[field]) {
		fieldError(fields[field], errorText(err));
		fields[field].focus();
		return;
	}
	notify(statusId, 'error', errorText(err));
}

$('add-form').addEventListener('submit', async (e) => {
	e.preventDefault();
	const user = $('new-username'), pass = $('new-password');
	const okUser = fieldError(user, checkUsername(user.value.trim()));
	const okPass = fieldError(pass, checkPassword(pass.value));
	if (!okUser || !okPass) {
		(okUser ? pass : user).focus();
		return;
	}
	const name = user.value.trim();
	$('add-button').disabled = true;
	try {
		await api('POST', '/api/users', { username: name, password: pass.value });
		notify('status', 'ok', `User ${name} added. Their phone can register now.`);
		user.value = '';
		pass.value = '';
		state.q = '';
		$('search').value = '';
		state.highlight = name;
		// Show the page where the new user sits (the list is sorted by name).
		state.offset = 0;
		await locate(name).catch(() => {});
		await load();
		user.focus();
	} catch (err) {
		if (err.status === 409) {
			fieldError(user, `There is already a user ${name}.`);
			user.focus();
		} else {
			showError(err, { username: user, password: pass });
		}
	} finally {
		$('add-button').disabled = false;
	}
});

/** Moves the page to the one holding name (counting the names sorted before it). */
async function locate(name) {
	let offset = 0;
	for (;;) {
		const data = await api('GET', `/api/users?offset=${offset}&limit=1000`);
		const items = data.items || [];
		const i = items.findIndex((u) => u.username === name);
		if (i >= 0) {
			state.offset = Math.floor((offset + i) / PAGE) * PAGE;
			return;
		}
		offset += items.length;
		if (!items.length || offset >= data.total)
			return;
	}
}

for (const id of ['new-username', 'new-password']) {
	$(id).addEventListener('input', (e) => {
		if (e.target.getAttribute('aria-invalid') === 'true')
			fieldError(e.target, id === 'new-username' ? checkUsername(e.target.value.trim()) : checkPassword(e.target.value));
	});
}

async function setEnabled(u, button) {
	const enable = !u.enabled;
	if (!enable && !await confirmAction({
		title: `Disable ${u.username}?`,
		text: 'Their phones can no longer register or call until you enable the account again. Existing calls go on.',
		confirm: 'Disable',
	}))
		return;
	button.disabled = true;
	try {
		const updated = await api('PUT', `/api/users/${seg(u.username)}`, { enabled: enable });
		u.enabled = updated && typeof updated.enabled === 'boolean' ? updated.enabled : enable;
		const tr = button.closest('tr');
		const fresh = row(u);
		tr.replaceWith(fresh);
		notify('status', 'ok', `${u.username} is ${u.enabled ? 'enabled' : 'disabled'}.`);
		fresh.querySelector(`button[aria-label^="${u.enabled ? 'Disable' : 'Enable'}"]`).focus();
	} catch (err) {
		button.disabled = false;
		notify('status', 'error', `Could not change ${u.username}: ${errorText(err)}`);
	}
}

async function remove(u) {
	if (!await confirmAction({
		title: `Delete ${u.username}?`,
		text: 'The account and its password are removed for good. Registered phones stop working when their registration runs out.',
		confirm: 'Delete user',
	}))
		return;
	try {
		await api('DELETE', `/api/users/${seg(u.username)}`);
		notify('status', 'ok', `User ${u.username} deleted.`);
		await load();
		$('search').focus();
	} catch (err) {
		notify('status', 'error', `Could not delete ${u.username}: ${errorText(err)}`);
	}
}

let passwdUser = null;
let passwdButton = null;

function openPasswd(u, button) {
	passwdUser = u;
	passwdButton = button;
	$('passwd-for').textContent = `For ${u.username}. Phones using the old password must be updated.`;
	$('passwd-new').value = '';
	$('passwd-again').value = '';
	fieldError($('passwd-new'), '');
	fieldError($('passwd-again'), '');
	notify('passwd-status', '', '');
	$('passwd-dialog').showModal();
	$('passwd-new').focus();
}

function closePasswd() {
	$('passwd-dialog').close();
	if (passwdButton && passwdButton.isConnected)
		passwdButton.focus();
}

$('passwd-cancel').addEventListener('click', closePasswd);
$('passwd-dialog').addEventListener('cancel', (e) => {
	e.preventDefault();
	closePasswd();
});
$('passwd-form').addEventListener('submit', async (e) => {
	e.preventDefault();
	const p1 = $('passwd-new'), p2 = $('passwd-again');
	if (!fieldError(p1, checkPassword(p1.value))) {
		p1.focus();
		return;
	}
	if (!fieldError(p2, p1.value === p2.value ? '' : 'The two passwords differ.')) {
		p2.focus();
		return;
	}
	$('passwd-save').disabled = true;
	try {
		await api('PUT', `/api/users/${seg(passwdUser.username)}`, { password: p1.value });
		closePasswd();
		notify('status', 'ok', `Password of ${passwdUser.username} changed.`);
	} catch (err) {
		showError(err, { password: p1 }, 'passwd-status');
	} finally {
		$('passwd-save').disabled = false;
	}
});

let searchTimer = null;
$('search').addEventListener('input', () => {
	clearTimeout(searchTimer);
	searchTimer = setTimeout(() => {
		state.q = $('search').value.trim();
		state.offset = 0;
		load();
	}, 250);
});
$('prev').addEventListener('click', () => {
	state.offset = Math.max(0, state.offset - PAGE);
	load();
});
$('next').addEventListener('click', () => {
	state.offset += PAGE;
	load();
});

load();
