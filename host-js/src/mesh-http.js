// A client of `agentcell serve`'s mesh routes (x0x's daemon shapes), for Node and
// browsers: the server's agent signs and verifies; this publishes, subscribes through
// the server-sent event stream, and works on task lists over HTTP.

const b64 = (bytes) => {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
};
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

export class MeshHttpError extends Error {
  constructor(status, message) {
    super(message);
    this.name = 'MeshHttpError';
    this.status = status;
  }
}

export class MeshHttpClient {
  /** `base`: the server's URL; `apiKey`: one of its keys. */
  constructor(base, { apiKey, fetch: f = globalThis.fetch } = {}) {
    this.base = base.replace(/\/$/, '');
    this.apiKey = apiKey;
    this.fetch = f;
  }

  #headers() {
    return { 'content-type': 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}) };
  }

  async #call(method, path, body) {
    const res = await this.fetch(this.base + path, {
      method,
      headers: this.#headers(),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await res.json();
    if (!answer.ok) throw new MeshHttpError(res.status, answer.error ?? `HTTP ${res.status}`);
    return answer;
  }

  agent() { return this.#call('GET', '/agent'); }

  /** Publishes `payload` (Uint8Array or string) as the server's agent; the message id. */
  async publish(topic, payload) {
    const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
    return (await this.#call('POST', '/publish', { topic, payload: b64(bytes) })).message_id;
  }

  async subscribe(topic) {
    return (await this.#call('POST', '/subscribe', { topic })).subscription_id;
  }

  unsubscribe(id) { return this.#call('DELETE', `/subscribe/${encodeURIComponent(id)}`); }

  /**
   * Reads `GET /events` and calls `onMessage({subscriptionId, topic, payload, sender,
   * messageId, timestampMs})` for each message; returns a function that stops reading.
   */
  events(onMessage) {
    const abort = new AbortController();
    const done = (async () => {
      const res = await this.fetch(`${this.base}/events`, { headers: this.#headers(), signal: abort.signal });
      if (!res.ok) throw new MeshHttpError(res.status, `HTTP ${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      for (;;) {
        const { value, done: ended } = await reader.read();
        if (ended) return;
        buffered += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffered.indexOf('\n\n')) >= 0) {
          const event = buffered.slice(0, cut);
          buffered = buffered.slice(cut + 2);
          const data = event.split('\n').find((l) => l.startsWith('data: '));
          if (!data) continue;
          const { type, data: d } = JSON.parse(data.slice(6));
          if (type !== 'message') continue;
          onMessage({
            subscriptionId: d.subscription_id, topic: d.topic, payload: unb64(d.payload),
            sender: d.sender, messageId: d.message_id, timestampMs: d.timestamp_ms,
          });
        }
      }
    })().catch((e) => { if (e.name !== 'AbortError') throw e; });
    const stop = () => abort.abort();
    stop.done = done;
    return stop;
  }

  async createTaskList(name, topic) { return (await this.#call('POST', '/task-lists', { name, topic })).id; }
  async taskLists() { return (await this.#call('GET', '/task-lists')).task_lists; }
  #tasksPath(topic) { return `/task-lists/${encodeURIComponent(topic)}/tasks`; }
  async tasks(topic) { return (await this.#call('GET', this.#tasksPath(topic))).tasks; }
  async addTask(topic, title, description) {
    return (await this.#call('POST', this.#tasksPath(topic), { title, description })).task_id;
  }
  async claimTask(topic, id) { await this.#call('PATCH', `${this.#tasksPath(topic)}/${id}`, { action: 'claim' }); }
  async completeTask(topic, id) { await this.#call('PATCH', `${this.#tasksPath(topic)}/${id}`, { action: 'complete' }); }
}
