// Browser entry point: fetches the transpiled component's core modules.
import { WASIShim } from '@bytecodealliance/preview2-shim/instantiation';
import { instantiate } from '../gen/agentcell.js';
import { ImportFailure } from './errors.js';
import { Runtime } from './runtime.js';
import { WebStorage } from './storage.js';
import { capMemory } from './limits.js';

export * from './errors.js';
export { HttpPolicy } from './policy.js';
export { MemoryStorage, WebStorage } from './storage.js';
export { Runtime } from './runtime.js';
export { MemoryBus } from './bus.js';
export { MeshAgent } from './mesh.js';
export { MeshHttpClient, MeshHttpError } from './mesh-http.js';

// Compiled core modules by file and memory cap (the cap is written into the module).
const modules = new Map();
function getCoreModule(name, maxBytes = null) {
  const key = `${name} ${maxBytes}`;
  if (!modules.has(key)) {
    const bytes = fetch(new URL(`../gen/${name}`, import.meta.url)).then((r) => r.arrayBuffer());
    modules.set(key, bytes.then((b) => WebAssembly.compile(capMemory(new Uint8Array(b), maxBytes))));
  }
  return modules.get(key);
}

// Synchronous XHR: the only synchronous HTTP a page has. Browsers follow redirects
// themselves, so a redirect that left the allow-list is reported as denied afterwards.
function xhrTransport(policy) {
  return (req, timeoutMs) => {
    const xhr = new XMLHttpRequest();
    xhr.open(req.method, req.url, false);
    for (const [k, v] of req.headers) {
      if (k.toLowerCase() !== 'user-agent') xhr.setRequestHeader(k, v);
    }
    const started = performance.now();
    try {
      xhr.send(req.body ?? null);
    } catch (e) {
      const late = performance.now() - started > timeoutMs;
      throw new ImportFailure(late ? 'timeout' : 'failed', `${req.url}: ${e.message}`);
    }
    if (xhr.responseURL && !policy.permits(xhr.responseURL)) {
      throw new ImportFailure('denied', `${req.url} redirected to ${xhr.responseURL}, outside the allow-list`);
    }
    const headers = xhr
      .getAllResponseHeaders()
      .trim()
      .split(/\r?\n/)
      .filter(Boolean)
      .map((line) => {
        const i = line.indexOf(':');
        return [line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()];
      });
    return { status: xhr.status, headers, body: xhr.responseText, bodyEncoding: 'utf8' };
  };
}

/** A runtime: `storage` defaults to localStorage, `http` to deny-everything, `bus` (mesh
 * envelopes) to a new MemoryBus: give agents of one page the same bus to meet. */
export async function createRuntime(options = {}) {
  const storage = options.storage ?? new WebStorage();
  const http = options.http ?? new (await import('./policy.js')).HttpPolicy();
  // A page has no filesystem or sockets to give; the environment is emptied too.
  const wasi = new WASIShim({ sandbox: { env: {}, args: ['agentcell'], enableNetwork: false } }).getImportObject();
  const env = { instantiate, getCoreModule, wasi, transport: xhrTransport(http) };
  // No call deadline: a page cannot stop a synchronous call (see limits.js).
  return Runtime.create(env, { storage, http, bus: options.bus, limits: { memoryMb: options.memoryMb ?? 1024 } });
}
