// Plugins in the JS host (issue 19): the shared vectors, hostile plugins stopped,
// grants denied and namespaced, the config file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpPolicy, MemoryStorage, Plugin, PLUGIN_LIMITS, PluginError, ResourceLimitError, ComponentTrap } from '../src/node.js';
import { loadPlugins } from '../src/plugins.js';
import { startServer } from './helpers.mjs';

const GEN = new URL('../gen-plugins/', import.meta.url).pathname;
const VECTORS = JSON.parse(readFileSync(new URL('../../tests/plugin-vectors/plugins.json', import.meta.url)));
const TEST_LIMITS = { memoryMb: 64, callTimeoutMs: 300 };
const dirOf = (file) => join(GEN, file.replace(/\.wasm$/, ''));

let server;
before(async () => { server = await startServer(); });
after(() => server.stop());

function kindOf(e) {
  if (e instanceof PluginError) return e.kind;
  if (e instanceof ResourceLimitError) return e.limit;
  if (e instanceof ComponentTrap) return 'trap';
  throw e;
}

for (const c of VECTORS.cases) {
  test(`vector: ${c.name}`, async () => {
    const grants = c.kv ? { storage: new MemoryStorage() } : {};
    const plugin = await Plugin.load(dirOf(c.plugin), { grants, limits: TEST_LIMITS });
    for (const call of c.calls) {
      if ('error' in call) {
        await assert.rejects(plugin.call(call.input), (e) => kindOf(e) === call.error || assert.fail(`${e}`));
      } else {
        assert.deepEqual(await plugin.call(call.input), call.output, JSON.stringify(call));
      }
    }
  });
}

test('a plugin describes itself and its defaults are tight', async () => {
  const p = await Plugin.load(dirOf('text_stats.wasm'));
  assert.equal(p.name, 'text-stats');
  assert.deepEqual(p.info, { name: 'text-stats', version: '0.1.0', description: 'Word and character counts of a text' });
  assert.deepEqual(p.limits, PLUGIN_LIMITS);
});

test('hostile plugins are stopped with clear errors and recover', async () => {
  const p = await Plugin.load(dirOf('misbehave.wasm'), { limits: TEST_LIMITS });
  await assert.rejects(p.call({ do: 'spin' }), { message: 'plugin.call ran past its time limit of 300 ms and was stopped' });
  await assert.rejects(p.call({ do: 'hog' }), /needed more memory than its cap of 64 MiB/);
  assert.deepEqual(await p.call({ do: 'echo' }), { do: 'echo' });
  assert.equal((await p.call({ do: 'read-file' })).ok, false);
  assert.equal((await p.call({ do: 'write-file' })).ok, false);
  assert.equal((await p.call({ do: 'connect', port: 9 })).ok, false);
});

test('HTTP is denied without a grant and outside the allow-list, sent inside it', async () => {
  const url = `http://${server.host}/ok`;
  const bare = await Plugin.load(dirOf('misbehave.wasm'));
  assert.match((await bare.call({ do: 'fetch', url })).error, /no HTTP grant/);
  const elsewhere = await Plugin.load(dirOf('misbehave.wasm'), { grants: { http: new HttpPolicy({ allow: ['api.example.com'] }) } });
  assert.match((await elsewhere.call({ do: 'fetch', url })).error, /allow-list/);
  const allowed = await Plugin.load(dirOf('misbehave.wasm'), { grants: { http: new HttpPolicy({ allow: [server.host] }) } });
  assert.deepEqual(await allowed.call({ do: 'fetch', url }), { ok: true, status: 200, body: 'hello from loopback' });
});

test('key-value is namespaced per plugin', async () => {
  const storage = new MemoryStorage();
  const one = await Plugin.load(dirOf('misbehave.wasm'), { name: 'one', grants: { storage } });
  const two = await Plugin.load(dirOf('misbehave.wasm'), { name: 'two', grants: { storage } });
  await one.call({ do: 'kv', key: 'k', value: 'from one' });
  assert.equal((await two.call({ do: 'kv', key: 'j', value: 'x' })).value, 'x');
  assert.equal(storage.imports().get('plugin/one', 'k'), 'from one');
  assert.equal(storage.imports().get('plugin/two', 'k'), undefined);
});

test('plugins load from a config file; a bad one names the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'plugins-'));
  const config = join(dir, 'plugins.json');
  writeFileSync(config, JSON.stringify({ plugins: {
    stats: { path: dirOf('text_stats.wasm'), kv: true },
    tight: { path: dirOf('misbehave.wasm'), call_timeout_ms: 100, memory_mb: 32 },
  } }));
  const set = await loadPlugins(config, { storage: new MemoryStorage() });
  assert.deepEqual(set.names(), ['stats', 'tight']);
  assert.equal((await set.get('stats').call({ text: 'a b' })).calls, 1);
  assert.deepEqual(set.get('tight').limits, { memoryMb: 32, callTimeoutMs: 100 });
  assert.throws(() => set.get('nope'), /no plugin "nope"/);
  writeFileSync(config, JSON.stringify({ plugins: { p: { path: 'x.wasm', memroy_mb: 1 } } }));
  await assert.rejects(loadPlugins(config), /plugins\.p\.memroy_mb: not a key/);
});
