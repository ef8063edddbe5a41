// wasi:keyvalue (0.2.0-draft: store, atomics, batch) for the edge build under `jco
// serve`, kept in the JS host's storage (a KeyValueStorage in this process, namespace
// `edge`). `jco serve --jco-map 'wasi:keyvalue/*=<this file>#*'` hands it to the
// component. The one bucket is the empty identifier, as wasmtime's.
import { MemoryStorage } from '../storage.js';

/** The JS host storage behind the store: replace it before serving to back it elsewhere. */
export const backing = { storage: new MemoryStorage() };
const NS = 'edge';
const kv = () => backing.storage.imports();

function other(e) {
  return { tag: 'other', val: String(e?.payload?.val ?? e?.message ?? e) };
}

class Bucket {
  get(key) {
    const v = kv().get(NS, key);
    return v === undefined ? undefined : Buffer.from(v, 'latin1');
  }
  set(key, value) {
    try {
      kv().set(NS, key, Buffer.from(value).toString('latin1'));
    } catch (e) {
      throw other(e);
    }
  }
  delete(key) {
    kv().delete(NS, key);
  }
  exists(key) {
    return kv().exists(NS, key);
  }
  listKeys(cursor) {
    const keys = [];
    let after;
    for (;;) {
      const page = kv().listKeys(NS, '', after, 1000);
      keys.push(...page.keys);
      if (!page.cursor) break;
      after = page.cursor;
    }
    const start = Number(cursor ?? 0n);
    return { keys: keys.slice(start), cursor: undefined };
  }
}

export const store = {
  Bucket,
  open(identifier) {
    if (identifier !== '') throw { tag: 'no-such-store' };
    return new Bucket();
  },
};

export const atomics = {
  increment(bucket, key, delta) {
    const now = BigInt(kv().get(NS, key) ?? '0') + delta;
    kv().set(NS, key, now.toString());
    return now;
  },
};

export const batch = {
  getMany(bucket, keys) {
    return keys.map((k) => {
      const v = bucket.get(k);
      return v === undefined ? undefined : [k, v];
    });
  },
  setMany(bucket, entries) {
    for (const [k, v] of entries) bucket.set(k, v);
  },
  deleteMany(bucket, keys) {
    for (const k of keys) bucket.delete(k);
  },
};
