// Limits on a component instance in the JS hosts. Memory: the core module's memory
// section is rewritten before it is compiled so that its maximum is the cap, and V8
// refuses `memory.grow` past it (the guest's allocator then aborts: a trap). Time: a
// call with a deadline runs through `node:vm` with `timeout`, whose watchdog
// terminates the running wasm (Node only; a browser page has no way to stop a
// synchronous call, so there the deadline is not available).

/** The core's defaults: 1 GiB, no deadline. */
export const CORE_LIMITS = Object.freeze({ memoryMb: 1024, callTimeoutMs: null });
const PAGE = 65536;

function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

function leb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

/**
 * `bytes` (a core wasm module) with the maximum of each memory it defines lowered to
 * `maxBytes` (null: unchanged). Shared and 64-bit memories are left as they are.
 * Throws a RangeError when a memory starts larger than the cap.
 */
export function capMemory(bytes, maxBytes) {
  if (maxBytes == null) return bytes;
  const capPages = Math.floor(maxBytes / PAGE);
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, body] = readLeb(bytes, at + 1);
    const end = body + size;
    if (id === 5) {
      let [count, p] = readLeb(bytes, body);
      const entries = leb(count);
      for (; count > 0; count--) {
        const flags = bytes[p++];
        let min;
        let max = null;
        [min, p] = readLeb(bytes, p);
        if (flags & 1) [max, p] = readLeb(bytes, p);
        if (flags > 1) return bytes; // shared or memory64: not ours to rewrite
        if (min > capPages) {
          throw new RangeError(`the component starts with ${min * PAGE} bytes of memory, past its cap of ${maxBytes}`);
        }
        entries.push(1, ...leb(min), ...leb(Math.min(max ?? capPages, capPages)));
      }
      const header = [5, ...leb(entries.length)];
      const out = new Uint8Array(at + header.length + entries.length + (bytes.length - end));
      out.set(bytes.subarray(0, at), 0);
      out.set(header, at);
      out.set(entries, at + header.length);
      out.set(bytes.subarray(end), at + header.length + entries.length);
      return out;
    }
    at = end;
  }
  return bytes;
}

/** Bytes of the cap in `limits` (`memoryMb`), or null for none. */
export function memoryBytes(limits) {
  return limits.memoryMb == null ? null : limits.memoryMb * 1024 * 1024;
}

let vm = null;
let script = null;
let context = null;

/** Calls `fn()` with a deadline of `ms` (null: none); a `TimeoutError`-like error with
 * code ERR_SCRIPT_EXECUTION_TIMEOUT when it runs past. */
export async function withDeadline(fn, ms) {
  if (ms == null) return fn();
  if (vm === null) {
    if (typeof process === 'undefined' || !process.versions?.node) {
      throw new Error('a call deadline needs Node (node:vm); browsers cannot stop a synchronous call');
    }
    vm = await import('node:vm');
    context = vm.createContext({ target: null, out: undefined });
    script = new vm.Script('out = target()');
  }
  context.target = fn;
  try {
    script.runInContext(context, { timeout: ms });
    return context.out;
  } finally {
    context.target = null;
    context.out = undefined;
  }
}

/** Whether a trap with the instance's memory at `usedBytes` came from the memory cap:
 * the allocator aborted within 16 MiB (or an eighth) of the cap. */
export function nearCap(usedBytes, maxBytes) {
  const cap = maxBytes ?? 4 * 1024 ** 3;
  return usedBytes >= cap - Math.max(16 * 1024 * 1024, cap / 8);
}
