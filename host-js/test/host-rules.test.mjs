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

test('allow-list matching', () => {
  for (const c of rules.allow) {
    assert.equal(new HttpPolicy({ allow: c.allow }).permits(c.url), c.permitted, JSON.stringify(c));
  }
});
