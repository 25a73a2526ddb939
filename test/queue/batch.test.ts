import { afterEach, describe, expect, test } from 'vitest';

import { storeDrivers } from '../helpers/drivers.js';
import { batched, claimAll, event, plain, T0 } from './fixtures.js';

describe.each(await storeDrivers())('batching on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('events join the open batch, due when the window closes, oldest first', async () => {
    const store = await driver.open();
    const e1 = event({ receivedAt: T0 });
    const e2 = event({ receivedAt: T0 + 100 });
    const other = event({ receivedAt: T0 + 150 });
    await store.ingest(e1, [batched('k', 1000, 10), plain()]);
    await store.ingest(e2, [batched('k', 1000, 10)]);
    await store.ingest(other, [batched('other-key', 1000, 10)]);

    expect(await store.backlog()).toBe(3); // two batches and e1's plain delivery
    const early = await store.claim({ ...claimAll, now: T0 + 999 });
    expect(early.map((d) => d.action)).toEqual(['a']);
    const [batch, ...rest] = await store.claim({ ...claimAll, now: T0 + 1000 });
    expect(rest).toEqual([]);
    expect(batch).toMatchObject({ rule: 'rb', action: 'digest', target: 'https://hooks.example/digest', attempts: 0 });
    expect(batch!.events.map((e) => e.id)).toEqual([e1.id, e2.id]);
    expect(batch!.events[1]!.rawBody.equals(e2.rawBody)).toBe(true);

    // Claimed: a new event opens a new batch rather than joining.
    const e3 = event({ receivedAt: T0 + 900 });
    await store.ingest(e3, [batched('k', 1000, 10)]);
    const next = await store.claim({ ...claimAll, now: T0 + 1900 });
    expect(next.map((d) => d.events.map((e) => e.id))).toEqual([[other.id], [e3.id]]);

    await store.finish(batch!, { startedAt: T0, durationMs: 1, outcome: 'delivered' }, { status: 'delivered' });
    expect((await store.getEvent(e2.id))!.status).toBe('delivered');
    expect((await store.getEvent(e1.id))!.status).toBe('pending'); // its plain delivery is claimed, not done
    const d = (await store.getEvent(e2.id))!.deliveries;
    expect(d.map((x) => [x.id, x.status])).toEqual([[batch!.id, 'delivered']]);
    expect((await store.listEvents({ status: 'delivered' })).map((s) => [s.id, s.deliveries])).toEqual([[e2.id, 1]]);
  });

  test('a full batch is due at once and the next event opens another', async () => {
    const store = await driver.open();
    const events = Array.from({ length: 4 }, (_, i) => event({ receivedAt: T0 + i }));
    for (const e of events) await store.ingest(e, [batched('k', 60_000, 3)]);
    const claimed = await store.claim({ ...claimAll, now: T0 + 3 });
    expect(claimed.map((d) => d.events.map((e) => e.id))).toEqual([events.slice(0, 3).map((e) => e.id)]);
    expect(await store.nextDueAt()).toBe(Math.min(T0 + 3 + claimAll.leaseMs, T0 + 3 + 60_000));
    const rest = await store.claim({ ...claimAll, now: T0 + 3 + 60_000 });
    expect(rest.map((d) => d.events.map((e) => e.id))).toEqual([[events[3]!.id]]);
  });

  test('a window that passed unclaimed takes no more members', async () => {
    const store = await driver.open();
    const e1 = event({ receivedAt: T0 });
    const e2 = event({ receivedAt: T0 + 1000 });
    await store.ingest(e1, [batched('k', 1000, 10)]);
    await store.ingest(e2, [batched('k', 1000, 10)]);
    const claimed = await store.claim({ ...claimAll, now: T0 + 1000 });
    expect(claimed.map((d) => d.events.map((e) => e.id))).toEqual([[e1.id]]);
    const later = await store.claim({ ...claimAll, now: T0 + 2000 });
    expect(later.map((d) => d.events.map((e) => e.id))).toEqual([[e2.id]]);
  });

  test('max 1 means every event is its own delivery, due now', async () => {
    const store = await driver.open();
    const [a, b] = [event(), event()];
    await Promise.all([store.ingest(a, [batched('k', 60_000, 1)]), store.ingest(b, [batched('k', 60_000, 1)])]);
    const claimed = await store.claim({ ...claimAll, now: T0 });
    expect(claimed.map((d) => d.events.map((e) => e.id))).toEqual([[a.id], [b.id]]);
  });

  test('batches keep to max when two stores form them concurrently', async () => {
    const location = await driver.location();
    const [s1, s2] = await Promise.all([location.open(), location.open()]);
    const events = Array.from({ length: 60 }, (_, i) => event({ receivedAt: T0 + i }));
    await Promise.all(events.map((e, i) => (i % 2 === 0 ? s1 : s2).ingest(e, [batched('k', 60_000, 7)])));
    const claimed = await s1.claim({ ...claimAll, now: T0 + 120_000 });
    const sizes = claimed.map((d) => d.events.length);
    expect(sizes.every((n) => n <= 7)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(60);
    // Only the last batch may be short: no key had two open batches at once.
    expect(sizes.filter((n) => n < 7).length).toBeLessThanOrEqual(1);
    const members = claimed.flatMap((d) => d.events.map((e) => e.id));
    expect(new Set(members).size).toBe(60);
  });

  test('a replayed batch keeps its members and is not reopened', async () => {
    const store = await driver.open();
    const [a, b] = [event({ receivedAt: T0 }), event({ receivedAt: T0 + 1 })];
    await store.ingest(a, [batched('k', 100, 10)]);
    await store.ingest(b, [batched('k', 100, 10)]);
    const [batch] = await store.claim({ ...claimAll, now: T0 + 100 });
    await store.finish(batch!, { startedAt: T0, durationMs: 1, outcome: 'dead' }, { status: 'dead' });
    expect(await store.replay({ ids: [b.id] })).toEqual([batch!.id]);
    expect((await store.getEvent(a.id))!.status).toBe('pending');
    const c = event({ receivedAt: T0 + 50 });
    await store.ingest(c, [batched('k', 100, 10)]);
    const again = await store.claim({ ...claimAll, now: Date.now() + 1 });
    // c's own batch fell due at T0 + 150, long before the replay.
    expect(again.map((d) => d.events.map((e) => e.id))).toEqual([[c.id], [a.id, b.id]]);
  });
});
