// The login page: signs in and goes back to the page that asked for it.

import { login, errorText } from './api.js';
import { notify, fieldError } from './ui.js';

const form = document.getElementById('login-form');
const user = document.getElementById('username');
const pass = document.getElementById('password');
const button = document.getElementById('login-button');

/** Where to go after signing in: a local path from ?next=, else the dashboard. */
function nextPage() {
	const next = new URLSearchParams(location.search).get('next') || '/';
	return next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login.html') ? next : '/';
}

form.addEventListener('submit', async (e) => {
	e.preventDefault();
	const okUser = fieldError(user, user.value.trim() ? '' : 'Enter your admin name.');
	const okPass = fieldError(pass, pass.value ? '' : 'Enter your password.');
	if (!okUser || !okPass) {
		(okUser ? pass : user).focus();
		return;
	}
	button.disabled = true;
	notify('status', 'info', 'Signing in…');
	try {
		await login(user.value.trim(), pass.value);
		notify('status', 'ok', 'Signed in. Opening the admin…');
		location.assign(nextPage());
	} catch (err) {
		notify('status', 'error', err.status === 401 || err.status === 403
			? 'Wrong admin name or password.' : errorText(err));
		pass.value = '';
		pass.focus();
		button.disabled = false;
	}
});

if (new URLSearchParams(location.search).has('next'))
	notify('status', 'info', 'Please sign in to continue.');
user.focus();
