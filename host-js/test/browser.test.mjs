// Opens the page in headless Chromium (Debian's package) and checks what it shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { serveStatic } from './serve.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

test('the page loads the component and shows version, health, storage and HTTP', { skip: !existsSync(CHROMIUM) && !process.env.CI && `no ${CHROMIUM}` }, async () => {
  const server = await serveStatic();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/web/index.html`);
    await page.waitForFunction(() => !document.getElementById('denied').textContent.includes('loading'), null, { timeout: 30000 });
    const text = async (id) => page.locator(`#${id}`).textContent();
    assert.equal(await text('version'), '0.1.0', errors.join('\n'));
    assert.match(await text('rust-version'), /^agentcell-component 0\.1\.0 \(rustc /);
    assert.equal(await text('health'), 'healthy');
    assert.equal(await text('visits'), '1');
    assert.match(await text('probe'), /^200 healthy=true \d+ bytes$/);
    assert.match(await text('denied'), /^HttpDeniedError: .*allow-list/);
    await page.reload();
    await page.waitForFunction(() => !document.getElementById('denied').textContent.includes('loading'), null, { timeout: 30000 });
    assert.equal(await text('visits'), '2', 'the counter persists in localStorage');
    await page.screenshot({ path: join(tmpdir(), 'agentcell-page.png') });
  } finally {
    await browser.close();
    server.close();
  }
});
