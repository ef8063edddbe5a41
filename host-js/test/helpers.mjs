// A real HTTP server on loopback in a child process (the test process blocks in
// Atomics.wait during a synchronous import call, so the server cannot share its thread).
import { spawn } from 'node:child_process';
import { once } from 'node:events';

const SERVER = `
const http = require('node:http');
let hits = 0;
http.createServer((req, res) => {
  if (req.url === '/hits') { res.end(String(hits)); return; }
  hits += 1;
  const answer = () => { res.writeHead(req.url.startsWith('/teapot') ? 418 : 200); res.end('hello from loopback'); };
  if (req.url.startsWith('/slow')) setTimeout(answer, 2000); else answer();
}).listen(0, '127.0.0.1', function () { console.log(this.address().port); });
`;

export async function startServer() {
  const child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [chunk] = await once(child.stdout, 'data');
  const host = `127.0.0.1:${String(chunk).trim()}`;
  return {
    host,
    hits: async () => Number(await (await fetch(`http://${host}/hits`)).text()),
    stop: () => child.kill(),
  };
}
