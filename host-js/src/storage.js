// Storage backends for the `storage` import. Same rules as every host: namespace and key
// non-empty and at most 1024 bytes, list limit 1..=1000, batches all or nothing.
import { ImportFailure } from './errors.js';

export const MAX_KEY_BYTES = 1024;
export const MAX_LIST_LIMIT = 1000;
const encoder = new TextEncoder();

function checkKey(what, key) {
  if (!key) throw new ImportFailure('invalid-key', `${what} must not be empty`);
  if (encoder.encode(key).length > MAX_KEY_BYTES) {
    throw new ImportFailure('invalid-key', `${what} must be at most ${MAX_KEY_BYTES} bytes`);
  }
}

// Byte order of UTF-8, which is what SQLite and Rust use: compare encoded bytes.
function byteCompare(a, b) {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** A key-value store over any Map-like `{get, set, delete, keys}` of `ns\0key` -> value. */
export class KeyValueStorage {
  constructor(map = new Map()) {
    this.map = map;
  }

  imports() {
    const m = this.map;
    const k = (ns, key) => `${ns}\u0000${key}`;
    const checkAll = (ns, keys) => {
      checkKey('namespace', ns);
      keys.forEach((key) => checkKey('key', key));
    };
    return {
      get(ns, key) {
        checkAll(ns, [key]);
        return m.get(k(ns, key));
      },
      set(ns, key, value) {
        checkAll(ns, [key]);
        m.set(k(ns, key), value);
      },
      delete(ns, key) {
        checkAll(ns, [key]);
        return m.delete(k(ns, key));
      },
      exists(ns, key) {
        checkAll(ns, [key]);
        return m.get(k(ns, key)) !== undefined;
      },
      listKeys(ns, prefix, cursor, limit) {
        checkKey('namespace', ns);
        if (!(limit >= 1 && limit <= MAX_LIST_LIMIT)) {
          throw new ImportFailure('invalid-key', `limit must be 1..=${MAX_LIST_LIMIT}, got ${limit}`);
        }
        const start = `${ns}\u0000`;
        const keys = [...m.keys()]
          .filter((full) => full.startsWith(start))
          .map((full) => full.slice(start.length))
          .filter((key) => key.startsWith(prefix) && (cursor === undefined || byteCompare(key, cursor) > 0))
          .sort(byteCompare);
        const page = keys.slice(0, limit);
        return { keys: page, cursor: keys.length > limit ? page[page.length - 1] : undefined };
      },
      getMany(ns, keys) {
        checkAll(ns, keys);
        return keys.map((key) => m.get(k(ns, key)));
      },
      setMany(ns, entries) {
        checkAll(ns, entries.map(([key]) => key));
        for (const [key, value] of entries) m.set(k(ns, key), value);
      },
      deleteMany(ns, keys) {
        checkAll(ns, keys);
        return keys.filter((key) => m.delete(k(ns, key))).length;
      },
      // Atomic as it is: JavaScript runs it to the end before anything else touches `m`.
      compareAndSet(ns, key, expected, value) {
        checkAll(ns, [key]);
        if (m.get(k(ns, key)) !== expected) return false;
        m.set(k(ns, key), value);
        return true;
      },
      // Guards and writes are [key, value-or-undefined] pairs; atomic like compareAndSet.
      commit(ns, guards, writes) {
        checkAll(ns, [...guards, ...writes].map(([key]) => key));
        if (!guards.every(([key, expected]) => m.get(k(ns, key)) === expected)) return false;
        for (const [key, value] of writes) {
          if (value === undefined) m.delete(k(ns, key));
          else m.set(k(ns, key), value);
        }
        return true;
      },
    };
  }
}

/** In memory, gone with the page or process. */
export class MemoryStorage extends KeyValueStorage {}

/** Browser `localStorage` (or any Web Storage), under a key prefix. */
export class WebStorage extends KeyValueStorage {
  constructor(storage = globalThis.localStorage, prefix = 'agentcell:') {
    super({
      get: (key) => storage.getItem(prefix + key) ?? undefined,
      set: (key, value) => storage.setItem(prefix + key, value),
      delete: (key) => {
        const had = storage.getItem(prefix + key) !== null;
        storage.removeItem(prefix + key);
        return had;
      },
      keys: () => {
        const out = [];
        for (let i = 0; i < storage.length; i++) {
          const key = storage.key(i);
          if (key.startsWith(prefix)) out.push(key.slice(prefix.length));
        }
        return out;
      },
    });
  }
}
