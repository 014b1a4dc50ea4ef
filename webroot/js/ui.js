// What every page shares on screen: the navigation, status messages, confirmation dialogs, DOM and number helpers.

import { currentUser, logout } from './api.js';

const PAGES = [
	['/', 'Dashboard'],
	['/users.html', 'Users'],
	['/registrations.html', 'Registrations'],
	['/sessions.html', 'Live sessions'],
	['/routing.html', 'Routing'],
	['/nodes.html', 'Nodes'],
	['/modules.html', 'Modules'],
	['/audio.html', 'Audio library'],
	['/softphone.html', 'Softphone'],
];

/**
 * Builds an element: el('button', {class: 'primary', onclick: fn}, 'Save').
 * Attributes starting with "on" become listeners; children are nodes or text (never parsed as HTML).
 */
export function el(tag, attrs = {}, ...children) {
	const node = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k.startsWith('on') && typeof v === 'function')
			node.addEventListener(k.slice(2), v);
		else if (k === 'class')
			node.className = v;
		else if (k === 'dataset')
			Object.assign(node.dataset, v);
		else if (k === 'value' || k === 'checked' || k === 'disabled')
			node[k] = v;
		else
			node.setAttribute(k, v === true ? '' : v);
	}
	for (const c of children.flat()) {
		if (c === undefined || c === null || c === false)
			continue;
		node.append(c instanceof Node ? c : String(c));
	}
	return node;
}

function isCurrent(href) {
	const path = location.pathname;
	if (href === '/')
		return path === '/' || path === '/index.html';
	return path === href;
}

/** Fills the page's <header id="sidebar"> with the brand, the navigation and the sign-out button. */
export function initLayout({ live = false } = {}) {
	const bar = document.getElementById('sidebar');
	const panelId = 'nav-panel';
	const toggle = el('button', {
		type: 'button', class: 'menu-toggle', 'aria-expanded': 'false', 'aria-controls': panelId,
	}, 'Menu');
	const panel = el('div', { class: 'nav-panel', id: panelId },
		el('nav', { 'aria-label': 'Main' },
			el('ul', { class: 'nav-list' },
				PAGES.map(([href, label]) => el('li', {},
					el('a', { href, 'aria-current': isCurrent(href) ? 'page' : null }, label))))),
		el('div', { class: 'nav-foot' },
			live ? el('span', { id: 'live-state', class: 'who' },
				el('span', { class: 'live-dot', 'aria-hidden': 'true' }), 'Connecting…') : null,
			el('span', { class: 'who' }, currentUser() ? `Signed in as ${currentUser()}` : ''),
			el('button', { type: 'button', class: 'small', onclick: logout }, 'Sign out')));
	toggle.addEventListener('click', () => {
		const open = toggle.getAttribute('aria-expanded') !== 'true';
		toggle.setAttribute('aria-expanded', String(open));
		panel.classList.toggle('open', open);
		if (open)
			panel.querySelector('a')?.focus();
	});
	panel.addEventListener('keydown', (e) => {
		if (e.key === 'Escape' && toggle.getAttribute('aria-expanded') === 'true') {
			toggle.click();
			toggle.focus();
		}
	});
	bar.replaceChildren(el('a', { class: 'brand', href: '/' },
		el('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'S'), 'sipd admin'), toggle, panel);
}

/** Shows whether the live event stream is connected (the dot in the navigation). */
export function liveState(state) {
	const box = document.getElementById('live-state');
	if (!box)
		return;
	const on = state === 'live';
	box.replaceChildren(el('span', { class: `live-dot ${on ? 'on' : 'off'}`, 'aria-hidden': 'true' }),
		on ? 'Live updates on' : 'Live updates paused, reconnecting…');
}

/**
 * Writes a message into a notice element (kind: ok, error, info, warn); '' clears it.
 * The element should be a live region (role="status") so that screen readers hear it.
 */
export function notify(target, kind, text) {
	const box = typeof target === 'string' ? document.getElementById(target) : target;
	box.className = `notice ${kind}`;
	box.textContent = text;
}

/**
 * Asks for confirmation in a modal dialog. Resolves true when confirmed; Escape or Cancel
 * resolves false. Focus starts on Cancel and returns to where it was.
 */
export function confirmAction({ title, text, confirm = 'Confirm', danger = true }) {
	return new Promise((resolve) => {
		const back = document.activeElement;
		const cancelBtn = el('button', { type: 'button' }, 'Cancel');
		const okBtn = el('button', { type: 'button', class: danger ? 'danger solid' : 'primary' }, confirm);
		const dlg = el('dialog', { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
			el('h2', { id: 'confirm-title' }, title),
			el('p', { id: 'confirm-text' }, text),
			el('div', { class: 'actions' }, cancelBtn, okBtn));
		const finish = (answer) => {
			dlg.close();
			dlg.remove();
			if (back && back.isConnected)
				back.focus();
			resolve(answer);
		};
		cancelBtn.addEventListener('click', () => finish(false));
		okBtn.addEventListener('click', () => finish(true));
		dlg.addEventListener('cancel', (e) => {
			e.preventDefault();
			finish(false);
		});
		document.body.append(dlg);
		dlg.showModal();
		cancelBtn.focus();
	});
}

/** Seconds as "42 s", "3:07", "1:02:03". */
export function duration(seconds) {
	if (seconds === null || seconds === undefined || !Number.isFinite(seconds))
		return '—';
	const s = Math.max(0, Math.floor(seconds));
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const r = s % 60;
	if (h)
		return `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}`;
	if (m)
		return `${m}:${String(r).padStart(2, '0')}`;
	return `${r} s`;
}

/** Uptime in words: "3 d 4 h", "5 h 12 min", "7 min 3 s". */
export function uptime(seconds) {
	if (!Number.isFinite(seconds))
		return '—';
	const s = Math.floor(seconds);
	const d = Math.floor(s / 86400);
	const h = Math.floor((s % 86400) / 3600);
	const m = Math.floor((s % 3600) / 60);
	if (d)
		return `${d} d ${h} h`;
	if (h)
		return `${h} h ${m} min`;
	if (m)
		return `${m} min ${s % 60} s`;
	return `${s} s`;
}

/** A byte count as "812 B", "3.4 KB", "12.0 MB". */
export function bytes(n) {
	if (!Number.isFinite(n))
		return '—';
	if (n < 1024)
		return `${n} B`;
	if (n < 1024 * 1024)
		return `${(n / 1024).toFixed(1)} KB`;
	return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A number with thousands separators, or '—'. */
export function num(n, digits = 0) {
	if (n === null || n === undefined || !Number.isFinite(Number(n)))
		return '—';
	return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** The array in an answer that is either an array or {key: [...]}. */
export function listOf(data, key = 'items') {
	if (Array.isArray(data))
		return data;
	if (data && Array.isArray(data[key]))
		return data[key];
	return [];
}

/** A table body row for an empty list, spanning all columns. */
export function emptyRow(columns, text) {
	return el('tr', {}, el('td', { class: 'empty', colspan: String(columns) }, text));
}

/** A <td> with the column name for the phone layout (table.cards). */
export function cell(label, content, attrs = {}) {
	return el('td', { 'data-label': label, ...attrs }, content);
}

/** Marks a form field invalid with a message (or valid with ''). */
export function fieldError(input, message) {
	const box = document.getElementById(input.getAttribute('aria-describedby')?.split(' ').find((id) =>
		document.getElementById(id)?.classList.contains('field-error')) || '');
	input.setAttribute('aria-invalid', message ? 'true' : 'false');
	if (box)
		box.textContent = message;
	return !message;
}
