// The message bus behind the component's `transport` import: signed mesh envelopes
// (hex blobs) appended per topic. In process: agents of one page or Node process.

class BusFailure {
  constructor(message) {
    this.payload = message;
  }
}

export class MemoryBus {
  #log = [];
  #listeners = new Set();
  /** When set, every publish fails with this sentence (tests of refusals). */
  down = null;

  /** The transport import object for the runtime. */
  imports() {
    return {
      publish: (topic, envelope) => {
        if (this.down) throw new BusFailure(this.down);
        this.publish(topic, envelope);
      },
    };
  }

  publish(topic, envelope) {
    this.#log.push([topic, envelope]);
    const position = this.#log.length;
    for (const fn of this.#listeners) fn(topic, envelope, position);
  }

  /** Envelopes of `topic` after `position`: [[position, envelope], ...]. */
  read(topic, after = 0) {
    const out = [];
    for (let i = after; i < this.#log.length; i += 1) {
      if (this.#log[i][0] === topic) out.push([i + 1, this.#log[i][1]]);
    }
    return out;
  }

  /** The position to read after for only what comes from now on. */
  end() {
    return this.#log.length;
  }

  /** Calls `fn(topic, envelope, position)` on every publish; returns a stop function. */
  listen(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}
