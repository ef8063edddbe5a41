// Opens the page in headless Chromium (Debian's package) and checks what it shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { serveStatic } from './serve.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SKIP = !existsSync(CHROMIUM) && !process.env.CI && `no ${CHROMIUM}`;
// Screenshots of each run, kept as artifacts (target/ is not committed).
const ARTIFACTS = fileURLToPath(new URL('../../target/artifacts/', import.meta.url));

async function withPage(run) {
  const server = await serveStatic();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`http://127.0.0.1:${server.address().port}/web/index.html`);
    await run(page, errors);
  } finally {
    await browser.close();
    server.close();
  }
}

test('the Attuned playground translates in the page as sliders move', { skip: SKIP }, async () => {
  await withPage(async (page, errors) => {
    await page.waitForFunction(() => Number(document.body.dataset.translations ?? 0) >= 1, null, { timeout: 30000 });
    const text = async (id) => page.locator(`#${id}`).textContent();
    const settled = async (expect) => page.waitForFunction(
      ([id, value]) => document.getElementById(id).textContent === value, expect, { timeout: 10000 });
    assert.equal(await text('tone'), 'calm-neutral', errors.join('\n'));
    assert.equal(await page.locator('#guidelines li').count(), 3, 'the base guidelines alone');
    assert.equal(await page.locator('#axes input[type=range]').count(), 23);
    assert.match(await page.locator('details').first().textContent(), /Never for:/, 'governance at hand');

    await page.locator('#axis-warmth').fill('0.9');
    await settled(['tone', 'warm-casual']);
    await page.locator('#axis-formality').fill('0.85');
    await settled(['tone', 'warm-formal']);
    await page.locator('#axis-cognitive_load').fill('0.95');
    await settled(['flags', 'high_cognitive_load']);
    await page.locator('#axis-verbosity_preference').fill('0.1');
    await settled(['verbosity', 'low']);
    const guidelines = await page.locator('#guidelines li').allTextContents();
    assert.deepEqual(guidelines.slice(3), [
      'Be brief, and hold back multi-step plans unless the user asks for one',
      'Be warm and friendly in manner',
      'Write in a formal, professional register',
      'Answer in few words; leave out detail nobody asked for',
    ]);
    const prompt = await text('prompt');
    assert.match(prompt, /^## Interaction guidelines\n- Offer suggestions, not actions\n/);
    assert.match(prompt, /Tone: warm-formal\nVerbosity: low\nFlags: high_cognitive_load$/);
    // Exactly at the threshold is not high.
    await page.locator('#axis-warmth').fill('0.7');
    await settled(['tone', 'neutral-formal']);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}attune-playground.png`, fullPage: true });
    await page.locator('#reset').click();
    await settled(['tone', 'calm-neutral']);
    assert.deepEqual(errors, []);
  });
});

test('a typed message is inferred in the page, and hand-set sliders win', { skip: SKIP }, async () => {
  await withPage(async (page, errors) => {
    await page.waitForFunction(() => Number(document.body.dataset.translations ?? 0) >= 1, null, { timeout: 30000 });
    const settled = async (expect) => page.waitForFunction(
      ([id, value]) => document.getElementById(id).textContent === value, expect, { timeout: 10000 });
    await page.locator('#axis-warmth').fill('0.9'); // by hand: a self report
    await settled(['tone', 'warm-casual']);
    await page.locator('#message').fill(
      'Dear team, I would be grateful if you could kindly review the attached proposal at your convenience.');
    await page.locator('#infer').click();
    await page.waitForFunction(() => document.body.dataset.inferences === '1', null, { timeout: 10000 });
    await settled(['tone', 'warm-formal']); // formality inferred high, warmth kept
    const estimates = await page.locator('#estimates li').allTextContents();
    assert.ok(estimates.some((e) => e.startsWith('formality = 1.00 (confidence 0.31; from politeness_count')), estimates.join('\n'));
    assert.equal(await page.locator('#axis-formality').inputValue(), '1');
    assert.equal(await page.locator('#axis-warmth').inputValue(), '0.9');
    assert.equal(await page.locator('#source').inputValue(), 'mixed');
    assert.equal(await page.locator('#confidence-value').textContent(), '0.31');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}attune-playground-inference.png`, fullPage: true });
    // An empty message estimates nothing and changes nothing.
    await page.locator('#message').fill('');
    await page.locator('#infer').click();
    await page.waitForFunction(() => document.body.dataset.inferences === '2', null, { timeout: 10000 });
    assert.equal(await page.locator('#estimates li').count(), 0);
    assert.equal(await page.locator('#tone').textContent(), 'warm-formal');
    assert.deepEqual(errors, []);
  });
});

test('the page loads the component and shows version, health, storage and HTTP', { skip: SKIP }, async () => {
  await withPage(async (page, errors) => {
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
  });
});

test('two mesh agents in the page exchange signed messages and share a task list', { skip: SKIP }, async () => {
  await withPage(async (page, errors) => {
    const out = await page.evaluate(async () => {
      const m = await import('/src/browser.js');
      const bus = new m.MemoryBus();
      const a = await m.MeshAgent.create(await m.createRuntime({ bus, storage: new m.MemoryStorage() }));
      const b = await m.MeshAgent.create(await m.createRuntime({ bus, storage: new m.MemoryStorage() }));
      const got = [];
      b.subscribe('chat', (msg) => got.push([new TextDecoder().decode(msg.payload), msg.sender]));
      await a.publish('chat', 'hi from the page');
      await a.createTaskList('page', 'board');
      const task = await a.addTask('board', 'render');
      await b.syncTaskList('board');
      await b.claimTask('board', task);
      const list = await a.syncTaskList('board');
      await new Promise((r) => setTimeout(r, 50));
      return { got, sender: a.agentId, state: list.tasks[0].state, assignee: list.tasks[0].assignee, claimer: b.agentId };
    });
    assert.deepEqual(out.got, [['hi from the page', out.sender]], errors.join('\n'));
    assert.equal(out.state, 'claimed');
    assert.equal(out.assignee, out.claimer);
  });
});
