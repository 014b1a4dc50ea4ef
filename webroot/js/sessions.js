// The live sessions page: calls in progress (started/refreshed/ended through /api/events), with "End call".

import { api, subscribe, errorText, seg } from './api.js';
import { initLayout, liveState, notify, el, confirmAction, duration, cell, emptyRow } from './ui.js';

const LIMIT = 1000;
const $ = (id) => document.getElementById(id);
const calls = new Map(); // call_id -> {s, start, deadline, tr, dur, timer}

initLayout({ live: true });

function timerText(entry) {
	const s = entry.s;
	if (entry.deadline === null)
		return 'not negotiated';
	const left = duration((entry.deadline - Date.now()) / 1000);
	const who = s.refresher && s.refresher !== 'none' ? `, ${s.refresher} refreshes` : '';
	return `${duration(s.interval)}${who}; expires in ${left}`;
}

function deadlineOf(s) {
	return s.expires_in === null || s.expires_in === undefined ? null : Date.now() + Number(s.expires_in) * 1000;
}

function buildRow(entry, flash) {
	const s = entry.s;
	const started = new Date(entry.start);
	entry.dur = cell('Duration', duration((Date.now() - entry.start) / 1000), { class: 'num' });
	entry.timer = cell('Session timer', timerText(entry));
	entry.tr = el('tr', { class: flash ? 'flash' : null, dataset: { callId: s.call_id } },
		el('th', { scope: 'row', 'data-label': 'Caller', class: 'mono any' }, s.caller || '—'),
		cell('Callee', s.callee || '—', { class: 'mono any' }),
		cell('Started', el('time', { datetime: started.toISOString() }, started.toLocaleTimeString()), { class: 'nowrap' }),
		entry.dur,
		entry.timer,
		cell('Call-ID', s.call_id, { class: 'mono any' }),
		cell('Node', s.node || '—', { class: 'mono' }),
		cell('Actions', s.local === false
			// Another node holds it (a shared database): that node's admin ends it.
			? el('span', { class: 'muted' }, `held by ${s.node}`)
			: el('div', { class: 'actions' },
				el('button', { type: 'button', class: 'small danger', 'aria-label': `End the call from ${s.caller} to ${s.callee}`, onclick: () => end(entry) }, 'End call')),
		{ class: 'row-actions' }));
	return entry.tr;
}

function render() {
	const entries = [...calls.values()].sort((a, b) => a.start - b.start);
	const body = $('sessions');
	if (!entries.length) {
		body.replaceChildren(emptyRow(8, 'No call in progress. New calls appear here as soon as they are answered.'));
	} else {
		if (body.querySelector('td.empty'))
			body.replaceChildren();
		entries.forEach((e, i) => {
			if (body.children[i] !== e.tr)
				body.insertBefore(e.tr, body.children[i] || null);
		});
	}
	$('count').textContent = `${calls.size} ${calls.size === 1 ? 'call' : 'calls'} in progress`;
}

function add(s, flash) {
	if (!s || !s.call_id)
		return;
	const old = calls.get(s.call_id);
	const parsed = Date.parse(s.started);
	const entry = { s, start: Number.isFinite(parsed) ? Math.min(parsed, Date.now()) : Date.now(), deadline: deadlineOf(s) };
	const tr = buildRow(entry, flash);
	if (old)
		old.tr.replaceWith(tr);
	calls.set(s.call_id, entry);
	render();
}

function refreshed(d) {
	const entry = d && calls.get(d.call_id);
	if (!entry)
		return;
	Object.assign(entry.s, d);
	entry.deadline = deadlineOf(entry.s);
	entry.timer.textContent = timerText(entry);
}

function ended(d, words) {
	const entry = d && calls.get(d.call_id);
	if (!entry)
		return;
	const focused = entry.tr.contains(document.activeElement);
	calls.delete(d.call_id);
	entry.tr.remove();
	render();
	if (words)
		notify('status', 'info', words);
	if (focused)
		$('main').focus();
}

const REASONS = { bye: 'hung up', expired: 'session timer expired', admin: 'ended from the admin', failed: 'failed' };

async function load() {
	try {
		const data = await api('GET', `/api/sessions?limit=${LIMIT}`);
		const fresh = new Set();
		for (const s of data.items || []) {
			fresh.add(s.call_id);
			const old = calls.get(s.call_id);
			// New, or moved between nodes (another node's sessions have no events here).
			if (!old || old.s.node !== s.node || old.s.local !== s.local)
				add(s, false);
		}
		for (const id of [...calls.keys()])
			if (!fresh.has(id))
				ended({ call_id: id });
		render();
	} catch (err) {
		notify('status', 'error', `Could not load the sessions: ${errorText(err)}`);
	}
}

async function end(entry) {
	const s = entry.s;
	if (!await confirmAction({
		title: 'End this call?',
		text: `Both ${s.caller} and ${s.callee} receive a BYE and the call stops.`,
		confirm: 'End call',
	}))
		return;
	try {
		await api('DELETE', `/api/sessions/${seg(s.call_id)}`);
		// The session.ended event may have come first and removed the row already.
		ended(s);
		notify('status', 'ok', `Call from ${s.caller} to ${s.callee} ended: both parties were sent a BYE.`);
		if (document.activeElement === document.body)
			$('main').focus();
	} catch (err) {
		notify('status', 'error', `Could not end the call: ${errorText(err)}`);
	}
}

// Running durations and timer countdowns, redrawn once a second.
setInterval(() => {
	for (const entry of calls.values()) {
		entry.dur.textContent = duration((Date.now() - entry.start) / 1000);
		entry.timer.textContent = timerText(entry);
	}
}, 1000);

// Several nodes on one database: the other nodes' sessions start and end without events here, so the list is read again.
async function pollIfClustered() {
	try {
		const nodes = await api('GET', '/api/nodes?limit=2');
		if ((nodes.total || 0) > 1)
			setInterval(load, 5000);
	} catch (err) {
		// No database: this node is alone and its events say everything.
	}
}

render();
load();
pollIfClustered();
let first = true;
subscribe({
	'session.started': (s) => add(s, true),
	'session.refreshed': refreshed,
	'session.ended': (d) => {
		const entry = d && calls.get(d.call_id);
		if (entry)
			ended(d, `Call from ${entry.s.caller} to ${entry.s.callee} ended (${REASONS[d.reason] || d.reason || 'ended'}).`);
	},
}, (state) => {
	liveState(state);
	if (state === 'live' && !first)
		load();
	first = false;
});
