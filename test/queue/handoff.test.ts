// Deliveries planned at ingest can be inserted already leased (the hot path's
// hand-off, src/deliver/handoff.ts): the ingest transaction takes the claim,
// with the same fencing token a claim would hand out, so nothing else claims
// them while the lease lasts and a lapsed lease is fenced like a claim's.

import { afterEach, describe, expect, test } from 'vitest';

import type { AttemptRecord } from '../../src/queue/store.js';
import { storeDrivers } from '../helpers/drivers.js';
import { batched, event, plain, T0 } from './fixtures.js';

const delivered: AttemptRecord = { startedAt: T0, durationMs: 1, outcome: 'delivered', status: 200 };

describe.each(await storeDrivers())('ingest leases on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('marked deliveries come back leased with their tokens; the others stay claimable', async () => {
    const store = await driver.open();
    // Received now, so the batch's window is still open.
    const e = event({ receivedAt: Date.now() });
    const outcome = await store.ingest(e, [plain({ lease: true }), plain({ action: 'b', target: 'https://hooks.example/b' }), batched('k', 60_000, 10, { lease: true })], {
      worker: 'w1',
      leaseMs: 60_000,
    });
    expect(outcome.status).toBe('accepted');
    // A batch delivery is never taken at ingest, marked or not.
    expect(outcome.leased).toHaveLength(1);
    const [leased] = outcome.leased!;
    expect(leased).toMatchObject({ claimedBy: 'w1', generation: 1, rule: 'r1', action: 'a', attempts: 0 });
    expect(leased!.events.map((x) => [x.id, x.rawBody.toString(), x.headers, x.matched])).toEqual([[e.id, e.rawBody.toString(), e.headers, e.matched]]);
    expect(leased!.events[0]!.seq).toBeGreaterThan(0);

    // A claim now (batch window open) finds only the unleased plain one.
    const claimed = await store.claim({ worker: 'w2', limit: 10, now: Date.now(), leaseMs: 60_000 });
    expect(claimed.map((d) => d.action)).toEqual(['b']);

    expect(await store.finish(leased!, delivered, { status: 'delivered' })).toBe('recorded');
    const detail = (await store.getEvent(e.id))!;
    expect(detail.deliveries.find((d) => d.action === 'a')).toMatchObject({ status: 'delivered', nextAt: null });
  });

  test('a lapsed ingest lease is claimed again and the first holder is fenced out', async () => {
    const store = await driver.open();
    const e = event();
    const { leased } = await store.ingest(e, [plain({ lease: true })], { worker: 'w1', leaseMs: 1_000 });
    const [mine] = leased!;
    const [theirs] = await store.claim({ worker: 'w2', limit: 10, now: Date.now() + 2_000, leaseMs: 60_000 });
    expect(theirs).toMatchObject({ id: mine!.id, claimedBy: 'w2', generation: 2 });
    expect(await store.finish(mine!, delivered, { status: 'delivered' })).toBe('stale');
    expect(await store.release([mine!])).toEqual([mine!.id]);
    expect(await store.finish(theirs!, delivered, { status: 'delivered' })).toBe('recorded');
  });

  test('a released ingest lease is due at once; recover puts back those of a dead process', async () => {
    const store = await driver.open();
    const a = await store.ingest(event(), [plain({ lease: true })], { worker: 'host:1', leaseMs: 60_000 });
    const b = await store.ingest(event(), [plain({ lease: true })], { worker: 'host:2', leaseMs: 60_000 });
    expect(await store.claim({ worker: 'w', limit: 10, now: Date.now(), leaseMs: 60_000 })).toEqual([]);
    expect(await store.release(a.leased!)).toEqual([]);
    expect(await store.recover('host:2')).toBe(1);
    const claimed = await store.claim({ worker: 'w', limit: 10, now: Date.now(), leaseMs: 60_000 });
    expect(claimed.map((d) => d.id).sort()).toEqual([a.leased![0]!.id, b.leased![0]!.id].sort());
  });

  test('a duplicate takes no lease; without a lease option marks are ignored', async () => {
    const store = await driver.open();
    const e = event();
    await store.ingest(e, [plain()]);
    const dup = await store.ingest(e, [plain({ lease: true })], { worker: 'w1', leaseMs: 60_000 });
    expect(dup).toEqual({ status: 'duplicate', id: e.id });
    const plainOnly = await store.ingest(event(), [plain({ lease: true })]);
    expect(plainOnly.leased).toBeUndefined();
    expect(await store.claim({ worker: 'w', limit: 10, now: Date.now(), leaseMs: 60_000 })).toHaveLength(2);
  });
});
