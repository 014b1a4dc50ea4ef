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

function count(n, noun) {
	return `${num(n)} ${noun}${n === 1 ? '' : 's'}`;
}

function push(list, value) {
	list.push(Number.isFinite(value) ? value : 0);
	if (list.length > WINDOW)
		list.shift();
}

function cssVar(name) {
	return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** A round grid step (1, 2, 2.5 or 5 times a power of ten) so that 4 steps cover max; whole numbers for counts. */
function niceStep(max, whole) {
	const raw = Math.max(max, whole ? 4 : 1) / 4;
	const p = 10 ** Math.floor(Math.log10(raw));
	for (const m of whole && p < 10 ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10])
		if (m * p >= raw)
			return Math.max(m * p, whole ? 1 : 0);
	return 10 * p;
}

/** Draws lines of the last WINDOW seconds (newest at the right) with a light grid and time labels. */
function drawChart(canvas, lines, whole) {
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
	const step = niceStep(Math.max(0, ...lines.flatMap((l) => l.data)), whole);
	const top_ = step * 4;
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
		const v = step * i;
		g.fillText(Number.isInteger(v) ? String(v) : String(+v.toFixed(2)), left - 6, y);
	}
	g.textAlign = 'center';
	g.textBaseline = 'top';
	const every = pw < 360 ? 2 : 1; // minutes between time labels, fewer on a narrow chart
	for (let m = 0; m <= WINDOW / 60; m += every) {
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
	drawChart(document.getElementById('chart-cps'), [{ data: series.cps, color: '--chart-1' }], false);
	drawChart(document.getElementById('chart-active'), [
		{ data: series.sessions, color: '--chart-1' },
		{ data: series.registrations, color: '--chart-2' },
	], true);
	const n = series.cps.length;
	if (n) {
		const peak = Math.max(...series.cps);
		const avg = series.cps.reduce((a, b) => a + b, 0) / n;
		const span = n >= 60 ? `${Math.round(n / 60)} min` : `${n} s`;
		text('chart-cps-text', `Last ${span}: average ${num(avg, 2)}, peak ${num(peak, 1)} calls per second.`);
		text('chart-active-text', `Now ${count(series.sessions[n - 1], 'active call')} and ${count(series.registrations[n - 1], 'registration')}; at most ${count(Math.max(...series.sessions), 'call')} at once in the last ${span}.`);
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
drawAll();
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
