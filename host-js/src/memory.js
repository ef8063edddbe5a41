// Embedding memory from Node: open a store directory written by Python's HTMCore (one
// SQLite file per partition: htm.sqlite3, htm.part1.sqlite3, ...) and search it. The
// layout, the roll-forward of batches and the merge of hits are the component's rules
// (WIT memory.layout, pending-batches, merge-hits), so the answer is HTMCore's.
import { join } from 'node:path';
import { sqliteSnapshot } from './sqlite-snapshot.js';

/** The SQLite file of `partition` in a store directory. */
export function partitionFile(dir, partition) {
  return join(dir, partition === 0 ? 'htm.sqlite3' : `htm.part${partition}.sqlite3`);
}

function hexF32(values) {
  const bytes = new Uint8Array(Float32Array.from(values).buffer);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A store over its partitions, read from a snapshot of their files. */
export class PartitionedStore {
  constructor(parts) {
    this.parts = parts; // [{ rt, store }]: a runtime per partition and this opener's memory.Store there
  }

  /**
   * Opens store `name` (embeddings of `dimension`) from directory `dir`.
   * `createRuntime` is the entry point's (so Node's, with the given storage).
   */
  static async openDir(createRuntime, dir, { name = 'htm', dimension = 768 } = {}) {
    const open = async (partition) => {
      const rt = await createRuntime({ storage: await sqliteSnapshot(partitionFile(dir, partition)) });
      const store = await rt.call('memory', 'Store.open', name, { dimension, shardCount: undefined, index: 'flat' });
      return { rt, store };
    };
    const first = await open(0);
    const count = await first.rt.call('memory', 'layout', name, undefined, 2);
    const parts = [first];
    for (let p = 1; p < count; p++) parts.push(await open(p));
    for (const { rt, store } of parts.slice(1)) {
      for (const batch of await rt.callMethod('memory', store, 'pendingBatches')) {
        if (await first.rt.callMethod('memory', first.store, 'batchCommitted', batch)) {
          await rt.callMethod('memory', store, 'commitBatch', batch);
        }
      }
    }
    return new PartitionedStore(parts);
  }

  /** Ends this opener's stores (the in-memory copies go with them). */
  close() {
    for (const { rt, store } of this.parts) rt.drop(store);
    this.parts = [];
  }

  get partitions() {
    return this.parts.length;
  }

  /** The `limit` most similar entries, exact: `[[key, similarity, metadata], ...]`. */
  async search(query, limit = 10, minSimilarity = 0.5) {
    const options = { limit, minSimilarity, filterJson: undefined, exact: true, probes: undefined };
    const q = hexF32(query);
    const answers = [];
    for (const { rt, store } of this.parts) answers.push(await rt.callMethod('memory', store, 'search', q, options));
    const merged = answers.length === 1 ? answers[0] : await this.parts[0].rt.call('memory', 'mergeHits', answers, limit);
    return JSON.parse(merged);
  }
}
