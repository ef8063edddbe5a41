// The JS runtime, shared by Node and browsers: instantiates the jco output with our
// imports, maps component errors to exceptions, and replaces the instance after a trap
// (storage lives in the host, so nothing persisted is lost).
import { ComponentTrap, ImportFailure, errorFromWit } from './errors.js';
import { MemoryStorage } from './storage.js';
import { HttpPolicy } from './policy.js';
import { MemoryBus } from './bus.js';

function httpImports(policy, transport) {
  return {
    send(req) {
      const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'];
      if (!methods.includes(req.method)) {
        throw new ImportFailure('invalid-request', `method ${req.method} is not one of ${methods}`);
      }
      if (!policy.permits(req.url)) {
        throw new ImportFailure('denied', `${req.url} is not in the HTTP allow-list [${policy.allow}]`);
      }
      return transport(req, policy.timeoutFor(req.timeoutMs));
    },
  };
}

export class Runtime {
  /**
   * @param {object} env what the environment provides: `instantiate` and `getCoreModule`
   *   (jco output), `wasi` (an import object), `transport` (sync HTTP).
   * @param {object} [options] `storage` (a KeyValueStorage), `http` (an HttpPolicy),
   *   `bus` (a MemoryBus: where mesh envelopes go).
   */
  static async create(env, { storage = new MemoryStorage(), http = new HttpPolicy(), bus } = {}) {
    const rt = new Runtime(env, storage, http, bus ?? new MemoryBus());
    await rt.#instantiate();
    return rt;
  }

  #env;
  #instance = null;
  instantiations = 0;

  constructor(env, storage, http, bus) {
    this.#env = env;
    this.storage = storage;
    this.http = http;
    this.bus = bus;
  }

  async #instantiate() {
    const imports = {
      ...this.#env.wasi,
      'agentcell:core/storage': this.storage.imports(),
      'agentcell:core/http-client': httpImports(this.http, this.#env.transport),
      'agentcell:core/transport': this.bus.imports(),
    };
    this.#instance = await this.#env.instantiate(this.#env.getCoreModule, imports);
    this.instantiations += 1;
  }

  /** Calls `interface.fn` (jco's camelCase name); WIT errors become AgentcellErrors. */
  async call(iface, fn, ...args) {
    try {
      return this.#instance[iface][fn](...args);
    } catch (e) {
      if (e && Object.prototype.hasOwnProperty.call(e, 'payload') && e.payload?.code) {
        throw errorFromWit(e.payload);
      }
      if (e instanceof WebAssembly.RuntimeError) {
        await this.#instantiate(); // a trapped instance must not be entered again
        throw new ComponentTrap(`the component trapped in ${iface}.${fn}: ${e.message}`, { code: 'trap' });
      }
      throw e;
    }
  }

  /** The raw jco exports of the live instance (for benchmarks and conformance). */
  get exports() {
    return this.#instance;
  }

  version() { return this.call('meta', 'version'); }
  rustVersion() { return this.call('meta', 'rustVersion'); }
  healthCheck() { return this.call('meta', 'healthCheck'); }
  describeBuild() { return this.call('meta', 'describeBuild'); }
  async counterAdd(name, delta = 1) {
    return Number(await this.call('diagnostics', 'counterAdd', name, BigInt(delta)));
  }
  async counterGet(name) {
    return Number(await this.call('diagnostics', 'counterGet', name));
  }
  async probeUrl(url, timeoutMs = 5000) {
    const p = await this.call('diagnostics', 'probeUrl', url, timeoutMs);
    return { ...p, elapsedMs: Number(p.elapsedMs), bodyBytes: Number(p.bodyBytes) };
  }
}
