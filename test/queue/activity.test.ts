// Store#activity on both engines (and the memory double): events per source
// and bucket, attempts per action and outcome, rule matches; and the query
// plan, so the dashboard stays fast on a large store.

import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';

import { activitySteps } from '../../src/queue/activity.js';
import { compiler, driveSync } from '../../src/queue/engine.js';

import type { Activity, Store } from '../../src/queue/store.js';
import { storeDrivers } from '../helpers/drivers.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { batched, claimAll, event, plain } from './fixtures.js';

const MIN = 60_000;
// A minute boundary an hour ago, so buckets are predictable.
const BASE = Math.floor((Date.now() - 3_600_000) / MIN) * MIN;

/** Seeds: 3 github events in minute 0 and 1, 1 stripe event in minute 1, one old event; attempts on two actions. */
async function seed(store: Store): Promise<void> {
  await store.ingest(event({ receivedAt: BASE - 10 * MIN, matched: ['old'] }), [plain({ rule: 'old', action: 'late' })]);
  await store.ingest(event({ receivedAt: BASE + 1000, matched: ['r1', 'r2'] }), [plain(), plain({ rule: 'r2', action: 'b' })]);
  await store.ingest(event({ receivedAt: BASE + 2000, matched: ['r1'] }), [plain()]);
  await store.ingest(event({ receivedAt: BASE + MIN + 5, matched: [] }), []);
  await store.ingest(event({ source: 'stripe', receivedAt: BASE + MIN + 10, matched: ['rb'] }), [batched('k', 1, 10)]);
  const claimed = await store.claim({ ...claimAll, now: BASE + 10 * MIN });
  expect(claimed).toHaveLength(5);
  for (const d of claimed) {
    // r1/a: delivered in minute 2; r2/b: a retry in minute 2; the batch: dead in minute 3; the old event's: delivered in minute 2.
    const outcome = d.action === 'b' ? 'retry' : d.rule === 'rb' ? 'dead' : 'delivered';
    const startedAt = BASE + (d.rule === 'rb' ? 3 : 2) * MIN + 1;
    await store.finish(d, { startedAt, durationMs: 3, outcome }, outcome === 'retry' ? { status: 'failed', nextAt: BASE + 20 * MIN } : { status: outcome });
  }
}

const sorted = (a: Activity) => ({
  events: [...a.events].sort((x, y) => x.bucket - y.bucket || x.source.localeCompare(y.source)),
  attempts: [...a.attempts].sort((x, y) => x.bucket - y.bucket || `${x.rule}/${x.action}`.localeCompare(`${y.rule}/${y.action}`)),
  matches: [...a.matches].sort((x, y) => x.bucket - y.bucket || x.rule.localeCompare(y.rule)),
});

function expectSeeded(a: Activity, withOld: boolean): void {
  expect(sorted(a)).toEqual({
    events: [
      { source: 'github', bucket: BASE, count: 2 },
      { source: 'github', bucket: BASE + MIN, count: 1 },
      { source: 'stripe', bucket: BASE + MIN, count: 1 },
    ],
    attempts: [
      ...(withOld ? [{ rule: 'old', action: 'late', outcome: 'delivered', bucket: BASE + 2 * MIN, count: 1 }] : []),
      { rule: 'r1', action: 'a', outcome: 'delivered', bucket: BASE + 2 * MIN, count: 2 },
      { rule: 'r2', action: 'b', outcome: 'retry', bucket: BASE + 2 * MIN, count: 1 },
      { rule: 'rb', action: 'digest', outcome: 'dead', bucket: BASE + 3 * MIN, count: 1 },
    ],
    matches: [
      { rule: 'r1', bucket: BASE, count: 2 },
      { rule: 'r2', bucket: BASE, count: 1 },
      { rule: 'rb', bucket: BASE + MIN, count: 1 },
    ],
  });
}

describe.each(await storeDrivers())('Store#activity on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('counts events per source, attempts per action and outcome, and rule matches, per bucket', async () => {
    const store = await driver.open();
    await seed(store);
    // The old event's attempt started in the window: it counts, however old its event.
    expectSeeded(await store.activity({ since: BASE, bucketMs: MIN }), true);
    // One wide bucket: totals.
    const total = await store.activity({ since: BASE, bucketMs: 3_600_000 });
    expect(total.events.reduce((n, e) => n + e.count, 0)).toBe(4);
    expect(new Set(total.events.map((e) => e.bucket)).size).toBe(1);
    // Nothing after the window.
    expect(await store.activity({ since: BASE + 60 * MIN, bucketMs: MIN })).toEqual({ events: [], attempts: [], matches: [] });
  });

  test('counts on covering indexes (received_at, started_at), never a scan of a whole table', async () => {
    if (driver.name !== 'sqlite') return; // the plan is pinned on SQLite; PostgreSQL plans by statistics
    const location = await driver.location();
    await location.open(); // creates the schema
    if (location.config.driver !== 'sqlite') throw new Error('expected SQLite');
    const db = new Database(location.config.path, { readonly: true });
    try {
      const plansOf = (dialect: 'sqlite' | 'postgres') => {
        const plans: string[] = [];
        driveSync(activitySteps(compiler('sqlite'), { since: BASE, bucketMs: MIN }, dialect), (q) => {
          const rows = db.prepare(`explain query plan ${q.sql}`).all(...(q.parameters as unknown[])) as Array<{ detail: string }>;
          plans.push(rows.map((r) => r.detail).join('\n'));
          return { rows: [], changes: 0 };
        });
        return plans;
      };
      // The PostgreSQL shape, planned by SQLite (PostgreSQL plans by statistics).
      const plans = plansOf('postgres');
      expect(plans).toHaveLength(3);
      // Events on their received_at range, attempts on their started_at one,
      // each on an index holding every column the count reads (migration 11):
      // on main the attempts were reached through every event of two windows.
      expect(plans[0]).toMatch(/SEARCH events USING COVERING INDEX events_received_cover \(received_at>\?\)/);
      expect(plans[1]).toMatch(/SEARCH events USING COVERING INDEX events_received_cover \(received_at>\?\)/);
      expect(plans[2]).toMatch(/SEARCH a USING COVERING INDEX attempts_started \(started_at>\?\)/);
      expect(plans[2]).toMatch(/SEARCH d USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      for (const plan of plans) {
        // "SCAN <table>" without an index would read every row.
        expect(plan).not.toMatch(/SCAN (events|deliveries|attempts|batch_members|a|d)\b(?! USING)/);
      }
      // SQLite's own: the per-minute counts (rollup.ts) on their primary key.
      const sums = plansOf('sqlite');
      expect(sums).toHaveLength(3);
      for (const plan of sums) expect(plan).toMatch(/SEARCH activity_minutes USING PRIMARY KEY \(kind=\? AND minute>\?\)/);
    } finally {
      db.close();
    }
  });
});

test('the memory double counts the same', async () => {
  const store = new MemoryStore();
  await seed(store);
  expectSeeded(await store.activity({ since: BASE, bucketMs: MIN }), true);
});
