// Synchronous HTTP for Node: component imports are synchronous, fetch is not. A worker
// thread runs fetch while the caller waits on a SharedArrayBuffer (Atomics.wait), the
// same technique preview2-shim uses for wasi:http. Redirects are not followed.
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { ImportFailure } from './errors.js';

const WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', async ({ req, timeoutMs, port, shared }) => {
  let out;
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const raw = Buffer.from(await res.arrayBuffer());
    let body, bodyEncoding;
    try {
      body = new TextDecoder('utf-8', { fatal: true }).decode(raw);
      bodyEncoding = 'utf8';
    } catch {
      body = raw.toString('base64');
      bodyEncoding = 'base64';
    }
    out = { ok: true, status: res.status, headers: [...res.headers].map(([k, v]) => [k.toLowerCase(), v]), body, bodyEncoding };
  } catch (e) {
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
    out = { ok: false, kind: timedOut ? 'timeout' : 'failed', message: String(e.cause?.message ?? e.message) };
  }
  port.postMessage(out);
  const flag = new Int32Array(shared);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
`;

let worker = null;

export function nodeTransport(req, timeoutMs) {
  worker ??= new Worker(WORKER, { eval: true });
  worker.unref();
  const shared = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ req, timeoutMs, port: port2, shared }, [port2]);
  Atomics.wait(new Int32Array(shared), 0, 0, timeoutMs + 5000);
  const msg = receiveMessageOnPort(port1);
  port1.close();
  if (!msg) throw new ImportFailure('timeout', `${req.url}: no response within ${timeoutMs} ms`);
  const out = msg.message;
  if (!out.ok) {
    const detail = out.kind === 'timeout' ? `no response within ${timeoutMs} ms` : out.message;
    throw new ImportFailure(out.kind, `${req.url}: ${detail}`);
  }
  return { status: out.status, headers: out.headers, body: out.body, bodyEncoding: out.bodyEncoding };
}
