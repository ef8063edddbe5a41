// Plugins in the JS host (Node): components of the world `agentcell:plugin`, transpiled
// by jco (`jco transpile plugin.wasm -o DIR --instantiation async --name plugin`; the
// build does this for the repository's plugins), run under limits with only what their
// grants give: a log, a key-value namespace of their own, allow-listed HTTP.
import { readFile } from 'node:fs/promises';
import v8 from 'node:v8';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AgentcellError, ImportFailure, InvalidArgumentError, NotFoundError, PluginError } from './errors.js';
import { Instance } from './runtime.js';
import { HttpPolicy } from './policy.js';
import { coreModules, sandboxedWasi } from './node.js';
import { nodeTransport } from './node-http.js';

// componentize-py's CPython uses extended constant expressions, standard wasm that
// Node 22 has on by default and Node 20 keeps behind this flag.
if (Number(process.versions.node.split('.')[0]) < 22) v8.setFlagsFromString('--experimental-wasm-extended-const');

/** A plugin's limits unless its configuration says otherwise: far below the core's. */
export const PLUGIN_LIMITS = Object.freeze({ memoryMb: 128, callTimeoutMs: 5000 });
export const MAX_LOG_BYTES = 64 * 1024;
export const MAX_KV_KEY_BYTES = 512;
export const MAX_KV_VALUE_BYTES = 1 << 20;
const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const encoder = new TextEncoder();

/** The name of a plugin loaded without one: the stem of its file, as every host does it. */
export function nameFromPath(path) {
  const stem = path.split('/').pop().replace(/\.[^.]*$/, '').toLowerCase();
  return stem.replace(/[^a-z0-9-]/g, '-').replace(/^-+|-+$/g, '').slice(0, 64) || 'plugin';
}

function hostImports(name, grants) {
  const ns = `plugin/${name}`;
  const kv = (key, value) => {
    if (!grants.storage) throw new ImportFailure('denied', `plugin ${name} has no key-value grant`);
    if (!key) throw new ImportFailure('invalid', 'a key must not be empty');
    if (encoder.encode(key).length > MAX_KV_KEY_BYTES) {
      throw new ImportFailure('invalid', `a key must be at most ${MAX_KV_KEY_BYTES} bytes`);
    }
    if (value !== undefined && encoder.encode(value).length > MAX_KV_VALUE_BYTES) {
      throw new ImportFailure('invalid', `a value must be at most ${MAX_KV_VALUE_BYTES} bytes`);
    }
    return grants.storage.imports();
  };
  return {
    log(level, message) {
      if (grants.log !== false) console.error(`plugin ${name} ${level}: ${message.slice(0, MAX_LOG_BYTES)}`);
    },
    kvGet: (key) => kv(key).get(ns, key),
    kvSet: (key, value) => kv(key, value).set(ns, key, value),
    kvDelete: (key) => kv(key).delete(ns, key),
    fetch(req) {
      const policy = grants.http;
      if (!policy) throw new ImportFailure('denied', `plugin ${name} has no HTTP grant; ${req.url} was not sent`);
      if (!policy.permits(req.url)) {
        throw new ImportFailure('denied', `${req.url} is not in the HTTP allow-list [${policy.allow}]`);
      }
      let r;
      try {
        r = nodeTransport({ ...req, body: req.body || undefined }, policy.timeoutFor(undefined));
      } catch (e) {
        const tag = e?.payload?.tag === 'timeout' ? 'timeout' : 'failed';
        throw new ImportFailure(tag, e?.payload?.val ?? String(e));
      }
      const body = r.bodyEncoding === 'utf8' ? r.body : Buffer.from(r.body, 'base64').toString('utf8');
      return { status: r.status, headers: r.headers, body };
    },
  };
}

