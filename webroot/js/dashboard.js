// The dashboard: current figures, charts of the last minutes from the `stats` events, and recent activity.

import { api, subscribe, errorText } from './api.js';
import { initLayout, liveState, notify, el, num, uptime, cell, emptyRow } from './ui.js';

const WINDOW = 300; // seconds of history in the charts
const MAX_ACTIVITY = 12;

const series = { cps: [], sessions: [], registrations: [] };
const activity = [];

initLayout({ live: true });

function text(id, value) {
	document.getElementById(id).textContent = value;
}

function showStats(s) {
	if (!s || typeof s !== 'object')
		return;
	text('t-registrations', num(s.registrations));
	text('t-sessions', num(s.sessions));
	text('t-cps', Number.isFinite(s.calls_per_second) ? num(s.calls_per_second, 1) : '—');
	text('t-errors', num(s.errors));
	document.getElementById('tile-errors').classList.toggle('bad', s.errors > 0);
	text('t-uptime', uptime(s.uptime));
	if (s.version)
		text('version-line', `sipd ${s.version}: what the server is doing right now, updated every second.`);
	showCounters(s.modules);
}

function showCounters(modules) {
	const details = document.querySelector('details');
	if (!modules || (!details.open && document.getElementById('counters').childElementCount))
		return; // redraw the long table only while it is open
	const rows = [];
	for (const [group, counters] of Object.entries(modules))
		for (const [name, value] of Object.entries(counters || {}))
			rows.push(el('tr', {}, el('td', { class: 'mono' }, `${group}.${name}`), el('td', { class: 'num' }, num(value))));
	document.getElementById('counters').replaceChildren(...(rows.length ? rows : [emptyRow(2, 'No counters.')]));
}

function push(list, value) {
	list.push(Number.isFinite(value) ? value : 0);
	if (list.length > WINDOW)
		list.shift();
}

function cssVar(name) {
	return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** A "nice" top of scale: 1, 2, 5 times a power of ten, at least max. */
function niceMax(max) {
	if (max <= 1)
		return 1;
	const p = 10 ** Math.floor(Math.log10(max));
	for (const m of [1, 2, 5, 10])
		if (m * p >= max)
			return m * p;
	return 10 * p;
}

/** Draws lines of the last WINDOW seconds (newest at the right) with a light grid and time labels. */
function drawChart(canvas, lines) {
	const ratio = window.devicePixelRatio || 1;
	const w = canvas.clientWidth;
	const h = canvas.clientHeight;
	if (!w || !h)
		return;
	if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
		canvas.width = Math.round(w * ratio);
		canvas.height = Math.round(h * ratio);
	}
	const g = canvas.getContext('2d');
	g.setTransform(ratio, 0, 0, ratio, 0, 0);
	g.clearRect(0, 0, w, h);
	const font = getComputedStyle(document.body).fontFamily;
	const left = 40, right = 8, top = 8, bottom = 22;
	const pw = w - left - right, ph = h - top - bottom;
	const top_ = niceMax(Math.max(0, ...lines.flatMap((l) => l.data)));
	const muted = cssVar('--muted');

	g.font = `11px ${font}`;
	g.lineWidth = 1;
	g.strokeStyle = cssVar('--chart-grid');
	g.fillStyle = muted;
	g.textAlign = 'right';
	g.textBaseline = 'middle';
	for (let i = 0; i <= 4; i++) {
		const y = top + ph - (ph * i) / 4;
		g.beginPath();
		g.moveTo(left, Math.round(y) + 0.5);
		g.lineTo(left + pw, Math.round(y) + 0.5);
		g.stroke();
		const v = (top_ * i) / 4;
		g.fillText(Number.isInteger(v) ? String(v) : v.toFixed(1), left - 6, y);
	}
	g.textAlign = 'center';
	g.textBaseline = 'top';
	for (let m = 0; m <= WINDOW / 60; m++) {
		const x = left + pw - (pw * m * 60) / WINDOW;
		g.fillText(m ? `−${m} min` : 'now', Math.min(Math.max(x, left + 16), left + pw - 12), top + ph + 6);
	}
	for (const line of lines) {
		const n = line.data.length;
		if (!n)
			continue;
		g.strokeStyle = cssVar(line.color);
		g.lineWidth = 2;
		g.lineJoin = 'round';
		g.beginPath();
		line.data.forEach((v, i) => {
			const x = left + pw - (pw * (n - 1 - i)) / (WINDOW - 1);
			const y = top + ph - (ph * v) / top_;
			if (i)
				g.lineTo(x, y);
			else
				g.moveTo(x, y);
		});
		g.stroke();
	}
}

function drawAll() {
	drawChart(document.getElementById('chart-cps'), [{ data: series.cps, color: '--chart-1' }]);
	drawChart(document.getElementById('chart-active'), [
		{ data: series.sessions, color: '--chart-1' },
		{ data: series.registrations, color: '--chart-2' },
	]);
	const n = series.cps.length;
	if (n) {
		const peak = Math.max(...series.cps);
		const avg = series.cps.reduce((a, b) => a + b, 0) / n;
		text('chart-cps-text', `Last ${Math.round(n / 60) >= 1 ? `${Math.round(n / 60)} min` : `${n} s`}: average ${num(avg, 2)}, peak ${num(peak, 1)} calls per second.`);
	}
}

function onTick(s) {
	showStats(s);
	push(series.cps, s.calls_per_second);
	push(series.sessions, s.sessions);
	push(series.registrations, s.registrations);
	drawAll();
}

function remember(kind, detail) {
	activity.unshift({ at: new Date(), kind, detail });
	activity.length = Math.min(activity.length, MAX_ACTIVITY);
	showActivity();
}

function showActivity() {
	const rows = activity.map((a) => el('tr', {},
		cell('Time', a.at.toLocaleTimeString()),
		cell('Event', a.kind),
		cell('Detail', a.detail, { class: 'mono' })));
	document.getElementById('activity').replaceChildren(...(rows.length ? rows
		: [emptyRow(3, 'Nothing yet: registrations and calls show up here as they happen.')]));
}

async function load() {
	try {
		showStats(await api('GET', '/api/stats'));
	} catch (err) {
		notify('status', 'error', `Could not read the statistics: ${errorText(err)}`);
	}
}

showActivity();
load();
subscribe({
	stats: onTick,
	'registration.added': (d) => d && d.new !== false && remember('Registered', `${d.aor} at ${d.contact}`),
	'registration.removed': (d) => d && remember('Unregistered', `${d.aor} (${d.reason || 'removed'})`),
	'session.started': (d) => d && remember('Call started', `${d.caller} → ${d.callee}`),
	'session.ended': (d) => d && remember('Call ended', `${d.call_id} (${d.reason || 'ended'})`),
}, (state) => {
	liveState(state);
	if (state === 'live')
		notify('status', '', '');
});
window.addEventListener('resize', drawAll);
document.querySelector('details').addEventListener('toggle', load);
