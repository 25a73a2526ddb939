import { afterEach, describe, expect, test } from 'vitest';

import type { Store } from '../../src/queue/store.js';
import { storeDrivers } from '../helpers/drivers.js';
import { event, plain, T0 } from './fixtures.js';

async function drain(store: Store, worker: string, seen: Map<number, string[]>): Promise<void> {
  for (;;) {
    const claimed = await store.claim({ worker, limit: 7, now: T0 + 1, leaseMs: 600_000 });
    if (claimed.length === 0) {
      if ((await store.claim({ worker, limit: 1, now: T0 + 1, leaseMs: 600_000 })).length === 0) return;
      throw new Error('claimed after an empty claim without new work');
    }
    for (const d of claimed) seen.set(d.id, [...(seen.get(d.id) ?? []), worker]);
    await Promise.all(
      claimed.map((d) => store.finish(d, { startedAt: T0, durationMs: 1, outcome: 'delivered' }, { status: 'delivered' })),
    );
  }
}

describe.each(await storeDrivers())('concurrent claims on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('two stores on one database never claim the same delivery', async () => {
    const location = await driver.location();
    const stores = await Promise.all([location.open(), location.open(), location.open()]);
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 120 }, () => stores[0]!.ingest(event(), [plain(), plain({ action: 'b' })])));
      const seen = new Map<number, string[]>();
      await Promise.all(stores.map((s, i) => drain(s, `w${i}`, seen)));
      const doubles = [...seen.entries()].filter(([, workers]) => workers.length > 1);
      expect(doubles).toEqual([]);
      expect(seen.size).toBe(240);
      expect(await stores[1]!.backlog()).toBe(0);
    }
  });

  test('ingest and claim interleave without losing deliveries', async () => {
    const location = await driver.location();
    const [writer, worker] = await Promise.all([location.open(), location.open()]);
    const seen = new Map<number, string[]>();
    let writing = true;
    const ingesting = (async () => {
      for (let i = 0; i < 10; i++) {
        await Promise.all(Array.from({ length: 30 }, () => writer.ingest(event(), [plain()])));
      }
      writing = false;
    })();
    while (writing) {
      const claimed = await worker.claim({ worker: 'w', limit: 50, now: T0 + 1, leaseMs: 600_000 });
      for (const d of claimed) seen.set(d.id, [...(seen.get(d.id) ?? []), 'w']);
      await new Promise((r) => setImmediate(r));
    }
    await ingesting;
    for (const d of await worker.claim({ worker: 'w', limit: 1000, now: T0 + 1, leaseMs: 600_000 })) {
      seen.set(d.id, [...(seen.get(d.id) ?? []), 'w']);
    }
    expect(seen.size).toBe(300);
    expect([...seen.values()].every((w) => w.length === 1)).toBe(true);
  });
});
