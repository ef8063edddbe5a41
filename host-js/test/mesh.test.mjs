import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRuntime, MemoryBus, MeshAgent, MemoryStorage, NotFoundError, InvalidArgumentError, TransportError } from '../src/node.js';

const settle = () => new Promise((r) => setTimeout(r, 20));

test('agents on one bus exchange signed messages; forged ones are refused', async () => {
  const bus = new MemoryBus();
  const alice = await MeshAgent.create(await createRuntime({ bus }));
  const bob = await MeshAgent.create(await createRuntime({ bus }));
  const got = [];
  const stop = bob.subscribe('news', (m) => got.push(m));
  const own = [];
  alice.subscribe('news', (m) => own.push(m));
  await alice.publish('news', 'hello');
  await alice.publish('news', new Uint8Array([1, 2, 3]));
  const good = await alice.runtime.call('mesh', 'seal', alice.keys, 'message', 'news', '00');
  bus.publish('news', good.slice(0, -2) + 'ff'); // altered payload
  bus.publish('news', '0300'); // truncated
  bus.publish('news', good);
  bus.publish('news', good); // a replay: dropped as a duplicate
  await settle();
  assert.deepEqual(got.map((m) => Array.from(m.payload)), [[104, 101, 108, 108, 111], [1, 2, 3], [0]]);
  assert.ok(got.every((m) => m.sender === alice.agentId));
  assert.equal(own.length, 3, "the publisher's own subscribers receive its messages");
  assert.equal(bob.stats.rejected, 2);
  assert.equal(bob.stats.duplicates, 1);
  const ids = await alice.publishMany('news', ['b1', 'b2']);
  await settle();
  assert.deepEqual(got.slice(3).map((m) => m.id), ids, 'a batch arrives as its messages');
  stop();
  await alice.publish('news', 'after stop');
  await settle();
  assert.equal(got.length, 5);
});

test('a task list converges across two runtimes and refuses bad changes', async () => {
  const bus = new MemoryBus();
  const a = await MeshAgent.create(await createRuntime({ bus, storage: new MemoryStorage() }));
  const b = await MeshAgent.create(await createRuntime({ bus, storage: new MemoryStorage() }));
  await a.createTaskList('team', 'board');
  const task = await a.addTask('board', 'ship');
  await b.syncTaskList('board');
  await b.claimTask('board', task);
  const [va, vb] = [await a.syncTaskList('board'), await b.syncTaskList('board')];
  assert.deepEqual(va, vb);
  assert.equal(va.tasks[0].state, 'claimed');
  assert.equal(va.tasks[0].assignee, b.agentId);
  await assert.rejects(a.claimTask('board', '00'.repeat(32)), NotFoundError);
  await assert.rejects(a.claimTask('board', 'nothex'), InvalidArgumentError);
  bus.down = 'bus is down';
  await assert.rejects(a.addTask('board', 'lost'), TransportError);
  assert.equal((await a.taskList('board')).tasks.length, 1, 'nothing changed');
});
