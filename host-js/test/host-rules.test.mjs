// The shared host rules (tests/host-rules/rules.json) against this host's storage
// backends and HTTP policy; the Python and Rust hosts run the same file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HttpPolicy, MemoryStorage } from '../src/node.js';

const rules = JSON.parse(readFileSync(new URL('../../tests/host-rules/rules.json', import.meta.url)));
const text = (v) => (typeof v === 'string' ? v : v.repeat.repeat(v.times));

test('key rules hold in the storage backend', () => {
  const s = new MemoryStorage().imports();
  for (const c of rules.keys) {
    const [ns, key] = [text(c.namespace), text(c.key)];
    if (c.valid) {
      s.set(ns, key, 'v');
      assert.equal(s.get(ns, key), 'v', JSON.stringify(c));
    } else {
      assert.throws(() => s.set(ns, key, 'v'), (e) => e.payload?.tag === 'invalid-key', JSON.stringify(c));
    }
  }
  for (const c of rules.list_limits) {
    const list = () => s.listKeys('limits', '', undefined, c.limit);
    if (c.valid) list();
    else assert.throws(list, (e) => e.payload?.tag === 'invalid-key', `limit ${c.limit}`);
  }
});

test('commit applies every write only when every guard holds', () => {
  const s = new MemoryStorage().imports();
  s.setMany('ns', [['rec', 'v1'], ['idx/old', '']]);
  const writes = [['rec', 'v2'], ['idx/old', undefined], ['idx/new', '']];
  assert.equal(s.commit('ns', [['rec', 'v0']], writes), false);
  assert.equal(s.commit('ns', [['rec', 'v1'], ['absent', 'x']], writes), false);
  assert.deepEqual(s.getMany('ns', ['rec', 'idx/old']), ['v1', '']);
  assert.equal(s.commit('ns', [['rec', 'v1'], ['absent', undefined]], writes), true);
  assert.deepEqual(s.getMany('ns', ['rec', 'idx/old', 'idx/new']), ['v2', undefined, '']);
  assert.throws(() => s.commit('ns', [['', undefined]], []), (e) => e.payload?.tag === 'invalid-key');
});

test('allow-list matching', () => {
  for (const c of rules.allow) {
    assert.equal(new HttpPolicy({ allow: c.allow }).permits(c.url), c.permitted, JSON.stringify(c));
  }
});
