// The admin reads on a large store (issue 12 item 3): a page of dead letters
// is a fixed number of store reads, not a lookup per event, and on SQLite
// every query it issues runs on an index. The plans are asserted, not the
// time (bench/addressing.ts measures that on 500k events).

import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';

import { deadLetters } from '../../src/admin/operations.js';
import { compiler, driveSync } from '../../src/queue/engine.js';
import type { StoreContext } from '../../src/queue/queries.js';
import { deliveriesOfSteps, listEventsSteps } from '../../src/queue/read.js';
import type { Store } from '../../src/queue/store.js';
import { storeDrivers } from '../helpers/drivers.js';
import { batched, claimAll, event, plain } from './fixtures.js';

const EVENTS = 12;

/** EVENTS events, each with a plain delivery to `a` (dead for even ones) and one to `b` (delivered); plus a dead batch. */
async function seed(store: Store): Promise<void> {
  const now = Date.now();
  for (let i = 0; i < EVENTS; i++) {
    await store.ingest(event({ id: `dl-${i}`, receivedAt: now - 60_000 + i }), [plain(), plain({ action: 'b', target: 'https://hooks.example/b' })]);
  }
  await store.ingest(event({ id: 'dl-batch-1', source: 'stripe', receivedAt: now }), [batched('k', 10_000, 2)]);
  await store.ingest(event({ id: 'dl-batch-2', source: 'stripe', receivedAt: now + 1 }), [batched('k', 10_000, 2)]);
  const claimed = await store.claim({ ...claimAll, now: now + 60_000 });
  expect(claimed).toHaveLength(2 * EVENTS + 1);
  for (const d of claimed) {
    const n = Number(/^dl-(\d+)$/.exec(d.events[0]?.id ?? '')?.[1] ?? -1);
    const dead = d.rule === 'rb' || (d.action === 'a' && n % 2 === 0);
    await store.finish(d, { startedAt: now, durationMs: 2, outcome: dead ? 'dead' : 'delivered', ...(dead && { error: 'HTTP 500' }) }, { status: dead ? 'dead' : 'delivered' });
  }
}

/** The store, with a count of each method called through it. */
function counting(store: Store): { store: Store; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(store, {
    get(target, name, receiver) {
      const value: unknown = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.set(String(name), (calls.get(String(name)) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, calls };
}

describe.each(await storeDrivers())('admin reads on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('a page of dead letters is two store reads, whatever its length', async () => {
    const store = await driver.open();
    await seed(store);
    const { store: counted, calls } = counting(store);
    const dead = await deadLetters(counted, { limit: '50' });
    // Newest first; both batch members list the batch's dead delivery.
    expect(dead.map((d) => `${d.event.id} ${d.delivery.rule}/${d.delivery.action}`)).toEqual([
      'dl-batch-2 rb/digest',
      'dl-batch-1 rb/digest',
      ...[10, 8, 6, 4, 2, 0].map((i) => `dl-${i} r1/a`),
    ]);
    for (const d of dead) {
      expect(d.delivery.status).toBe('dead');
      expect(d.delivery.attempts).toMatchObject([{ n: 1, outcome: 'dead', error: 'HTTP 500' }]);
    }
    // On main it read each listed event again (getEvent, one or two per event).
    expect(Object.fromEntries(calls)).toEqual({ listEvents: 1, eventDeliveries: 1 });
  });

  test("the dead-letter page's queries run on indexes, never a scan of events, deliveries or attempts", async () => {
    if (driver.name !== 'sqlite') return; // the plan is pinned on SQLite; PostgreSQL plans by statistics
    const location = await driver.location();
    const store = await location.open();
    await seed(store);
    if (location.config.driver !== 'sqlite') throw new Error('expected SQLite');
    const db = new Database(location.config.path, { readonly: true });
    try {
      const plans: string[] = [];
      // Each query is explained, then run, so the next step gets real rows.
      const run = (q: { sql: string; parameters: readonly unknown[] }) => {
        const rows = db.prepare(`explain query plan ${q.sql}`).all(...q.parameters) as Array<{ detail: string }>;
        plans.push(rows.map((r) => r.detail).join('\n'));
        return { rows: db.prepare(q.sql).all(...q.parameters) as never[], changes: 0 };
      };
      const ctx = { dialect: 'sqlite', db: compiler('sqlite'), schema: undefined } as unknown as StoreContext;
      const page = driveSync(listEventsSteps(ctx, { status: 'dead', limit: 50 }), run);
      expect(page).toHaveLength(EVENTS / 2 + 2);
      const deliveries = driveSync(deliveriesOfSteps(ctx, page.map((e) => e.seq)), run);
      expect([...deliveries.values()].flat().filter((d) => d.status === 'dead')).toHaveLength(EVENTS / 2 + 2);
      expect(plans).toHaveLength(3);
      expect(plans[0]).toMatch(/events USING INDEX events_status_seq \(status=\?\)/);
      expect(plans[1]).toMatch(/d USING INDEX deliveries_event \(event_seq=\?\)/);
      expect(plans[1]).toMatch(/m USING (COVERING )?INDEX batch_members_event \(event_seq=\?\)/);
      expect(plans[2]).toMatch(/attempts USING INDEX attempts_delivery \(delivery_id=\?\)/);
      for (const plan of plans) expect(plan).not.toMatch(/SCAN (events|deliveries|attempts|batch_members|a|d|m)\b(?! USING)/);
    } finally {
      db.close();
    }
  });
});
