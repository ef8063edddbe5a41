// Node entry point: loads the transpiled component from disk.
import { readFile } from 'node:fs/promises';
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { instantiate } from '../gen/agentcell.js';
import { Runtime } from './runtime.js';
import { nodeTransport } from './node-http.js';

export * from './errors.js';
export { HttpPolicy } from './policy.js';
export { MemoryStorage, KeyValueStorage } from './storage.js';
export { Runtime } from './runtime.js';

const modules = new Map();
async function getCoreModule(name) {
  if (!modules.has(name)) {
    modules.set(name, readFile(new URL(`../gen/${name}`, import.meta.url)).then((b) => WebAssembly.compile(b)));
  }
  return modules.get(name);
}

/** A runtime: `storage` defaults to memory, `http` to deny-everything. */
export function createRuntime(options = {}) {
  const env = { instantiate, getCoreModule, wasi: new WASIShim().getImportObject(), transport: nodeTransport };
  return Runtime.create(env, options);
}
