// The modules page: what is loaded, its version, functions, control methods and parameters.

import { api, errorText } from './api.js';
import { initLayout, notify, el, cell, emptyRow } from './ui.js';

const $ = (id) => document.getElementById(id);

initLayout();

function value(v) {
	if (Array.isArray(v))
		return v.length ? v.join(', ') : '(empty)';
	if (v === null || v === undefined)
		return '—';
	return String(v);
}

function params(m) {
	const entries = Object.entries(m.parameters || {});
	if (!entries.length)
		return el('span', { class: 'muted' }, 'none');
	return el('details', {},
		el('summary', {}, `${entries.length} ${entries.length === 1 ? 'setting' : 'settings'}`),
		el('dl', { class: 'facts mono' }, entries.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, value(v))])));
}

function row(m) {
	const fns = m.functions || [];
	const rpc = m.rpc || [];
	return el('tr', {},
		el('th', { scope: 'row', 'data-label': 'Module', class: 'any' }, el('span', { class: 'mono module-name' }, m.name),
			m.file ? el('div', { class: 'hint mono' }, m.file) : null),
		cell('Version', `${m.version || '—'}${m.abi ? ` (ABI ${m.abi})` : ''}`),
		cell('What it does', el('div', {}, m.description || '—',
			rpc.length ? el('div', { class: 'hint' }, 'Control: ', el('span', { class: 'mono' }, rpc.join(', '))) : null)),
		cell('Script functions', fns.length ? el('span', { class: 'mono' }, fns.map((f) => `${f}()`).join(', ')) : el('span', { class: 'muted' }, 'none')),
		cell('Parameters', params(m), { class: 'params' }));
}

async function load() {
	try {
		const data = await api('GET', '/api/modules');
		const items = data.items || [];
		$('modules').replaceChildren(...(items.length ? items.map(row) : [emptyRow(5, 'No module is loaded.')]));
		$('count').textContent = `${items.length} loaded`;
	} catch (err) {
		notify('status', 'error', `Could not list the modules: ${errorText(err)}`);
	}
}

load();
