// `ordering: fifo` in the store (issue 15 item 6): the claim hands out only
// the head of a FIFO target's queue, on SQLite and on PostgreSQL.

import { afterEach, describe, expect, test } from 'vitest';
import { storeDrivers } from '../helpers/drivers.js';
import { claimAll, event, plain, T0 } from './fixtures.js';

const FIFO = 'https://ordered.example';
const OTHER = 'https://free.example';
const now = T0 + 1_000;
const attempt = (outcome: 'delivered' | 'retry' | 'dead') => ({ startedAt: now, durationMs: 1, outcome });

describe.each(await storeDrivers())('fifo claim on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('one delivery in flight per FIFO target, oldest first; a failing head holds the rest; dead lets them go', async () => {
    const store = await driver.open();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const e = event();
      ids.push(e.id);
      await store.ingest(e, [plain({ target: FIFO }), plain({ rule: 'r2', target: OTHER })]);
    }
    const claim = (at = now) => store.claim({ ...claimAll, now: at, fifoTargets: [FIFO] });
    const deliveryIds = await Promise.all(ids.map(async (id) => (await store.getEvent(id))!.deliveries.find((d) => d.target === FIFO)!.id));

    // The head of the FIFO target, and every delivery to the other target.
    const first = await claim();
    expect(first.filter((d) => d.target === FIFO).map((d) => d.id)).toEqual([deliveryIds[0]]);
    expect(first.filter((d) => d.target === OTHER)).toHaveLength(3);
    expect(await store.queueHeads([FIFO, OTHER])).toEqual(new Map([[FIFO, deliveryIds[0]], [OTHER, first.find((d) => d.target === OTHER)!.id]]));

    // In flight: nothing more for the FIFO target, even long after.
    expect(await claim(now + 10_000)).toEqual([]);

    // It fails and waits for its retry: the others still wait behind it.
    await store.finish(first.find((d) => d.target === FIFO)!, attempt('retry'), { status: 'failed', nextAt: now + 60_000 });
    expect(await claim(now + 1_000)).toEqual([]);
    // Its retry comes round: it is claimed again, not the next one.
    const again = await claim(now + 60_000);
    expect(again.map((d) => d.id)).toEqual([deliveryIds[0]]);

    // Delivered: the next one, alone.
    await store.finish(again[0]!, attempt('delivered'), { status: 'delivered' });
    const second = await claim(now + 60_000);
    expect(second.map((d) => d.id)).toEqual([deliveryIds[1]]);
    // Dead also ends its turn.
    await store.finish(second[0]!, attempt('dead'), { status: 'dead' });
    expect((await claim(now + 60_000)).map((d) => d.id)).toEqual([deliveryIds[2]]);

    // Without fifoTargets the same queue is claimed all at once.
    const free = await driver.open();
    for (let i = 0; i < 3; i++) await free.ingest(event(), [plain({ target: FIFO })]);
    expect(await free.claim({ ...claimAll, now })).toHaveLength(3);
  });
});
