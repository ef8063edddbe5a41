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
  if (v && typeof v === 'object' && v.constructor !== Object) return '<resource>'; // a jco resource class
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [kebab(k), toJson(x)]));
  }
  return v;
}

// JSON args -> jco values: camelCase record fields, undefined for none, and BigInt for
// the s64 parameters and fields the vectors use.
const BIGINT_PARAMS = { 'diagnostics.counter-add': [1] };
const BIGINT_FIELDS = new Set(['updated-at-unix-ms']);
function toJco(v, key, bound) {
  if (v === null) return undefined;
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).join() === 'resource') return bound[v.resource];
  if (BIGINT_FIELDS.has(key)) return BigInt(v);
  if (Array.isArray(v)) return v.map((x) => toJco(x, undefined, bound));
  if (typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), toJco(x, k, bound)]));
  return v;
}
function toArgs(call, args, bound) {
  const big = BIGINT_PARAMS[call] ?? [];
  return args.map((a, i) => {
    if (big.includes(i)) return BigInt(a);
    if (call === 'bench.bytes-in' && i === 0) return new Uint8Array(a);
    if (call === 'bench.sum-f32-list' && i === 0) return new Float32Array(a);
    return toJco(a, undefined, bound);
  });
}

const subset = (want, got) => Object.entries(want).every(([k, v]) => JSON.stringify(got?.[k]) === JSON.stringify(v));

for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
  const { cases } = JSON.parse(readFileSync(new URL(file, dir)));
  for (const c of cases) {
    test(`${file}: ${c.name}`, async () => {
      const rt = await createRuntime({ testBuild: true });
      const bound = {};
      for (const step of c.steps) {
        const dot = step.call.indexOf('.');
        const [iface, fn] = [step.call.slice(0, dot), step.call.slice(dot + 1)];
        const expect = step.expect;
        const args = toArgs(step.call, step.args, bound);
        // `[static]store.open` -> Store.open; `[method]store.put` -> a method of args[0].
        const [, kind, resource, method] = fn.match(/^(?:\[(static|method|resource-drop)\])?(?:([a-z-]+)\.)?([a-z0-9-]+)$/);
        if (kind === 'resource-drop') {
          rt.drop(args[0]);
          assert.deepEqual(expect, { value: null });
          continue;
        }
        const pascal = (s) => camel(s).replace(/^./, (c) => c.toUpperCase());
        let got;
        try {
          const out = kind === 'method'
            ? await rt.callMethod(camel(iface), args[0], camel(method), ...args.slice(1))
            : await rt.call(camel(iface), kind === 'static' ? `${pascal(resource)}.${camel(method)}` : camel(method), ...args);
          if (step.bind) bound[step.bind] = out;
          got = { value: toJson(out) };
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
