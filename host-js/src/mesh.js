// x0x's mesh in JS (Node and browsers): agents that sign what they publish and verify
// what they receive, on the runtime's bus (a MemoryBus: agents of one process or page).
// Signing, verifying and the task-list CRDT run in the component.

const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
const fromHex = (hex) => Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16));

/** How many message ids a subscription remembers to drop duplicates. */
export const DEDUP_WINDOW = 10000;

export class MeshAgent {
  /** An agent on `runtime` with `keys` (a mesh KeyPair), or new random keys. */
  static async create(runtime, { keys } = {}) {
    const k = keys ?? (await runtime.call('mesh', 'generateKey', undefined));
    return new MeshAgent(runtime, k);
  }

  constructor(runtime, keys) {
    this.runtime = runtime;
    this.keys = keys;
    this.stats = { rejected: 0, duplicates: 0 };
  }

  get agentId() {
    return this.keys.id;
  }

  /** Signs `payload` (Uint8Array or string) and publishes it; the message id. */
  async publish(topic, payload) {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    return this.runtime.call('mesh', 'publish', this.keys, topic, toHex(bytes));
  }

  /** Signs `payloads` (Uint8Arrays or strings) under one signature; their ids. */
  async publishMany(topic, payloads) {
    const hexes = payloads.map((p) => toHex(typeof p === 'string' ? new TextEncoder().encode(p) : p));
    return this.runtime.call('mesh', 'publishMany', this.keys, topic, hexes);
  }

  /** What `entries` ([position, envelope] pairs) carried: [position, opened] pairs. */
  async #open(topic, entries) {
    if (entries.length === 0) return [];
    const results = await this.runtime.call('mesh', 'open', topic, entries.map(([, e]) => e));
    const out = [];
    results.forEach((r, i) => {
      // One entry carries one envelope: a message, a task-op, or a batch of messages.
      if (r.tag === 'ok') r.val.forEach((o) => out.push([entries[i][0], o]));
      else this.stats.rejected += 1;
    });
    return out;
  }

  /**
   * Calls `onMessage({id, topic, sender, timestampMs, payload})` for every message
   * published on `topic` from now on; returns a function that stops it.
   */
  subscribe(topic, onMessage) {
    const bus = this.runtime.bus;
    const seen = new Set();
    let queue = Promise.resolve();
    const stop = bus.listen((t, envelope, position) => {
      if (t !== topic) return;
      queue = queue.then(async () => {
        for (const [, o] of await this.#open(topic, [[position, envelope]])) {
          if (o.kind !== 'message') continue;
          if (seen.has(o.id)) {
            this.stats.duplicates += 1;
            continue;
          }
          seen.add(o.id);
          if (seen.size > DEDUP_WINDOW) seen.delete(seen.values().next().value);
          onMessage({ id: o.id, topic, sender: o.sender, timestampMs: Number(o.timestampMs), payload: fromHex(o.payload) });
        }
      });
    });
    return stop;
  }

  /** Creates (or joins) the task list on `topic`. */
  async createTaskList(name, topic = `tasklist/${name}`) {
    return this.runtime.call('mesh', 'createTaskList', this.keys, name, topic);
  }

  /** Applies every operation on the bus for `topic` to this runtime's replica. */
  async syncTaskList(topic) {
    await this.#open(topic, this.runtime.bus.read(topic, 0));
    return this.taskList(topic);
  }

  /** The local replica `{list, tasks}` or null. */
  async taskList(topic) {
    const text = await this.runtime.call('mesh', 'getTaskList', topic);
    return text === undefined ? null : JSON.parse(text);
  }

  async addTask(topic, title, { description = '', priority = 128 } = {}) {
    return this.runtime.call('mesh', 'changeTaskList', this.keys, topic, { tag: 'add', val: [title, description, priority] });
  }

  async claimTask(topic, taskId) {
    await this.runtime.call('mesh', 'changeTaskList', this.keys, topic, { tag: 'claim', val: taskId });
  }

  async completeTask(topic, taskId) {
    await this.runtime.call('mesh', 'changeTaskList', this.keys, topic, { tag: 'complete', val: taskId });
  }
}
