// The Node ceiling: a bare node:http server that reads the body and answers
// 200, nothing else. `node raw.js PORT`.
//
// With --receiver it is also the end-to-end target of Relay's forward action:
// it records the distinct x-relay-event-id values it received, per load run
// (ids are `evt_<run>_<n>`), and answers GET with {"total","unique","runs"}
// so the runner can check that every event of a run arrived. GET /times?run=R
// answers {id: arrival ms} for run R (the open-loop phase's latencies; the
// clock is performance.timeOrigin + now(), as in the runner).

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';

const receiver = process.argv.includes('--receiver');
const runs = new Map<string, Set<string>>();
const arrivals = new Map<string, Map<string, number>>();
let total = 0;

function record(id: string): void {
  total++;
  const run = id.slice(0, id.lastIndexOf('_'));
  let times = arrivals.get(run);
  if (!times) arrivals.set(run, (times = new Map()));
  if (!times.has(id)) times.set(id, performance.timeOrigin + performance.now());
  let ids = runs.get(run);
  if (!ids) runs.set(run, (ids = new Set()));
  ids.add(id);
}

const server = createServer((req, res) => {
  if (receiver && req.method === 'GET' && req.url?.startsWith('/times')) {
    const run = new URL(req.url, 'http://x').searchParams.get('run') ?? '';
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(Object.fromEntries(arrivals.get(run) ?? [])));
    return;
  }
  if (receiver && req.method === 'GET') {
    const counts = Object.fromEntries([...runs].map(([run, ids]) => [run, ids.size]));
    const unique = Object.values(counts).reduce((a, b) => a + b, 0);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ total, unique, runs: counts }));
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    Buffer.concat(chunks); // a real handler would have the bytes in hand
    const id = req.headers['x-relay-event-id'];
    if (receiver && typeof id === 'string') record(id);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  });
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));
