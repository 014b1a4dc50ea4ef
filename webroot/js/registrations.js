// The registrations page: the live list of bindings (added and removed through /api/events); remove one.

import { api, subscribe, errorText } from './api.js';
import { initLayout, liveState, notify, el, confirmAction, duration, cell, emptyRow } from './ui.js';

const LIMIT = 1000;
const $ = (id) => document.getElementById(id);
const bindings = new Map(); // "aor\ncontact" -> {b, deadline, tr}

initLayout({ live: true });

const keyOf = (b) => `${b.aor}\n${b.contact}`;

function expiresText(entry) {
	return duration((entry.deadline - Date.now()) / 1000);
}

function buildRow(entry, flash) {
	const b = entry.b;
	entry.expires = cell('Expires in', expiresText(entry), { class: 'num' });
	entry.tr = el('tr', { class: flash ? 'flash' : null },
		el('th', { scope: 'row', 'data-label': 'Address of record', class: 'mono any' }, b.aor),
		cell('Contact', b.contact, { class: 'mono any' }),
		cell('Transport', el('span', { class: 'badge info' }, (b.transport || '').toUpperCase() || '—')),
		cell('Source and node', el('div', {}, b.received || '—',
			b.node ? el('div', { class: 'hint' }, `node ${b.node}`) : null), { class: 'mono any' }),
		cell('User agent', b.user_agent || '—'),
		entry.expires,
		cell('Actions', el('div', { class: 'actions' },
			el('button', { type: 'button', class: 'small danger', 'aria-label': `Remove the binding ${b.contact} of ${b.aor}`, onclick: () => remove(entry) }, 'Remove')),
		{ class: 'row-actions' }));
	return entry.tr;
}

function matches(entry) {
	const f = $('filter').value.trim().toLowerCase();
	if (!f)
		return true;
	const b = entry.b;
	return [b.aor, b.contact, b.received, b.user_agent, b.node].some((v) => (v || '').toLowerCase().includes(f));
}

/** Puts the rows in order (by AOR, then contact) and shows the count. */
function render() {
	const entries = [...bindings.values()].sort((x, y) =>
		x.b.aor.localeCompare(y.b.aor) || x.b.contact.localeCompare(y.b.contact));
	const shown = entries.filter(matches);
	const body = $('bindings');
	if (!shown.length) {
		body.replaceChildren(emptyRow(7, bindings.size ? 'No binding matches the filter.'
			: 'No phone is registered right now. New registrations appear here as they happen.'));
	} else {
		// Keep the existing row elements (and the focus inside them); only reorder.
		if (body.querySelector('td.empty'))
			body.replaceChildren();
		for (const tr of [...body.children])
			if (!shown.some((e) => e.tr === tr))
				tr.remove();
		shown.forEach((e, i) => {
			if (body.children[i] !== e.tr)
				body.insertBefore(e.tr, body.children[i] || null);
		});
	}
	const n = bindings.size;
	$('count').textContent = `${n} ${n === 1 ? 'binding' : 'bindings'}`;
}

function upsert(b, flash) {
	if (!b || !b.aor || !b.contact)
		return;
	const key = keyOf(b);
	const old = bindings.get(key);
	const entry = { b: { ...(old ? old.b : {}), ...b }, deadline: Date.now() + (Number(b.expires_in) || 0) * 1000 };
	const tr = buildRow(entry, flash);
	if (old && old.tr.isConnected) {
		const focused = old.tr.contains(document.activeElement);
		old.tr.replaceWith(tr);
		if (focused)
			tr.querySelector('button').focus();
	}
	bindings.set(key, entry);
	render();
}

function drop(b) {
	if (!b)
		return;
	const entry = bindings.get(keyOf(b));
	if (!entry)
		return;
	const focused = entry.tr.contains(document.activeElement);
	bindings.delete(keyOf(b));
	entry.tr.remove();
	render();
	if (focused)
		$('filter').focus();
}

async function load() {
	try {
		const data = await api('GET', `/api/registrations?limit=${LIMIT}`);
		const fresh = new Set();
		for (const b of data.items || []) {
			fresh.add(keyOf(b));
			upsert(b, false);
		}
		for (const [key, entry] of bindings)
			if (!fresh.has(key))
				drop(entry.b);
		$('more').textContent = data.total > LIMIT ? `Showing the first ${LIMIT} of ${data.total} bindings.` : '';
		render();
	} catch (err) {
		notify('status', 'error', `Could not load the registrations: ${errorText(err)}`);
	}
}

async function remove(entry) {
	const b = entry.b;
	if (!await confirmAction({
		title: 'Remove this binding?',
		text: `Calls to ${b.aor} stop reaching ${b.contact} until that phone registers again.`,
		confirm: 'Remove binding',
	}))
		return;
	try {
		const qs = new URLSearchParams({ aor: b.aor, contact: b.contact });
		await api('DELETE', `/api/registrations?${qs}`);
		drop(b);
		notify('status', 'ok', `Binding ${b.contact} of ${b.aor} removed.`);
	} catch (err) {
		notify('status', 'error', `Could not remove the binding: ${errorText(err)}`);
	}
}

// Counts down the "expires in" column; bindings that ran out go when the server says so.
setInterval(() => {
	for (const entry of bindings.values())
		entry.expires.textContent = expiresText(entry);
}, 1000);

$('filter').addEventListener('input', render);
render();
load();
let first = true;
subscribe({
	'registration.added': (b) => upsert(b, true),
	'registration.removed': (b) => drop(b),
}, (state) => {
	liveState(state);
	// Events may have been missed while disconnected: read the list again.
	if (state === 'live' && !first)
		load();
	first = false;
});
