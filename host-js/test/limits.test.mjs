// Limits in the JS host (issue 19): a deadline stops an endless loop (Node), a memory
// cap stops a memory bomb, each a ResourceLimitError; the runtime goes on with its data;
// the component reaches no file, environment or socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { createRuntime, CORE_LIMITS, ComponentTrap, MemoryStorage, ResourceLimitError } from '../src/node.js';
import { capMemory } from '../src/limits.js';

test('the default caps memory at 1 GiB and sets no deadline', async () => {
  const rt = await createRuntime();
  assert.deepEqual(rt.limits, { memoryMb: 1024, callTimeoutMs: null });
  assert.deepEqual(CORE_LIMITS, { memoryMb: 1024, callTimeoutMs: null });
});

test('a deadline stops an endless loop and the runtime goes on', async () => {
  const storage = new MemoryStorage();
  const rt = await createRuntime({ testBuild: true, storage, limits: { callTimeoutMs: 200 } });
  await rt.counterAdd('kept', 5);
  const started = Date.now();
  await assert.rejects(rt.call('testing', 'spin'), (e) => {
    assert.ok(e instanceof ResourceLimitError && e instanceof ComponentTrap);
    assert.equal(e.limit, 'time');
    assert.equal(e.message, 'testing.spin ran past its time limit of 200 ms and was stopped');
    return true;
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 190 && elapsed < 2000, `${elapsed} ms`);
  assert.equal(await rt.counterGet('kept'), 5);
  assert.equal(rt.instantiations, 2);
  for (let i = 0; i < 20; i++) assert.equal(await rt.healthCheck(), true);
});

test('a memory cap stops a memory bomb and the runtime goes on', async () => {
  const rt = await createRuntime({ testBuild: true, limits: { memoryMb: 64 } });
  await rt.counterAdd('kept', 7);
  await assert.rejects(rt.call('testing', 'hog', 4), (e) => {
    assert.ok(e instanceof ResourceLimitError, String(e));
    assert.equal(e.limit, 'memory');
    assert.match(e.message, /^testing\.hog needed more memory than its cap of 64 MiB/);
    return true;
  });
  assert.equal(await rt.counterGet('kept'), 7);
});

test('a trap that is no limit stays a plain ComponentTrap', async () => {
  const rt = await createRuntime({ testBuild: true, limits: { memoryMb: 64, callTimeoutMs: 1000 } });
  await assert.rejects(rt.call('testing', 'trap', 'not a limit'), (e) => e instanceof ComponentTrap && !(e instanceof ResourceLimitError));
});

test('the cap is written into the memory section', () => {
  // (module (memory 1)) and (memory 1 100000): both capped at 64 MiB = 1024 pages.
  const noMax = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1]);
  assert.deepEqual([...capMemory(noMax, 64 << 20).slice(8)], [5, 5, 1, 1, 1, 128, 8]);
  const bigMax = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 6, 1, 1, 1, 160, 141, 6]);
  assert.deepEqual([...capMemory(bigMax, 64 << 20).slice(8)], [5, 5, 1, 1, 1, 128, 8]);
  assert.equal(capMemory(noMax, null), noMax);
  assert.throws(() => capMemory(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 100]), 1 << 20), RangeError);
});

test('the component reaches no file, no environment and no socket', async () => {
  process.env.AGENTCELL_SECRET = 'must-not-be-seen';
  const server = createServer();
  let connected = false;
  server.on('connection', () => { connected = true; });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const rt = await createRuntime({ testBuild: true });
  const report = await rt.call('testing', 'ambient', server.address().port);
  server.close();
  for (const key of ['readFile', 'writeFile', 'tcpConnect']) assert.match(report[key], /^denied:/, `${key}: ${report[key]}`);
  assert.equal(report.environment, '');
  assert.equal(connected, false);
});
