import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  createRuntime, HttpPolicy, MemoryStorage, ComponentTrap, HttpDeniedError, HttpTimeoutError,
  InvalidArgumentError,
} from '../src/node.js';
import { startServer } from './helpers.mjs';

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

test('meta answers from the component', async () => {
  const rt = await createRuntime();
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url)));
  assert.equal(await rt.version(), pkg.version);
  assert.match(await rt.rustVersion(), /^agentcell-component \d+\.\d+\.\d+ \(rustc /);
  assert.equal(await rt.healthCheck(), true);
  assert.equal((await rt.describeBuild()).target, 'wasm32-wasip2');
});

test('the counter lives in the host storage and survives a new instance', async () => {
  const storage = new MemoryStorage();
  const first = await createRuntime({ storage });
  assert.equal(await first.counterAdd('runs', 2), 2);
  const second = await createRuntime({ storage });
  assert.equal(await second.counterAdd('runs', 1), 3);
});

test('compare-and-set stores only over the expected value', () => {
  const s = new MemoryStorage().imports();
  assert.equal(s.compareAndSet('ns', 'k', undefined, 'a'), true);
  assert.equal(s.compareAndSet('ns', 'k', undefined, 'b'), false);
  assert.equal(s.compareAndSet('ns', 'k', 'x', 'b'), false);
  assert.equal(s.compareAndSet('ns', 'k', 'a', 'b'), true);
  assert.equal(s.get('ns', 'k'), 'b');
  assert.throws(() => s.compareAndSet('ns', '', undefined, 'c'), (e) => e.payload.tag === 'invalid-key');
});

test('bad input is a typed error naming the field', async () => {
  const rt = await createRuntime();
  await assert.rejects(rt.counterAdd('', 1), (e) => e instanceof InvalidArgumentError && e.field === 'name');
});

test('a trap is reported and the runtime recovers with storage intact', async () => {
  const rt = await createRuntime({ testBuild: true });
  await rt.counterAdd('kept', 41);
  await assert.rejects(rt.call('testing', 'trap', 'boom'), ComponentTrap);
  assert.equal(await rt.counterAdd('kept', 1), 42);
  assert.equal(rt.instantiations, 2);
});

test('HTTP is denied by default and nothing is sent', async () => {
  const rt = await createRuntime();
  const before = await server.hits();
  await assert.rejects(rt.probeUrl(`http://${server.host}/x`), HttpDeniedError);
  assert.equal(await server.hits(), before);
});

test('an allowed destination is probed over real HTTP', async () => {
  const rt = await createRuntime({ http: new HttpPolicy({ allow: [server.host] }) });
  const p = await rt.probeUrl(`http://${server.host}/ok`);
  assert.deepEqual([p.status, p.healthy, p.bodyBytes], [200, true, 19]);
  const t = await rt.probeUrl(`http://${server.host}/teapot`);
  assert.deepEqual([t.status, t.healthy], [418, false]);
});

test('a slow destination times out', async () => {
  const rt = await createRuntime({ http: new HttpPolicy({ allow: [server.host], timeoutMs: 300 }) });
  await assert.rejects(rt.probeUrl(`http://${server.host}/slow`), HttpTimeoutError);
});

test('allow-list rules match the other hosts', () => {
  const cases = [
    [['*'], 'https://example.com/x', true],
    [['example.com'], 'https://EXAMPLE.com:8443/x', true],
    [['example.com:443'], 'https://example.com/x', true],
    [['example.com:443'], 'http://example.com/x', false],
    [['example.com'], 'https://example.com.evil.test/', false],
    [['[::1]:8080'], 'http://[::1]:8080/', true],
    [['*'], 'file:///etc/passwd', false],
    [[], 'http://127.0.0.1/', false],
  ];
  for (const [allow, url, expected] of cases) {
    assert.equal(new HttpPolicy({ allow }).permits(url), expected, `${allow} ${url}`);
  }
});

test('the transpiled component is the very .wasm the other hosts run', () => {
  const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const here = new URL('../agentcell.wasm', import.meta.url);
  const built = new URL('../../target/wasm32-wasip2/release/agentcell_component.wasm', import.meta.url);
  assert.equal(sha(here), sha(built));
});

test('the shipped component has no test-only exports', async () => {
  const shipped = await createRuntime();
  assert.equal(shipped.exports.testing, undefined);
  assert.equal(shipped.exports.bench, undefined);
  const testBuild = await createRuntime({ testBuild: true });
  assert.equal(typeof testBuild.exports.testing.trap, 'function');
});
