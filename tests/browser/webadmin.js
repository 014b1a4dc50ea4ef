// Browser tests of the web admin (playwright-core driving Debian's /usr/bin/chromium), run by
// tests/integration/test_webadmin_browser.py, which starts sipd and the SIP clients.
//
// Usage: node tests/browser/webadmin.js   (settings in the environment, see below)
//   SIPD_WEB       base URL of the web admin, e.g. http://127.0.0.1:41234
//   SIPD_ADMIN     admin name, SIPD_ADMIN_PASSWORD its password
//   SIPD_SHOTS     directory for the screenshots (created)
//   SIPD_PROFILE   an empty directory for Chromium's user data
// Output: one line per case, "[PASS] name (1.23s)", "[FAIL] name: why" or "[PENDING] name: why".
// When a case needs the SIP side (a client registering, a call, an OPTIONS), it prints
// "@@ {json request}" and reads one JSON line with the answer on stdin (see ask()).

'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');
const { chromium } = require('playwright-core');

const BASE = process.env.SIPD_WEB;
const ADMIN = process.env.SIPD_ADMIN;
const ADMIN_PASSWORD = process.env.SIPD_ADMIN_PASSWORD;
const SHOTS = process.env.SIPD_SHOTS;
const PROFILE = process.env.SIPD_PROFILE;
const T = Number(process.env.SIPD_TIMEOUT_MS || 10000);

const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
	'--disable-component-update', '--disable-sync', '--use-fake-ui-for-media-stream',
	'--use-fake-device-for-media-stream', '--allow-loopback-in-peer-connection',
	'--disable-features=WebRtcHideLocalIpsWithMdns', '--autoplay-policy=no-user-gesture-required'];
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };
const PAGES = [
	['login', '/login.html'], ['dashboard', '/'], ['users', '/users.html'],
	['registrations', '/registrations.html'], ['sessions', '/sessions.html'], ['routing', '/routing.html'],
	['modules', '/modules.html'], ['nodes', '/nodes.html'], ['audio', '/audio.html'], ['softphone', '/softphone.html'],
];

// ---- the line protocol with the Python side ----

const answers = [];
const waiting = [];
readline.createInterface({ input: process.stdin }).on('line', (line) => {
	const msg = JSON.parse(line);
	const w = waiting.shift();
	if (w)
		w(msg);
	else
		answers.push(msg);
});

/** Asks the Python side to do something on the SIP side; resolves with its JSON answer. */
function ask(request) {
	return new Promise((resolve) => {
		waiting.push(resolve);
		process.stdout.write(`@@ ${JSON.stringify(request)}\n`);
	});
}

// ---- cases ----

const results = { passed: 0, failed: 0, pending: 0 };
const problems = []; // console errors, page errors, CSP violations: none are allowed

class Pending extends Error {}

function expect(cond, what) {
	if (!cond)
		throw new Error(what);
}

let current = null; // the page a failure is photographed on

async function runCase(name, fn) {
	const start = Date.now();
	try {
		await fn();
		results.passed++;
		console.log(`[PASS] ${name} (${((Date.now() - start) / 1000).toFixed(2)}s)`);
	} catch (err) {
		if (err instanceof Pending) {
			results.pending++;
			console.log(`[PENDING] ${name}: ${err.message}`);
			return;
		}
		results.failed++;
		console.log(`[FAIL] ${name}: ${err.message.split('\n')[0]}`);
		if (current)
			await current.screenshot({ path: path.join(SHOTS, `failed-${name}.png`), fullPage: true }).catch(() => {});
		if (err.stack)
			console.log(err.stack.split('\n').slice(1, 4).join('\n'));
	}
}

