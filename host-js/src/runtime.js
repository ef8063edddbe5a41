// The JS runtime, shared by Node and browsers: instantiates the jco output with our
// imports, maps component errors to exceptions, and replaces the instance after a trap
// (storage lives in the host, so nothing persisted is lost).
import { ComponentTrap, ImportFailure, ResourceLimitError, errorFromWit } from './errors.js';
import { CORE_LIMITS, memoryBytes, nearCap, withDeadline } from './limits.js';
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

/**
 * One live instance of a transpiled component, its limits, and its replacement after a
 * trap or a limit. The core's `Runtime` and `Plugin` both run their calls through it.
 */
export class Instance {
  #env;
  #imports;
  #live = null;
  #memory = null;
  instantiations = 0;

  /**
   * @param {object} env `instantiate` (jco output), `getCoreModule(name, maxBytes)`.
   * @param {() => object} imports the import object of each new instance.
   * @param {object} limits `memoryMb` (null: wasm's 4 GiB), `callTimeoutMs` (null: none).
   * @param {string} what how errors name it (`the component`, `plugin x`).
   */
  constructor(env, imports, limits, what) {
    this.#env = env;
    this.#imports = imports;
    this.limits = { ...CORE_LIMITS, ...limits };
    this.what = what;
  }

  get exports() {
    return this.#live;
  }

  async instantiate() {
    const maxBytes = memoryBytes(this.limits);
    let memory = null;
    const instantiateCore = async (module, imports) => {
      const instance = await WebAssembly.instantiate(module, imports);
      if (memory === null && instance.exports.memory instanceof WebAssembly.Memory) memory = instance.exports.memory;
      return instance;
    };
    this.#live = await this.#env.instantiate((name) => this.#env.getCoreModule(name, maxBytes), this.#imports(), instantiateCore);
    this.#memory = memory;
    this.instantiations += 1;
  }

  /** Calls `iface.fn` under the limits; WIT errors become AgentcellErrors, a trap a
   * ComponentTrap, a limit a ResourceLimitError (the instance replaced after either).
   * `fn` may name a resource's static function: `Store.open`. */
  async call(iface, fn, ...args) {
    const [resource, f] = fn.includes('.') ? fn.split('.') : [null, fn];
    return this.#guarded(`${iface}.${fn}`, () => (resource ? this.#live[iface][resource] : this.#live[iface])[f](...args));
  }

  /** Calls method `fn` of `resource` (an object a call returned), as `call` does. */
  async callMethod(iface, resource, fn, ...args) {
    return this.#guarded(`${iface}.${resource.constructor.name}.${fn}`, () => resource[fn](...args));
  }

  async #guarded(name, thunk) {
    try {
      return await withDeadline(thunk, this.limits.callTimeoutMs);
    } catch (e) {
      if (e && Object.prototype.hasOwnProperty.call(e, 'payload') && e.payload?.code) {
        throw errorFromWit(e.payload);
      }
      if (e?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
        await this.instantiate(); // a stopped instance is not entered again
        throw new ResourceLimitError(`${name} ran past its time limit of ${this.limits.callTimeoutMs} ms and was stopped`, 'time');
      }
      if (e instanceof WebAssembly.RuntimeError) {
        const used = this.#memory?.buffer.byteLength ?? 0;
        const maxBytes = memoryBytes(this.limits);
        await this.instantiate(); // a trapped instance must not be entered again
        if (nearCap(used, maxBytes)) {
          const cap = maxBytes == null ? "wasm's own 4 GiB" : `${this.limits.memoryMb} MiB`;
          throw new ResourceLimitError(`${name} needed more memory than its cap of ${cap} (${e.message})`, 'memory');
        }
        throw new ComponentTrap(`${this.what} trapped in ${name}: ${e.message}`, { code: 'trap' });
      }
      throw e;
    }
  }
}

export class Runtime {
  /**
   * @param {object} env what the environment provides: `instantiate` and `getCoreModule`
   *   (jco output), `wasi` (an import object), `transport` (sync HTTP).
   * @param {object} [options] `storage` (a KeyValueStorage), `http` (an HttpPolicy),
   *   `bus` (a MemoryBus: where mesh envelopes go), `limits` (`memoryMb`, default 1024;
   *   `callTimeoutMs`, default none).
   */
  static async create(env, { storage = new MemoryStorage(), http = new HttpPolicy(), bus, limits } = {}) {
    const rt = new Runtime(env, storage, http, bus ?? new MemoryBus(), limits);
    await rt.#instance.instantiate();
    return rt;
  }

  #instance;

  constructor(env, storage, http, bus, limits) {
    this.storage = storage;
    this.http = http;
    this.bus = bus;
    const imports = () => ({
      ...env.wasi,
      'agentcell:core/storage': this.storage.imports(),
      'agentcell:core/http-client': httpImports(this.http, env.transport),
      'agentcell:core/transport': this.bus.imports(),
    });
    this.#instance = new Instance(env, imports, limits, 'the component');
  }

  /** The memory cap and call deadline in force. */
  get limits() {
    return this.#instance.limits;
  }

  /** How many instances this runtime has made (1, plus one after each trap). */
  get instantiations() {
    return this.#instance.instantiations;
  }

  /** Calls `interface.fn` (jco's camelCase name; `Store.open` for a resource's static
   * function); WIT errors become AgentcellErrors. */
  call(iface, fn, ...args) {
    return this.#instance.call(iface, fn, ...args);
  }

  /** Calls method `fn` of `resource` (e.g. a `memory.Store`), as `call` does. */
  callMethod(iface, resource, fn, ...args) {
    return this.#instance.callMethod(iface, resource, fn, ...args);
  }

  /** Ends `resource` (a WIT `own<R>` a call returned), running the component's
   * destructor; dropping twice is harmless. */
  drop(resource) {
    resource[Symbol.dispose ?? Symbol.for('dispose')]?.();
  }

  /** The raw jco exports of the live instance (for benchmarks and conformance). */
  get exports() {
    return this.#instance.exports;
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
