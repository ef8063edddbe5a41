// The mesh routes of a real `agentcell serve`, from the JS client.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MeshHttpClient, MeshHttpError } from '../src/node.js';

const BIN = new URL('../../target/release/agentcell', import.meta.url).pathname;
const KEY = 'sk_js_mesh';
let server;
let base;

before(async () => {
  const data = mkdtempSync(join(tmpdir(), 'agentcell-mesh-'));
  server = spawn(BIN, ['serve', '--addr', '127.0.0.1:0', '--data', data, '--api-key', KEY], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(server.stdout, 'data');
  base = String(line).trim().split(' ').pop();
});
after(() => server.kill('SIGTERM'));

test('publish and the event stream, as the server agent', async () => {
  const client = new MeshHttpClient(base, { apiKey: KEY });
  const me = await client.agent();
  const sub = await client.subscribe('chat');
  const got = [];
  const stop = client.events((m) => got.push(m));
  await new Promise((r) => setTimeout(r, 200));
  const id = await client.publish('chat', 'hello over http');
  for (let i = 0; i < 100 && got.length === 0; i += 1) await new Promise((r) => setTimeout(r, 50));
  stop();
  assert.equal(new TextDecoder().decode(got[0].payload), 'hello over http');
  assert.equal(got[0].sender, me.agent_id);
  assert.equal(got[0].messageId, id);
  assert.equal(got[0].subscriptionId, sub);
  await assert.rejects(new MeshHttpClient(base).agent(), (e) => e instanceof MeshHttpError && e.status === 401);
  await assert.rejects(client.publish('', 'x'), /topic must not be empty/);
});

test('task lists over http', async () => {
  const client = new MeshHttpClient(base, { apiKey: KEY });
  await client.createTaskList('js', 'team/js');
  const task = await client.addTask('team/js', 'write the client');
  await assert.rejects(client.completeTask('team/js', task), /claimed before completion/);
  await client.claimTask('team/js', task);
  await client.completeTask('team/js', task);
  const [t] = await client.tasks('team/js');
  assert.equal(t.state, 'done');
  assert.deepEqual(await client.taskLists(), [{ id: 'team/js', topic: 'team/js' }]);
});
