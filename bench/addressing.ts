// `npm run bench:addressing`: the admin reads on a large store (issue 12
// item 3). Fills a SQLite store with N events (default 500k, a few percent
// dead), then times /admin/dead-letters (50 rows), /admin/stats (1h and 24h)
// and event lookups by id, SOURCE/ID and #SEQ, with the event loop's longest
// stall while each runs (better-sqlite3 reads on the main thread, so a slow
// query freezes ingest and /healthz as long as it runs). Target: under 50 ms.
// A script, never a test: the figures are printed, not asserted.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { parseWindow, stats } from '../src/admin/insights.js';
import { deadLetters, showEvent } from '../src/admin/operations.js';
import { openStore } from '../src/queue/index.js';
import type { Store } from '../src/queue/store.js';

const { values: flag } = parseArgs({ options: { events: { type: 'string', default: '500000' }, runs: { type: 'string', default: '5' } } });
const TOTAL = Number(flag.events);
const RUNS = Number(flag.runs);
const RETENTION = 7 * 86400_000;

async function fill(store: Store): Promise<void> {
  const now = Date.now();
  const body = Buffer.from('{"type":"document.processed","data":{"id":1}}');
  const BATCH = 2000;
  for (let start = 0; start < TOTAL; start += BATCH) {
    const ingests: Promise<unknown>[] = [];
    for (let i = start; i < Math.min(TOTAL, start + BATCH); i++) {
      const source = i % 2 === 0 ? 'archivus' : 'github';
      ingests.push(
        store.ingest(
          // Spread over the retention window, newest last; ids shared by the two sources now and then.
          { id: `evt-${i % 1000 === 0 ? i + 1 : i}`, source, type: 'document.processed', receivedAt: now - (TOTAL - i) * Math.floor(RETENTION / TOTAL / 2), headers: {}, rawBody: body, matched: ['r'] },
          [{ rule: 'r', action: 'a', target: 'http://t' }],
        ),
      );
    }
    await Promise.all(ingests);
    if (start % 100_000 === 0) process.stderr.write(`filled ${start}/${TOTAL}\n`);
  }
  // A few percent dead: claim and finish them.
  for (;;) {
    const claimed = await store.claim({ worker: 'bench', limit: 500, now: Date.now() + 1000, leaseMs: 60_000 });
    if (claimed.length === 0) break;
    for (const [i, d] of claimed.entries()) {
      const dead = i % 25 === 0;
      await store.finish(d, { startedAt: Date.now(), durationMs: 1, outcome: dead ? 'dead' : 'delivered', ...(dead && { error: 'HTTP 500' }) }, { status: dead ? 'dead' : 'delivered' });
    }
  }
}

async function measure(name: string, run: () => Promise<unknown>): Promise<void> {
  const times: number[] = [];
  // A 1 ms ticker: the longest gap between its ticks is the longest stall.
  let last = performance.now();
  let stall = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    stall = Math.max(stall, now - last);
    last = now;
  }, 1);
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 5));
  }
  clearInterval(ticker);
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  console.log(`| ${name} | ${median.toFixed(1)} | ${times.at(-1)!.toFixed(1)} | ${stall.toFixed(1)} |`);
}

const dir = mkdtempSync(join(tmpdir(), 'relay-bench-addr-'));
const store = await openStore({ driver: 'sqlite', path: join(dir, 'relay.db'), sync: 'normal' });
try {
  const t = performance.now();
  await fill(store);
  console.log(`${TOTAL} events stored in ${((performance.now() - t) / 1000).toFixed(0)} s (SQLite)\n`);
  console.log('| request | median ms | max ms | event loop max delay ms |');
  console.log('|---|---|---|---|');
  await measure('GET /admin/dead-letters (50)', () => deadLetters(store, { limit: '50' }));
  await measure('GET /admin/stats?window=1h', () => stats(store, parseWindow('1h', RETENTION)));
  await measure('GET /admin/stats?window=24h', () => stats(store, parseWindow('24h', RETENTION)));
  await measure('GET /admin/events/evt-250001 (id)', () => showEvent(store, 'evt-250001'));
  await measure('GET /admin/events/github/evt-250001', () => showEvent(store, 'github/evt-250001'));
  await measure('GET /admin/events/%23250000 (seq)', () => showEvent(store, '#250000'));
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
