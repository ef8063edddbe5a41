// The service vectors (tests/service-vectors/*.json) in process: each request goes
// straight to the component's attune-service.handle. Steps only a server answers
// (`served_only`: API keys) run in the Python runner against a real agentcell serve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createRuntime } from '../src/node.js';

const dir = new URL('../../tests/service-vectors/', import.meta.url);

function subset(expected, got) {
  if (expected && typeof expected === 'object' && !Array.isArray(expected)) {
    return got && typeof got === 'object' && Object.entries(expected).every(([k, v]) => k in got && subset(v, got[k]));
  }
  return JSON.stringify(expected) === JSON.stringify(got);
}

for (const name of readdirSync(dir).filter((n) => n.endsWith('.json'))) {
  const file = JSON.parse(readFileSync(new URL(name, dir)));
  for (const c of file.cases) {
    test(`${name}: ${c.name}`, async () => {
      const rt = await createRuntime();
      for (const step of c.steps) {
        if (step.served_only) continue;
        const body = 'raw' in step ? step.raw : step.body === undefined ? '' : JSON.stringify(step.body);
        // No `content_type`: JSON; `null`: no header.
        const contentType = 'content_type' in step ? step.content_type : 'application/json';
        const r = await rt.call('attuneService', 'handle', { method: step.method, path: step.path, contentType, body });
        const where = `${c.name}: ${JSON.stringify(step)} -> ${r.status} ${r.body}`;
        assert.equal(r.status, step.expect.status, where);
        if ('body' in step.expect) assert.ok(subset(step.expect.body, r.body ? JSON.parse(r.body) : null), where);
      }
    });
  }
}