function watch(page, label) {
	page.on('console', (m) => {
		if (m.type() === 'error')
			problems.push(`${label} ${page.url()}: console error: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push(`${label} ${page.url()}: ${e.message}`));
	// No native alert/confirm is expected; leaving an edited routing script asks "leave?": yes.
	page.on('dialog', (d) => (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
	page.setDefaultTimeout(T);
}

/** A full-page screenshot, cut at 2400 px (desktop), or the first screen (phone, what the hand sees first). */
async function shot(page, name) {
	if (name.startsWith('phone-')) {
		await page.evaluate(() => window.scrollTo(0, 0));
		await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
		return;
	}
	// From the top: the sticky sidebar would otherwise be drawn where the last scroll left it.
	const height = await page.evaluate(() => {
		window.scrollTo(0, 0);
		return document.documentElement.scrollHeight;
	});
	const width = page.viewportSize().width;
	await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true,
		clip: { x: 0, y: 0, width, height: Math.min(height, 2400) } });
}

/** True when no table of the page needs sideways scrolling (all its columns, buttons too, in view). */
async function tablesFit(page) {
	return page.evaluate(() => [...document.querySelectorAll('.table-wrap')].every((w) => w.scrollWidth <= w.clientWidth + 1));
}

/** The text of the page's status line once it matches re. */
async function statusMatching(page, re, timeout = T) {
	const status = page.locator('#status');
	await status.filter({ hasText: re }).waitFor({ timeout });
	return status.textContent();
}

async function confirmDialog(page, button) {
	const dlg = page.locator('dialog[open]');
	await dlg.waitFor({ timeout: T });
	await dlg.getByRole('button', { name: button }).click();
	await dlg.waitFor({ state: 'detached', timeout: T });
}

async function main() {
	fs.mkdirSync(SHOTS, { recursive: true });
	const browser = await chromium.launchPersistentContext(PROFILE, {
		executablePath: '/usr/bin/chromium', headless: true, args: ARGS, viewport: DESKTOP,
	});
	const page = browser.pages()[0] || await browser.newPage();
	watch(page, 'desktop');
	current = page;
	const user = { name: 'carol', password: 'carol-Secret-1' };

	await runCase('unauthenticated_page_goes_to_login', async () => {
		await page.goto(`${BASE}/users.html`);
		await page.waitForURL(/\/login\.html\?next=/, { timeout: T });
		expect(await page.locator('#username').evaluate((e) => e === document.activeElement), 'the name field has the focus');
		await shot(page, 'desktop-login');
	});

	await runCase('login_wrong_password_is_refused_in_words', async () => {
		await page.fill('#username', ADMIN);
		await page.fill('#password', 'not-the-password');
		await page.click('#login-button');
		const text = await statusMatching(page, /wrong|too many/i);
		expect(/wrong admin name or password/i.test(text), `status says why: ${text}`);
		expect(page.url().includes('/login.html'), 'still on the login page');
	});

	await runCase('keyboard_only_login', async () => {
		await page.goto(`${BASE}/login.html?next=%2Fusers.html`);
		await page.locator('#username:focus').waitFor({ timeout: T });
		await page.keyboard.type(ADMIN);
		await page.keyboard.press('Tab');
		await page.keyboard.type(ADMIN_PASSWORD);
		await page.keyboard.press('Enter');
		await page.waitForURL(/\/users\.html$/, { timeout: T });
		await page.locator('h1', { hasText: 'Users' }).waitFor({ timeout: T });
		const cookies = await browser.cookies();
		const c = cookies.find((x) => x.name === 'sipd_session');
		expect(c && c.httpOnly && c.sameSite === 'Strict', `session cookie HttpOnly, SameSite=Strict: ${JSON.stringify(c)}`);
	});

	await runCase('dashboard_shows_live_figures', async () => {
		await page.goto(`${BASE}/`);
		await page.locator('#live-state', { hasText: 'Live updates on' }).waitFor({ timeout: T });
		// Two stats ticks have been drawn once the chart caption counts seconds.
		await page.locator('#chart-cps-text', { hasText: /Last [2-9] s/ }).waitFor({ timeout: T });
		const uptime = await page.textContent('#t-uptime');
		expect(/\d/.test(uptime), `uptime shown: ${uptime}`);
		const drawn = await page.evaluate(() => {
			const c = document.getElementById('chart-cps');
			const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
			let ink = 0;
			for (let i = 3; i < px.length; i += 4)
				ink += px[i] ? 1 : 0;
			return ink;
		});
		expect(drawn > 500, `the chart canvas has a drawing (${drawn} pixels)`);
		await shot(page, 'desktop-dashboard');
	});

	await runCase('add_user_with_inline_validation', async () => {
		await page.goto(`${BASE}/users.html`);
		await page.locator('#users tr').first().waitFor({ timeout: T });
		// Empty and malformed names are refused next to the field, before any request.
		await page.click('#add-button');
		expect(await page.getAttribute('#new-username', 'aria-invalid') === 'true', 'empty name marked invalid');
		expect(/Enter a username/.test(await page.textContent('#new-username-error')), 'empty name explained');
		await page.fill('#new-username', 'bad name@x');
		await page.fill('#new-password', user.password);
		await page.click('#add-button');
		expect(/Only letters/.test(await page.textContent('#new-username-error')), 'bad characters explained');
		await page.fill('#new-username', user.name);
		await page.click('#add-button');
		await statusMatching(page, new RegExp(`User ${user.name} added`));
		await page.locator(`#users tr[data-user="${user.name}"]`).waitFor({ timeout: T });
		expect(await page.locator('#new-username').evaluate((e) => e === document.activeElement), 'focus back in the name field');
		await shot(page, 'desktop-users');
		// The server refuses a duplicate; the page says so at the field.
		await page.fill('#new-username', user.name);
		await page.fill('#new-password', 'whatever');
		await page.click('#add-button');
		await page.locator('#new-username-error', { hasText: 'already' }).waitFor({ timeout: T });
		await page.fill('#new-username', '');
		await page.fill('#new-password', '');
		const answer = await ask({ need: 'user_exists', user: user.name });
		expect(answer.ok, `sipctl users get ${user.name}: ${answer.error}`);
	});

	await runCase('disable_enable_and_password_change', async () => {
		const row = page.locator(`#users tr[data-user="${user.name}"]`);
		await row.getByRole('button', { name: `Disable ${user.name}` }).click();
		await confirmDialog(page, 'Disable');
		await statusMatching(page, new RegExp(`${user.name} is disabled`));
		await row.getByRole('button', { name: `Enable ${user.name}` }).click();
		await statusMatching(page, new RegExp(`${user.name} is enabled`));
		expect(await page.evaluate((n) => document.activeElement.getAttribute('aria-label') === `Disable ${n}`, user.name),
			'focus stays on the toggled button');
		await row.getByRole('button', { name: `Change password of ${user.name}` }).click();
		await page.fill('#passwd-new', 'one-password');
		await page.fill('#passwd-again', 'another');
		await page.click('#passwd-save');
		expect(/differ/.test(await page.textContent('#passwd-again-error')), 'mismatch explained');
		await page.fill('#passwd-new', user.password);
		await page.fill('#passwd-again', user.password);
		await page.click('#passwd-save');
		await statusMatching(page, new RegExp(`Password of ${user.name} changed`));
	});

	await runCase('registration_appears_live', async () => {
		await page.goto(`${BASE}/registrations.html`);
		await page.locator('#live-state', { hasText: 'Live updates on' }).waitFor({ timeout: T });
		await page.evaluate(() => { window.sipdNoReload = true; });
		const answer = await ask({ need: 'register', user: user.name, password: user.password });
		expect(answer.ok, `baresip registered as ${user.name}: ${answer.error}`);
		// The AOR is the user name (registrar without use_domain) or a URI with it.
		const row = page.locator('#bindings tr').filter({ has: page.locator('th', { hasText: new RegExp(`^(sip:)?${user.name}(@|$)`) }) });
		await row.waitFor({ timeout: T });
		expect(await page.evaluate(() => window.sipdNoReload === true), 'the page was not reloaded');
		expect(/baresip/i.test(await row.textContent()), 'the user agent is shown');
		expect(await tablesFit(page), 'the bindings table fits without scrolling sideways');
		await shot(page, 'desktop-registrations');
	});

	await runCase('call_appears_live_with_running_duration_and_goes_after_bye', async () => {
		await page.goto(`${BASE}/sessions.html`);
		await page.locator('#live-state', { hasText: 'Live updates on' }).waitFor({ timeout: T });
		await page.evaluate(() => { window.sipdNoReload = true; });
		const answer = await ask({ need: 'call', from: 'dave', to: user.name });
		expect(answer.ok, `dave calls ${user.name}: ${answer.error}`);
		const row = page.locator('#sessions tr', { hasText: 'sip:dave@' });
		let bye = null;
		try {
			await row.waitFor({ timeout: T });
			const d0 = await row.locator('td[data-label="Duration"]').textContent();
			await page.waitForTimeout(3200); // a 1 s ticker on a loaded machine may lag a second
			const d1 = await row.locator('td[data-label="Duration"]').textContent();
			expect(parseInt(d1, 10) >= parseInt(d0, 10) + 2, `the duration runs: ${d0} then ${d1}`);
			expect(await tablesFit(page), 'the sessions table fits without scrolling sideways');
			await shot(page, 'desktop-sessions');
		} finally {
			bye = await ask({ need: 'hangup' }); // whatever failed, the next case starts without a call
		}
		expect(bye.ok, `caller hung up: ${bye.error}`);
		await row.waitFor({ state: 'detached', timeout: T });
		expect(await page.evaluate(() => window.sipdNoReload === true), 'the page was not reloaded');
	});

	await runCase('end_call_from_the_ui_sends_bye_to_both', async () => {
		await page.locator('#sessions tr', { hasText: 'sip:dave@' }).waitFor({ state: 'detached', timeout: T });
		const answer = await ask({ need: 'call', from: 'dave', to: user.name });
		expect(answer.ok, `dave calls ${user.name}: ${answer.error}`);
		const row = page.locator('#sessions tr', { hasText: 'sip:dave@' });
		await row.waitFor({ timeout: T });
		await row.getByRole('button', { name: /End the call/ }).click();
		await confirmDialog(page, 'End call');
		await statusMatching(page, /both parties were sent a BYE/);
		await row.waitFor({ state: 'detached', timeout: T });
		const closed = await ask({ need: 'wait_closed' });
		expect(closed.ok, `both clients saw a BYE: ${closed.error}`);
	});

	await runCase('routing_editor_refuses_broken_and_applies_good_script', async () => {
		await page.goto(`${BASE}/routing.html`);
		const editor = page.locator('#script');
		await page.waitForFunction(() => document.getElementById('script').value.includes('request_route'), null, { timeout: T });
		const original = await editor.inputValue();
		const lines = original.split('\n');
		const at = lines.findIndex((l) => /request_route\s*\{/.test(l)) + 1; // 0-based index of the next line
		const broken = [...lines.slice(0, at), '\tno_such_function();', ...lines.slice(at)].join('\n');
		await editor.fill(broken);
		await page.click('#check');
		const text = await statusMatching(page, /does not compile/);
		const want = `line ${at + 1}:`;
		expect(text.includes(want), `status names ${want}: ${text}`);
		const mark = page.locator('#problems button').first();
		expect((await mark.textContent()).startsWith(want), 'the problem list starts at that line');
		expect(await page.locator(`#gutter li:nth-child(${at + 1})`).getAttribute('class') === 'error', 'the gutter marks the line');
		// The problem button puts the caret on that line.
		await mark.click();
		const caretLine = await editor.evaluate((t) => t.value.slice(0, t.selectionStart).split('\n').length);
		expect(caretLine === at + 1, `caret on line ${at + 1}, at ${caretLine}`);
		// Applying the broken script is refused too, and nothing changes on the wire.
		await page.click('#apply');
		await confirmDialog(page, 'Apply and reload');
		await statusMatching(page, /Not applied/);
		const before = await ask({ need: 'options' });
		expect(before.reason === 'OK', `OPTIONS still answered "OK": ${JSON.stringify(before)}`);
		await shot(page, 'desktop-routing-error');

		const good = original.replace(/reply\(200, "OK"\);/, 'reply(200, "Hello from the web admin");');
		expect(good !== original, 'the default script answers OPTIONS with reply(200, "OK")');
		await editor.fill(good);
		await page.click('#check');
		await statusMatching(page, /compiles/);
		await page.click('#apply');
		await confirmDialog(page, 'Apply and reload');
		await statusMatching(page, /Applied at/);
		const after = await ask({ need: 'options' });
		expect(after.status === 200 && after.reason === 'Hello from the web admin',
			`OPTIONS answered with the new text: ${JSON.stringify(after)}`);
		await shot(page, 'desktop-routing');
	});

	await runCase('modules_page_lists_loaded_modules', async () => {
		await page.goto(`${BASE}/modules.html`);
		await page.locator('#modules tr', { hasText: 'registrar' }).waitFor({ timeout: T });
		const names = await page.locator('#modules .module-name').allTextContents();
		expect(names.includes('webadmin') && names.includes('tm'), `webadmin and tm listed: ${names}`);
		expect(await tablesFit(page), 'the modules table fits without scrolling sideways');
		await page.locator('#modules tr', { hasText: 'registrar' }).locator('summary').click();
		expect(await page.locator('#modules tr', { hasText: 'registrar' }).locator('dt', { hasText: 'min_expires' }).isVisible(),
			'the registrar\'s parameters fold out');
		await shot(page, 'desktop-modules');
	});

	await runCase('audio_page_answers', async () => {
		await page.goto(`${BASE}/audio.html`);
		// Either the library (rtc_player loaded) or the words saying it is not.
		await page.waitForFunction(() => {
			const s = document.getElementById('status').textContent;
			return /rtc_player/.test(s) || document.querySelector('#library tr');
		}, null, { timeout: T });
		const s = await page.textContent('#status');
		if (/not loaded/.test(s))
			throw new Pending('rtc_player is not loaded in this build: the page says so; upload/assign not exercised');
	});

	await runCase('softphone_registers_over_websocket', async () => {
		await page.goto(`${BASE}/softphone.html`);
		await page.waitForFunction(() => !/Starting|Connecting|Registering/.test(document.getElementById('reg-state').textContent),
			null, { timeout: T }).catch(() => {});
		const state = await page.textContent('#reg-state');
		if (/No WebSocket/.test(state))
			throw new Pending('sipd has no ws listener in this run (the ws transport is not merged): the page says so');
		// sipd is "myself" only on its own ports: an account URI without the port cannot register in a test
		// where sipd is not on 5060. That is the server's answer to fix (GET /api/softphone), not the page's.
		const uri = await page.textContent('#my-uri');
		if (/Registering/.test(state) && !/@[^;>]*:\d+/.test(uri))
			throw new Pending(`GET /api/softphone gives ${uri} without sipd's port, so the REGISTER is relayed away; the page waits at "Registering"`);
		expect(/Registered/.test(state), `JsSIP registered: ${state} / ${await page.textContent('#status')}`);
		// A call to a baresip that speaks WebRTC (DTLS-SRTP, ICE): answered, remote track playing, hung up from the page.
		const callee = await ask({ need: 'register_webrtc', user: 'frank', password: 'frank-pw' });
		expect(callee.ok, `frank (baresip, WebRTC) registered: ${callee.error}`);
		await page.fill('#target', 'frank');
		await page.click('#call-button');
		await page.locator('#call-state', { hasText: 'In call with frank' }).waitFor({ timeout: T });
		// Signalling and the page's handling of the call are checked here; whether DTLS completes between
		// baresip 1.0's ICE and Chromium depends on the host's interfaces (test_ws_jssip.py covers media).
		const answered = await ask({ need: 'webrtc_answered' });
		expect(answered.ok, `baresip answered the page's call: ${answered.error}`);
		const track = await page.evaluate(() => {
			const s = document.getElementById('remote-audio').srcObject;
			return s ? s.getAudioTracks().map((t) => t.readyState).join(',') : 'none';
		});
		expect(track === 'live', `the page plays the remote audio track: ${track}`);
		await page.locator('#call-timer', { hasText: /[1-9] s/ }).waitFor({ timeout: T });
		await shot(page, 'desktop-softphone');
		await page.click('#hangup-button');
		await page.locator('#call-state', { hasText: 'Call ended (you hung up)' }).waitFor({ timeout: T });
		const closed = await ask({ need: 'webrtc_closed' });
		expect(closed.ok, `the page's BYE reached baresip: ${closed.error}`);
		// A call to a user with no registered phone gets sipd's 480, shown in words.
		await page.fill('#target', 'erin');
		await page.click('#call-button');
		await page.locator('#call-state', { hasText: /Call failed: .*\(480 / }).waitFor({ timeout: T });
		expect(await page.locator('#log li', { hasText: 'Calling sip:erin@' }).count() === 1, 'the attempt is logged');
	});

	await runCase('phone_sized_screen_shows_navigation', async () => {
		const phone = await browser.newPage();
		watch(phone, 'phone');
		await phone.setViewportSize(PHONE);
		await phone.goto(`${BASE}/users.html`);
		const menu = phone.getByRole('button', { name: 'Menu' });
		await menu.waitFor({ timeout: T });
		const link = phone.getByRole('link', { name: 'Registrations' });
		expect(!await link.isVisible(), 'links folded behind the menu button');
		await menu.click();
		expect(await menu.getAttribute('aria-expanded') === 'true', 'menu says it is open');
		expect(await link.isVisible(), 'links visible after Menu');
		await link.click();
		await phone.waitForURL(/registrations\.html/, { timeout: T });
		const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
		expect(overflow <= 1, `nothing wider than the screen (${overflow}px too wide)`);
		for (const [name, url] of PAGES) {
			await phone.goto(`${BASE}${url}`);
			await phone.waitForTimeout(name === 'dashboard' ? 1500 : 300);
			await shot(phone, `phone-${name}`);
		}
		await phone.close();
	});

	await runCase('nodes_page_lists_this_node_alive', async () => {
		await page.goto(`${BASE}/nodes.html`);
		const row = page.locator('#nodes tr', { hasText: 'this node' });
		await row.waitFor({ timeout: T });
		expect(await row.locator('td[data-label="State"]').textContent() === 'alive', 'this node is alive');
		const addr = await row.locator('td[data-label="Address"]').textContent();
		expect(/^sip:127\.0\.0\.1:\d+$/.test(addr), `its address: ${addr}`);
		expect(/^\d+$/.test(await row.locator('td[data-label="Bindings"]').textContent()), 'a bindings count');
		expect(/alive/.test(await page.locator('#count').textContent()), 'the count says how many are alive');
		await shot(page, 'desktop-nodes');
	});

	await runCase('screenshots_of_every_page', async () => {
		for (const [name, url] of PAGES) {
			if (fs.existsSync(path.join(SHOTS, `desktop-${name}.png`)))
				continue; // taken by a case above, in a more telling state
			await page.goto(`${BASE}${url}`);
			await page.waitForTimeout(name === 'dashboard' ? 2200 : 500);
			await shot(page, `desktop-${name}`);
		}
		const files = fs.readdirSync(SHOTS).filter((f) => f.endsWith('.png'));
		expect(files.length >= PAGES.length * 2 - 1, `screenshots taken: ${files.length}`);
	});

	await runCase('sign_out_ends_the_session', async () => {
		await page.goto(`${BASE}/`);
		await page.getByRole('button', { name: 'Sign out' }).click();
		await page.waitForURL(/login\.html/, { timeout: T });
		await page.goto(`${BASE}/users.html`);
		await page.waitForURL(/login\.html\?next=/, { timeout: T });
	});

	await runCase('no_script_errors_or_csp_violations', async () => {
		// Answers the cases asked for (401 signed out, 409 duplicate, 422 broken script, 404 module
		// not loaded) are logged by Chromium as failed loads; anything else counts.
		const real = problems.filter((p) => !/Failed to load resource: the server responded with a status of (401|404|409|422)/.test(p));
		expect(!real.length, real.join('\n'));
	});

	await browser.close();
	console.log(`browser: ${results.passed} passed, ${results.failed} failed, ${results.pending} pending`);
	process.exit(results.failed ? 1 : 0);
}

main().catch((err) => {
	console.log(`[FAIL] harness: ${err.stack || err}`);
	process.exit(2);
});
