// The web admin's only way to the server: JSON fetches with the CSRF header, errors in words, and the event stream.

const CSRF_KEY = 'sipd.csrf';
const USER_KEY = 'sipd.user';

/** An answer other than 2xx: status, the server's message, and the decoded body. */
export class ApiError extends Error {
	constructor(status, message, body) {
		super(message);
		this.name = 'ApiError';
		this.status = status;
		this.body = body;
	}
}

/** The signed-in admin's name as given at login (for display only), or ''. */
export function currentUser() {
	return localStorage.getItem(USER_KEY) || '';
}

function csrfToken() {
	return localStorage.getItem(CSRF_KEY) || '';
}

/** Asks the server for this session's CSRF token (after a reload that lost it). */
async function refreshCsrf() {
	try {
		const res = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
		if (!res.ok)
			return '';
		const data = await res.json();
		if (typeof data.csrf === 'string')
			localStorage.setItem(CSRF_KEY, data.csrf);
		if (typeof data.username === 'string')
			localStorage.setItem(USER_KEY, data.username);
		return data.csrf || '';
	} catch {
		return '';
	}
}

function forget() {
	localStorage.removeItem(CSRF_KEY);
	localStorage.removeItem(USER_KEY);
}

/** Sends the browser to the login page, coming back here afterwards. */
export function toLogin() {
	const here = location.pathname + location.search;
	location.assign('/login.html?next=' + encodeURIComponent(here));
}

const STATUS_WORDS = {
	400: 'The request was not accepted',
	401: 'Please sign in again',
	403: 'Not allowed',
	404: 'Not found',
	405: 'Not allowed here',
	409: 'It exists already',
	413: 'Too large',
	415: 'Unsupported type',
	422: 'Not valid',
	429: 'Too many attempts, wait a moment',
	500: 'The server had an internal error',
	502: 'The server could not be reached',
	503: 'The server is busy',
};

function messageOf(status, body) {
	if (body && typeof body === 'object' && typeof body.error === 'string' && body.error)
		return body.error;
	if (body && typeof body === 'object' && body.error && typeof body.error.message === 'string')
		return body.error.message;
	return STATUS_WORDS[status] || `The server answered ${status}`;
}

/**
 * Calls the JSON API. body: an object (sent as JSON), a Blob/File (sent raw) or undefined.
 * Returns the decoded JSON (null for an empty answer); throws ApiError. A 401 outside the
 * login request sends the browser to the login page.
 */
export async function api(method, path, body, { raw = false, retried = false } = {}) {
	const headers = { Accept: 'application/json' };
	const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
	const changes = method !== 'GET' && method !== 'HEAD';
	if (changes && path !== '/api/login')
		headers['X-CSRF-Token'] = csrfToken() || await refreshCsrf();
	if (body instanceof Blob) {
		headers['Content-Type'] = body.type || 'application/octet-stream';
		init.body = body;
	} else if (body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	let res;
	try {
		res = await fetch(path, init);
	} catch {
		throw new ApiError(0, 'The server cannot be reached. Is sipd running?', null);
	}
	if (raw && res.ok)
		return res;
	const text = await res.text();
	let data = null;
	if (text) {
		try {
			data = JSON.parse(text);
		} catch {
			data = res.ok ? text : null;
		}
	}
	if (res.status === 401 && path !== '/api/login') {
		forget();
		toLogin();
		throw new ApiError(401, 'Your session ended. Please sign in again.', data);
	}
	// A token lost with the browser's storage: fetch the session's token once and retry.
	if (res.status === 403 && changes && !retried && /csrf/i.test(messageOf(403, data))) {
		await refreshCsrf();
		return api(method, path, body, { raw, retried: true });
	}
	if (!res.ok) {
		const err = new ApiError(res.status, messageOf(res.status, data), data);
		const retry = res.headers.get('Retry-After');
		if (res.status === 429 && retry)
			err.message += ` (try again in ${retry} s)`;
		throw err;
	}
	return data;
}

/** Signs in; keeps the CSRF token for the following requests. Throws ApiError. */
export async function login(username, password) {
	const data = await api('POST', '/api/login', { username, password });
	if (!data || typeof data.csrf !== 'string')
		throw new ApiError(500, 'The server did not answer with a session token', data);
	localStorage.setItem(CSRF_KEY, data.csrf);
	localStorage.setItem(USER_KEY, data.username || username);
	return data;
}

/** Signs out (even if the server is gone) and shows the login page. */
export async function logout() {
	try {
		await api('POST', '/api/logout');
	} catch {
		/* the session is forgotten here either way */
	}
	forget();
	location.assign('/login.html');
}

/** A readable sentence for any error thrown by api(). */
export function errorText(err) {
	if (err instanceof ApiError)
		return err.message;
	return (err && err.message) || String(err);
}

/** URL-path form of a name (user, audio file, call-id). */
export function seg(name) {
	return encodeURIComponent(name);
}

/**
 * Subscribes to the server's event stream (one EventSource per page).
 * handlers: {type: fn(data)} for event types such as 'stats' or 'registration.added';
 * onState(state) is told 'live' or 'down'. Returns a function that closes the stream.
 */
export function subscribe(handlers, onState = () => {}) {
	let source = null;
	let retry = null;
	let closed = false;

	const dispatch = (type, raw) => {
		let data = null;
		try {
			data = raw ? JSON.parse(raw) : null;
		} catch {
			return;
		}
		// An unnamed message may carry its type inside: {"type": ..., "data": ...}.
		if (type === 'message' && data && typeof data.type === 'string') {
			type = data.type;
			data = 'data' in data ? data.data : data;
		}
		const fn = handlers[type];
		if (fn)
			fn(data);
	};

	const open = () => {
		source = new EventSource('/api/events', { withCredentials: true });
		source.onopen = () => onState('live');
		source.onmessage = (e) => dispatch('message', e.data);
		for (const type of Object.keys(handlers))
			source.addEventListener(type, (e) => dispatch(type, e.data));
		source.onerror = () => {
			onState('down');
			if (source.readyState !== EventSource.CLOSED)
				return; // the browser reconnects by itself
			source.close();
			// Closed for good: maybe the session ended (api() then goes to the login page).
			api('GET', '/api/stats').catch(() => {});
			if (!closed)
				retry = setTimeout(open, 3000);
		};
	};
	open();
	return () => {
		closed = true;
		clearTimeout(retry);
		if (source)
			source.close();
	};
}
