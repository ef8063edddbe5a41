// Runs the cross-host conformance vectors (tests/vectors/*.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRuntime, AgentcellError, ComponentTrap } from '../src/node.js';

const dir = new URL('../../tests/vectors/', import.meta.url);
const camel = (s) => s.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase());
const kebab = (s) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

// jco value -> the vectors' JSON form.
function toJson(v) {
  if (typeof v === 'bigint') return Number(v);
  if (v === undefined) return null;
  if (v instanceof Uint8Array) return [...v];
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [kebab(k), toJson(x)]));
  }
  return v;
}

// JSON args -> jco values: camelCase record fields, undefined for none, and BigInt for
// the s64 parameters and fields the vectors use.
const BIGINT_PARAMS = { 'diagnostics.counter-add': [1] };
const BIGINT_FIELDS = new Set(['updated-at-unix-ms']);
function toJco(v, key) {
  if (v === null) return undefined;
  if (BIGINT_FIELDS.has(key)) return BigInt(v);
  if (Array.isArray(v)) return v.map((x) => toJco(x));
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), toJco(x, k)]));
  return v;
}
function toArgs(call, args) {
  const big = BIGINT_PARAMS[call] ?? [];
  return args.map((a, i) => {
    if (big.includes(i)) return BigInt(a);
    if (call === 'bench.bytes-in' && i === 0) return new Uint8Array(a);
    if (call === 'bench.sum-f32-list' && i === 0) return new Float32Array(a);
    return toJco(a);
  });
}

const subset = (want, got) => Object.entries(want).every(([k, v]) => JSON.stringify(got?.[k]) === JSON.stringify(v));

for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const { cases } = JSON.parse(readFileSync(new URL(file, dir)));
  for (const c of cases) {
    test(`${file}: ${c.name}`, async () => {
      const rt = await createRuntime({ testBuild: true });
      for (const step of c.steps) {
        const [iface, fn] = step.call.split('.');
        const expect = step.expect;
        let got;
        try {
          got = { value: toJson(await rt.call(camel(iface), camel(fn), ...toArgs(step.call, step.args))) };
        } catch (e) {
          if (e instanceof ComponentTrap) got = { trap: true };
          else if (e instanceof AgentcellError) got = { err: { code: e.code, field: e.field ?? null, message: e.message } };
          else throw e;
        }
        const where = `${step.call} ${JSON.stringify(step.args)}`;
        if ('trap' in expect) assert.deepEqual(got, { trap: true }, where);
        else if ('err' in expect) assert.ok(got.err && subset(expect.err, got.err), `${where}: ${JSON.stringify(got)}`);
        else if ('ok' in expect) assert.deepEqual(got.value, expect.ok, where);
        else if ('fields' in expect) assert.ok(subset(expect.fields, got.value), `${where}: ${JSON.stringify(got)}`);
        else assert.deepEqual(got.value, expect.value, where);
      }
    });
  }
}
