// ReplaySelector.action on both engines: with ids and rule, one delivery of
// an event is replayed and its siblings are left alone.

import { afterEach, describe, expect, test } from 'vitest';

import { storeDrivers } from '../helpers/drivers.js';
import { claimAll, event, plain, T0 } from './fixtures.js';

describe.each(await storeDrivers())('replay by action on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('replays only the named action of the rule', async () => {
    const store = await driver.open();
    const e = event();
    await store.ingest(e, [plain({ action: 'a' }), plain({ action: 'b' }), plain({ rule: 'r2', action: 'a' })]);
    for (const d of await store.claim({ ...claimAll, now: T0 })) {
      await store.finish(d, { startedAt: T0, durationMs: 1, outcome: 'dead' }, { status: 'dead' });
    }
    const ids = await store.replay({ ids: [e.id], rule: 'r1', action: 'a', dead: true });
    expect(ids).toHaveLength(1);
    const detail = (await store.getEvent(e.id))!;
    expect(detail.deliveries.map((d) => [d.rule, d.action, d.status])).toEqual([
      ['r1', 'a', 'pending'],
      ['r1', 'b', 'dead'],
      ['r2', 'a', 'dead'],
    ]);
    expect(await store.replay({ ids: [e.id], rule: 'r1', action: 'nope' })).toEqual([]);
  });
});
