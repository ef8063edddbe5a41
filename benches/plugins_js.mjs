// The limits benchmark's JS figures (Node): calls per second of the core's no-op and of
// a no-op plugin (echo), without limits, with the memory cap, and with a deadline (the
// node:vm watchdog), and of the same echo as JSON.parse/stringify. Prints JSON.
//
//     node benches/plugins_js.mjs 1.0
import { createRuntime, Plugin } from '../host-js/src/node.js';

const seconds = Number(process.argv[2] ?? 1) / 3;
const INPUT = '{"do": "echo", "id": 42, "tags": ["a", "b"]}';

async function perSecond(fn) {
  for (let i = 0; i < 100; i++) await fn();
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < seconds * 1000) {
    for (let i = 0; i < 100; i++) await fn();
    n += 100;
  }
  return n / ((performance.now() - start) / 1000);
}

// Configurations measured in turns, three rounds, best of each: a JS process slows as
// it runs (garbage from every call's promises), so whichever went first would win.
const configs = [['no_limits', { memoryMb: null }], ['memory_cap', { memoryMb: 1024 }], ['cap_and_deadline', { memoryMb: 1024, callTimeoutMs: 1000 }]];
const dir = new URL('../host-js/gen-plugins/misbehave', import.meta.url).pathname;
const calls = {};
for (const [name, limits] of configs) {
  const rt = await createRuntime({ testBuild: true, limits });
  const plugin = await Plugin.load(dir, { limits: { memoryMb: limits.memoryMb, callTimeoutMs: limits.callTimeoutMs ?? null } });
  calls[`core_noop_${name}`] = () => rt.call('bench', 'noop');
  calls[`plugin_echo_${name}`] = () => plugin.callJson(INPUT);
}
calls.native_echo = () => JSON.stringify(JSON.parse(INPUT));
const out = {};
for (let round = 0; round < 3; round++) {
  for (const [key, fn] of Object.entries(calls)) out[key] = Math.max(out[key] ?? 0, await perSecond(fn));
}
console.log(JSON.stringify(out));
