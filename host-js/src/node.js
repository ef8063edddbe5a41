// Node entry point: loads the transpiled component from disk.
import { readFile } from 'node:fs/promises';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { Runtime } from './runtime.js';
import { nodeTransport } from './node-http.js';
import { capMemory } from './limits.js';

export * from './errors.js';
export { HttpPolicy } from './policy.js';
export { MemoryStorage, KeyValueStorage } from './storage.js';
export { Runtime } from './runtime.js';
export { MemoryBus } from './bus.js';
export { MeshAgent } from './mesh.js';
export { MeshHttpClient, MeshHttpError } from './mesh-http.js';
export { sqliteSnapshot } from './sqlite-snapshot.js';
export { PartitionedStore, partitionFile } from './memory.js';
export { CORE_LIMITS } from './limits.js';
export { Plugin, PLUGIN_LIMITS } from './plugins.js';

// One cache of compiled core modules per file and memory cap (the cap is written into
// the module: see limits.js).
const modules = new Map();
export function coreModules(dir) {
  return (name, maxBytes = null) => {
    const url = new URL(`${dir}/${name}`, import.meta.url);
    const key = `${url.href} ${maxBytes}`;
    if (!modules.has(key)) {
      modules.set(key, readFile(url).then((b) => WebAssembly.compile(capMemory(new Uint8Array(b), maxBytes))));
    }
    return modules.get(key);
  };
}

/** WASI that grants nothing: no preopened directory, no environment, no sockets (the
 * component reaches the network only through its `http-client` import). */
export function sandboxedWasi() {
  return new WASIShim({ sandbox: { preopens: {}, env: {}, args: ['agentcell'], enableNetwork: false } }).getImportObject();
}

/**
 * A runtime: `storage` defaults to memory, `http` to deny-everything. `testBuild: true`
 * runs the test build (with the test-only `bench` and `testing` interfaces) instead of
 * the shipped component; only tests and benchmarks want it.
 */
export async function createRuntime(options = {}) {
  const dir = options.testBuild ? 'gen-test' : 'gen';
  const { instantiate } = await import(new URL(`../${dir}/agentcell.js`, import.meta.url));
  const env = {
    instantiate,
    getCoreModule: coreModules(`../${dir}`),
    wasi: sandboxedWasi(),
    transport: nodeTransport,
  };
  return Runtime.create(env, options);
}
