// A read-only view of a SQLite storage file written by the Python or Rust host (table
// `kv(ns, key, value)`), for Node. The file is read once with sql.js (SQLite compiled to
// WebAssembly: no native build) into a MemoryStorage; writes stay in memory and are never
// written back, so two hosts cannot corrupt each other's file. For a durable store of
// its own, the JS host uses MemoryStorage or WebStorage (browsers).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { MemoryStorage } from './storage.js';

let engine = null;
function sqlJs() {
  if (!engine) {
    const require = createRequire(import.meta.url);
    const init = require('sql.js');
    engine = init({ locateFile: (file) => require.resolve(`sql.js/dist/${file}`) });
  }
  return engine;
}

/** A MemoryStorage holding every value of the SQLite storage file at `path`. */
export async function sqliteSnapshot(path) {
  const SQL = await sqlJs();
  const db = new SQL.Database(await readFile(path));
  try {
    const map = new Map();
    const rows = db.prepare('SELECT ns, key, value FROM kv');
    while (rows.step()) {
      const [ns, key, value] = rows.get();
      map.set(`${ns}\u0000${key}`, value);
    }
    rows.free();
    return new MemoryStorage(map);
  } finally {
    db.close();
  }
}
