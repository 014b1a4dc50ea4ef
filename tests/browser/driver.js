// Drives headless Chromium (Debian's, through playwright-core) for the browser tests: one JSON
// command per line on stdin, one JSON answer per line on stdout. Commands:
//   {"id", "op": "open", "page", "url"}   a new page (own context) at url, ready once window.phone exists
//   {"id", "op": "eval", "page", "js"}    evaluates js in the page (awaited), answers its value
//   {"id", "op": "quit"}
// Chromium flags come from the command line (research/clients.md 5.1).
'use strict';
const readline = require('readline');
const { chromium } = require('playwright-core');

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

(async () => {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true, args: process.argv.slice(2),
  });
  const pages = {};
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', async (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch (e) {
      out({ ok: false, error: `bad command: ${line}` });
      return;
    }
    try {
      let result = null;
      if (cmd.op === 'open') {
        const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
        const page = await ctx.newPage();
        page.on('console', (m) => process.stderr.write(`[${cmd.page}] ${m.text()}\n`));
        page.on('pageerror', (e) => process.stderr.write(`[${cmd.page}] page error: ${e}\n`));
        await page.goto(cmd.url);
        await page.waitForFunction(() => window.phone !== undefined, null, { timeout: 10000 });
        pages[cmd.page] = page;
        result = true;
      } else if (cmd.op === 'eval') {
        result = await pages[cmd.page].evaluate(cmd.js);
      } else if (cmd.op === 'quit') {
        out({ id: cmd.id, ok: true, result: true });
        await browser.close();
        process.exit(0);
      } else {
        throw new Error(`unknown op ${cmd.op}`);
      }
      out({ id: cmd.id, ok: true, result });
    } catch (e) {
      out({ id: cmd.id, ok: false, error: String(e) });
    }
  });
  rl.on('close', async () => {
    await browser.close();
    process.exit(0);
  });
  out({ ready: true });
})().catch((e) => {
  out({ ok: false, error: String(e) });
  process.exit(1);
});