export class Plugin {
  /**
   * Loads the plugin transpiled into `dir` (jco's output, `--name plugin`) as `name`
   * (default: the directory's name). `grants`: `storage` (a KeyValueStorage holding
   * its namespace `plugin/<name>`), `http` (an HttpPolicy), `log` (default true).
   * `limits`: `memoryMb`, `callTimeoutMs` (default PLUGIN_LIMITS).
   */
  static async load(dir, { name, grants = {}, limits = PLUGIN_LIMITS } = {}) {
    if (name !== undefined && !NAME.test(name)) {
      throw new InvalidArgumentError(`${JSON.stringify(name)} is not a plugin name ([a-z0-9][a-z0-9-]*, at most 64)`, { field: 'name' });
    }
    const base = pathToFileURL(`${resolve(dir)}/`);
    let instantiate;
    try {
      ({ instantiate } = await import(new URL('plugin.js', base)));
    } catch (e) {
      throw new AgentcellError(`${dir} holds no transpiled plugin (plugin.js): ${e.message}`, { code: 'load' });
    }
    const plugin = new Plugin(name ?? nameFromPath(resolve(dir)), grants, { ...PLUGIN_LIMITS, ...limits });
    const env = { instantiate, getCoreModule: coreModules(base.href) };
    plugin.#instance = new Instance(env, () => ({
      ...sandboxedWasi(),
      'agentcell:plugin/host': hostImports(plugin.name, plugin.grants),
    }), plugin.limits, `plugin ${plugin.name}`);
    await plugin.#instance.instantiate();
    plugin.info = await plugin.#instance.call('plugin', 'describe');
    return plugin;
  }

  #instance;

  constructor(name, grants, limits) {
    this.name = name;
    this.grants = grants;
    this.limits = limits;
  }

  get instantiations() {
    return this.#instance.instantiations;
  }

  /** Sends JSON text; the plugin's JSON answer as text. */
  async callJson(text) {
    if (typeof text !== 'string') throw new TypeError(`input: must be JSON text (a string), got ${typeof text}`);
    try {
      return await this.#instance.call('plugin', 'call', text);
    } catch (e) {
      if (e && Object.prototype.hasOwnProperty.call(e, 'payload') && e.payload?.kind) {
        throw new PluginError(`plugin ${this.name}: ${e.payload.message}`, e.payload.kind, this.name);
      }
      throw e;
    }
  }

  /** Sends `value` as JSON; the answer decoded. */
  async call(value) {
    let text;
    try {
      text = JSON.stringify(value);
    } catch (e) {
      throw new InvalidArgumentError(`input: cannot be sent as JSON: ${e.message}`, { field: 'input' });
    }
    return JSON.parse(await this.callJson(text));
  }
}

const KEYS = ['call_timeout_ms', 'http_allow', 'kv', 'log', 'memory_mb', 'path'];

/**
 * Plugins from the JSON config every host reads: `{"plugins": {"<name>": {"path",
 * "memory_mb", "call_timeout_ms", "kv", "http_allow", "log"}}}`. In the JS host `path`
 * names the plugin's jco output directory (or a `.wasm` whose output sits beside it as
 * `<stem>/`), relative to the file. A `kv` grant uses `storage`.
 */
export async function loadPlugins(configPath, { storage } = {}) {
  let config;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (e) {
    throw new InvalidArgumentError(`plugin config file: ${configPath}: ${e.message}`, { field: 'file' });
  }
  const bad = (at, rule) => new InvalidArgumentError(`plugin config ${at}: ${rule}`, { field: at });
  if (typeof config?.plugins !== 'object' || config.plugins === null) throw bad('plugins', 'the config must be an object with an object "plugins"');
  const plugins = new Map();
  for (const [name, entry] of Object.entries(config.plugins)) {
    const at = `plugins.${name}`;
    if (!NAME.test(name)) throw bad(at, 'a plugin name is [a-z0-9][a-z0-9-]*, at most 64');
    const unknown = Object.keys(entry).find((k) => !KEYS.includes(k));
    if (unknown) throw bad(`${at}.${unknown}`, `not a key; the keys are ${KEYS}`);
    if (typeof entry.path !== 'string') throw bad(`${at}.path`, "must be the plugin file's path");
    const limit = (key, highest, fallback) => {
      const v = entry[key];
      if (v == null) return fallback;
      if (!Number.isInteger(v) || v < 1 || v > highest) throw bad(`${at}.${key}`, `must be an integer in 1..=${highest}, got ${v}`);
      return v;
    };
    for (const flag of ['kv', 'log']) {
      if (flag in entry && typeof entry[flag] !== 'boolean') throw bad(`${at}.${flag}`, `must be true or false, got ${entry[flag]}`);
    }
    if (entry.http_allow != null && !(Array.isArray(entry.http_allow) && entry.http_allow.every((a) => typeof a === 'string'))) {
      throw bad(`${at}.http_allow`, 'must be a list of host names');
    }
    if (entry.kv && !storage) throw bad(`${at}.kv`, 'a key-value grant needs a storage');
    const dir = resolve(dirname(configPath), entry.path.replace(/\.wasm$/, ''));
    const grants = {
      storage: entry.kv ? storage : undefined,
      http: entry.http_allow ? new HttpPolicy({ allow: entry.http_allow }) : undefined,
      log: entry.log ?? true,
    };
    const limits = {
      memoryMb: limit('memory_mb', 4096, PLUGIN_LIMITS.memoryMb),
      callTimeoutMs: limit('call_timeout_ms', 86_400_000, PLUGIN_LIMITS.callTimeoutMs),
    };
    plugins.set(name, { dir, grants, limits });
  }
  const loaded = new Map();
  for (const [name, { dir, grants, limits }] of plugins) loaded.set(name, await Plugin.load(dir, { name, grants, limits }));
  return {
    get(name) {
      const p = loaded.get(name);
      if (!p) throw new NotFoundError(`no plugin ${JSON.stringify(name)}; the plugins are ${[...loaded.keys()]}`);
      return p;
    },
    names: () => [...loaded.keys()],
  };
}
