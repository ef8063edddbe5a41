// A store written by the Python host (another process) opens in the JS host and answers
// the same search: the partition rules are the component's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, PartitionedStore } from '../src/node.js';

const python = new URL('../../.venv/bin/python', import.meta.url).pathname;
const WRITER = `
import json, sys
import numpy as np
from agentcell.memory import HTMCore
rng = np.random.default_rng(5)
data = rng.standard_normal((400, 8)).astype(np.float32)
data[1] = data[0]
with HTMCore(sys.argv[1], dimension=8, partitions=int(sys.argv[2])) as htm:
    htm.store_embeddings([f"doc-{i}" for i in range(400)], data, [{"i": i} for i in range(400)])
    htm.delete_embeddings(["doc-9"])
    queries = [data[0].tolist(), rng.standard_normal(8).tolist()]
    hits = [htm.search_similar(q, limit=15, min_similarity=-1.0) for q in queries]
print(json.dumps({"queries": queries, "hits": hits}))
`;

for (const partitions of [1, 3]) {
  test(`a Python store over ${partitions} partition(s) answers the same search in JS`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentcell-js-memory-'));
    try {
      const out = JSON.parse(execFileSync(python, ['-c', WRITER, dir, String(partitions)], { encoding: 'utf8' }));
      const store = await PartitionedStore.openDir(createRuntime, dir, { dimension: 8 });
      assert.equal(store.partitions, partitions);
      for (const [i, q] of out.queries.entries()) {
        const got = await store.search(q, 15, -1);
        const want = out.hits[i];
        assert.deepEqual(got.map(([k, , m]) => [k, m]), want.map(([k, , m]) => [k, m]));
        got.forEach(([, s], j) => assert.ok(Math.abs(s - want[j][1]) < 1e-6, `score ${j}`));
      }
      const top = await store.search(out.queries[0], 2, -1);
      assert.deepEqual(top.map(([k]) => k), ['doc-0', 'doc-1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
