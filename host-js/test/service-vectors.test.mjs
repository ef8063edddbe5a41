// The service vectors (tests/service-vectors/*.json) in process: each request goes
// straight to the component's handler, routed as agentcell serve routes it (the AI Spine
// paths `flows.routes` names to flows.handle, the rest to attune-service.handle); a
// path's `{execution_id}` is the last one answered. Steps only a server answers
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
      const flowsRoutes = await rt.call('flows', 'routes');
      const isFlows = (path) => flowsRoutes.some((r) => path === r || (path.startsWith(r) && path[r.length] === '/'));
      let executionId = '';
      for (const step of c.steps) {
        if (step.served_only) continue;
        const body = 'raw' in step ? step.raw : step.body === undefined ? '' : JSON.stringify(step.body);
        // No `content_type`: JSON; `null`: no header.
        const contentType = 'content_type' in step ? step.content_type : 'application/json';
        const path = step.path.replace('{execution_id}', executionId);
        const request = { method: step.method, path, contentType, body };
        const r = isFlows(path.split('?')[0])
          ? (await rt.call('flows', 'handle', request)).response
          : await rt.call('attuneService', 'handle', request);
        const parsed = r.body ? JSON.parse(r.body) : null;
        if (parsed && typeof parsed.execution_id === 'string') executionId = parsed.execution_id;
        const where = `${c.name}: ${JSON.stringify(step)} -> ${r.status} ${r.body}`;
        assert.equal(r.status, step.expect.status, where);
        if ('body' in step.expect) assert.ok(subset(step.expect.body, parsed), where);
      }
    });
  }
}
