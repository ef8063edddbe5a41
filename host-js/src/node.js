// Node entry point: loads the transpiled component from disk.
import { readFile } from 'node:fs/promises';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { Runtime } from './runtime.js';
import { nodeTransport } from './node-http.js';

export * from './errors.js';
export { HttpPolicy } from './policy.js';
export { MemoryStorage, KeyValueStorage } from './storage.js';
export { Runtime } from './runtime.js';
export { MemoryBus } from './bus.js';
export { MeshAgent } from './mesh.js';
export { MeshHttpClient, MeshHttpError } from './mesh-http.js';
export { sqliteSnapshot } from './sqlite-snapshot.js';
export { PartitionedStore, partitionFile } from './memory.js';

// One cache of compiled core modules per build: `gen/` (shipped) and `gen-test/`.
const modules = new Map();
function coreModules(dir) {
  return (name) => {
    const url = new URL(`../${dir}/${name}`, import.meta.url);
    if (!modules.has(url.href)) modules.set(url.href, readFile(url).then((b) => WebAssembly.compile(b)));
    return modules.get(url.href);
  };
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
    getCoreModule: coreModules(dir),
    wasi: new WASIShim().getImportObject(),
    transport: nodeTransport,
  };
  return Runtime.create(env, options);
}
