// The nodes page: every sipd node sharing the database, its state, last heartbeat, and what it holds.

import { api, errorText } from './api.js';
import { initLayout, notify, el, cell, emptyRow, duration } from './ui.js';

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 3000;
const STATES = { alive: ['ok', 'alive'], dead: ['off', 'dead'], stopped: ['', 'stopped'] };

initLayout();

function count(v) {
	return v === null || v === undefined ? '—' : String(v);
}

function row(n) {
	const [cls, word] = STATES[n.state] || ['', n.state || 'unknown'];
	const started = new Date(Number(n.started) * 1000);
	return el('tr', { dataset: { node: n.node_id } },
		el('th', { scope: 'row', 'data-label': 'Node', class: 'mono any' }, n.node_id, ' ',
			n.self ? el('span', { class: 'badge info' }, 'this node') : null),
		cell('Address', n.address || '—', { class: 'mono any' }),
		cell('State', el('span', { class: `badge ${cls}`.trim() }, word)),
		cell('Last seen', `${duration(Math.max(0, Number(n.seen_ago) || 0))} ago`, { class: 'nowrap' }),
		cell('Up since', el('time', { datetime: started.toISOString() }, started.toLocaleString()), { class: 'nowrap' }),
		cell('Bindings', count(n.bindings), { class: 'num' }),
		cell('Sessions', count(n.sessions), { class: 'num' }));
}

async function load() {
	try {
		const data = await api('GET', '/api/nodes');
		const items = data.items || [];
		$('nodes').replaceChildren(...(items.length ? items.map(row) : [emptyRow(7, 'No node is recorded in the database.')]));
		const alive = items.filter((n) => n.state === 'alive').length;
		$('count').textContent = `${alive} of ${items.length} ${items.length === 1 ? 'node' : 'nodes'} alive`;
		if ($('status').classList.contains('error'))
			notify('status', '', '');
	} catch (err) {
		notify('status', 'error', `Could not list the nodes: ${errorText(err)}`);
	}
}

load();
setInterval(load, REFRESH_MS);
