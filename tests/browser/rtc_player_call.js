// node tests/browser/rtc_player_call.js URL [chromium flags...]: opens URL in headless Debian Chromium
// (playwright-core), waits for the page's window.result and prints it as JSON on stdout.
'use strict';
const { chromium } = require('playwright-core');

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
                                          args: process.argv.slice(3) });
  try {
    const page = await (await browser.newContext()).newPage();
    page.on('console', (m) => process.stderr.write(`[page] ${m.text()}\n`));
    page.on('pageerror', (e) => process.stderr.write(`[page] error: ${e}\n`));
    await page.goto(process.argv[2]);
    await page.waitForFunction(() => window.result !== null, null, { timeout: 60000 });
    process.stdout.write(JSON.stringify(await page.evaluate(() => window.result)) + '\n');
  } finally {
    await browser.close();
  }
})().catch((e) => {
  process.stdout.write(JSON.stringify({ ok: false, cause: String(e) }) + '\n');
  process.exit(1);
});
