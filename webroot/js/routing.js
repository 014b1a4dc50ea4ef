// The routing page: edit the running script with line numbers; Check marks errors at line:column; Apply reloads it live.

import { api, errorText } from './api.js';
import { initLayout, notify, el, confirmAction } from './ui.js';

const $ = (id) => document.getElementById(id);
const text = $('script');
const gutter = $('gutter');
let running = ''; // the script the server runs
let errorLines = new Set();

initLayout();

function dirty() {
	return text.value !== running;
}

function drawGutter() {
	const lines = text.value.split('\n').length;
	if (gutter.childElementCount !== lines) {
		const items = [];
		for (let i = 1; i <= lines; i++)
			items.push(el('li', {}, String(i)));
		gutter.replaceChildren(...items);
	}
	[...gutter.children].forEach((li, i) => li.classList.toggle('error', errorLines.has(i + 1)));
	gutter.scrollTop = text.scrollTop;
}

/** Offset in the text of line:column (both from 1; a tab counts as one column). */
function offsetOf(line, column) {
	const lines = text.value.split('\n');
	let off = 0;
	for (let i = 0; i < Math.min(line - 1, lines.length); i++)
		off += lines[i].length + 1;
	const len = (lines[line - 1] || '').length;
	return off + Math.min(Math.max(column - 1, 0), len);
}

/** Puts the caret at line:column and scrolls it into view. */
function goTo(line, column) {
	const at = offsetOf(line, column);
	text.focus();
	text.setSelectionRange(at, at);
	const lineHeight = parseFloat(getComputedStyle(text).lineHeight) || 18;
	text.scrollTop = Math.max(0, (line - 1) * lineHeight - text.clientHeight / 3);
	drawGutter();
}

function showProblems(errors) {
	errorLines = new Set(errors.map((e) => Number(e.line)).filter(Number.isFinite));
	const list = errors.map((e) => el('li', {},
		el('button', { type: 'button', class: 'small', onclick: () => goTo(e.line, e.column) },
			`line ${e.line}:${e.column}`), e.message));
	$('problems').replaceChildren(...list);
	$('problems-box').hidden = !errors.length;
	text.setAttribute('aria-invalid', errors.length ? 'true' : 'false');
	drawGutter();
}

function describe(errors) {
	const e = errors[0];
	const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
	return `line ${e.line}:${e.column}: ${e.message}${more}`;
}

async function load() {
	try {
		const data = await api('GET', '/api/routing');
		running = data.script || '';
		text.value = running;
		$('script-path').textContent = data.path ? `Running from ${data.path}` : '';
		showProblems([]);
		notify('status', '', '');
	} catch (err) {
		notify('status', 'error', `Could not read the routing script: ${errorText(err)}`);
	}
}

/** 422 answers carry the compiler's errors; shows them and returns true. */
function compileErrors(err, what) {
	const errors = err.status === 422 && err.body && Array.isArray(err.body.errors) ? err.body.errors : null;
	if (!errors || !errors.length)
		return false;
	showProblems(errors);
	notify('status', 'error', `${what}: ${describe(errors)}`);
	$('problems').querySelector('button').focus();
	return true;
}

async function check() {
	$('check').disabled = true;
	notify('status', 'info', 'Checking…');
	try {
		await api('POST', '/api/routing/check', { script: text.value });
		showProblems([]);
		notify('status', 'ok', dirty() ? 'The script compiles. Apply it to make it live.' : 'The script compiles. It is the one running.');
	} catch (err) {
		if (!compileErrors(err, 'The script does not compile'))
			notify('status', 'error', `Could not check the script: ${errorText(err)}`);
	} finally {
		$('check').disabled = false;
	}
}

async function apply() {
	if (!await confirmAction({
		title: 'Apply this script?',
		text: 'It replaces the running routing at once for every new message. Calls in progress go on. The previous file is kept as a backup.',
		confirm: 'Apply and reload',
		danger: false,
	}))
		return;
	$('apply').disabled = true;
	notify('status', 'info', 'Applying…');
	try {
		const res = await api('PUT', '/api/routing', { script: text.value });
		running = text.value;
		showProblems([]);
		const backup = res && res.backup ? ` The previous script was saved as ${res.backup}.` : '';
		notify('status', 'ok', `Applied at ${new Date().toLocaleTimeString()}: the server reloaded the script and runs it now.${backup}`);
	} catch (err) {
		if (!compileErrors(err, 'Not applied, the script does not compile'))
			notify('status', 'error', `Not applied: ${errorText(err)}. The running script is unchanged.`);
	} finally {
		$('apply').disabled = false;
	}
}

async function revert() {
	if (dirty() && !await confirmAction({
		title: 'Discard your changes?',
		text: 'The editor goes back to the script the server is running now.',
		confirm: 'Discard changes',
	}))
		return;
	await load();
	notify('status', 'ok', 'The editor shows the running script.');
	text.focus();
}

text.addEventListener('input', () => {
	if (errorLines.size) {
		errorLines = new Set();
		text.setAttribute('aria-invalid', 'false');
	}
	drawGutter();
});
text.addEventListener('scroll', () => {
	gutter.scrollTop = text.scrollTop;
});
text.addEventListener('keydown', (e) => {
	if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
		e.preventDefault();
		check();
	}
});
$('check').addEventListener('click', check);
$('apply').addEventListener('click', apply);
$('revert').addEventListener('click', revert);
window.addEventListener('beforeunload', (e) => {
	if (dirty())
		e.preventDefault();
});

drawGutter();
load().then(drawGutter);
