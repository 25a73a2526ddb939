import { afterEach, describe, expect, test } from 'vitest';

import { LATEST_VERSION } from '../../src/queue/migrations.js';
import type { Store } from '../../src/queue/store.js';
import { storeDrivers } from '../helpers/drivers.js';
import { claimAll, event, plain, T0 } from './fixtures.js';

describe.each(await storeDrivers())('store on $name', (driver) => {
  afterEach(() => driver.cleanup());

  async function deliveryOf(store: Store, id: string) {
    const detail = await store.getEvent(id);
    return detail!.deliveries[0]!;
  }

  test('ingest then getEvent round-trips every byte and field', async () => {
    const store = await driver.open();
    const rawBody = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from([0xc3, 0x28])]);
    const e = event({ rawBody, headers: { 'x-sig': 'sha256=ab', 'x-multi': 'a, b' }, matched: ['r1', 'r2'] });
    expect(await store.ingest(e, [plain(), plain({ rule: 'r2', target: 'mailto:x' })])).toEqual({
      status: 'accepted',
      id: e.id,
    });

    const detail = await store.getEvent(e.id);
    expect(detail).not.toBeNull();
    expect(Buffer.compare(detail!.rawBody, rawBody)).toBe(0);
    expect(detail).toMatchObject({
      id: e.id,
      source: e.source,
      type: e.type,
      receivedAt: e.receivedAt,
      headers: e.headers,
      matched: ['r1', 'r2'],
      status: 'pending',
    });
    expect(detail!.deliveries.map((d) => [d.rule, d.target, d.status, d.nextAt, d.attempts])).toEqual([
      ['r1', 'https://hooks.example/a', 'pending', T0, []],
      ['r2', 'mailto:x', 'pending', T0, []],
    ]);
    const bySeq = await store.getEvent(String(detail!.seq));
    expect(bySeq?.id).toBe(e.id);
    expect(await store.getEvent('no-such-event')).toBeNull();
  });

  test('a duplicate (source, id) is reported and writes nothing', async () => {
    const store = await driver.open();
    const e = event();
    await store.ingest(e, [plain()]);
    expect(await store.ingest({ ...e, rawBody: Buffer.from('other') }, [plain(), plain()])).toEqual({
      status: 'duplicate',
      id: e.id,
    });
    expect(await store.listEvents({})).toHaveLength(1);
    expect(await store.backlog()).toBe(1);
    expect((await store.getEvent(e.id))!.rawBody.toString()).toBe(e.rawBody.toString());
    // Same id from another source is another event.
    expect((await store.ingest({ ...e, source: 'stripe' }, [])).status).toBe('accepted');
    expect(store.stats().duplicates).toBe(1);
  });

  test('concurrent ingests share transactions (group commit)', async () => {
    const store = await driver.open();
    const events = Array.from({ length: 200 }, () => event());
    const outcomes = await Promise.all(events.map((e) => store.ingest(e, [plain()])));
    expect(outcomes.every((o) => o.status === 'accepted')).toBe(true);
    const stats = store.stats();
    expect(stats.ingestedEvents).toBe(200);
    expect(stats.ingestTransactions).toBeGreaterThan(0);
    expect(stats.ingestTransactions).toBeLessThan(200);
    expect(await store.listEvents({ limit: 1000 })).toHaveLength(200);
    expect(await store.backlog()).toBe(200);
  });

  test('duplicates inside one group: one wins, the rest are duplicates', async () => {
    const store = await driver.open();
    const known = event();
    await store.ingest(known, [plain()]);
    const e = event();
    const outcomes = await Promise.all([
      store.ingest(e, [plain()]),
      store.ingest({ ...e, rawBody: Buffer.from('second') }, [plain()]),
      store.ingest(known, [plain()]),
      store.ingest(known, [plain()]),
      store.ingest(event(), [plain()]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['accepted', 'duplicate', 'duplicate', 'duplicate', 'accepted']);
    expect(store.stats().ingestTransactions).toBe(2);
    expect(await store.listEvents({})).toHaveLength(3);
    expect(await store.backlog()).toBe(3);
    expect((await store.getEvent(e.id))!.rawBody.toString()).toBe(e.rawBody.toString());
  });

  test('claim honours next_at, limit, skipTargets and returns events', async () => {
    const store = await driver.open();
    const a = event({ receivedAt: T0 });
    const b = event({ receivedAt: T0 + 10 });
    const c = event({ receivedAt: T0 + 20 });
    const later = event({ receivedAt: T0 + 1000 });
    await store.ingest(a, [plain({ target: 'A' })]);
    await store.ingest(b, [plain({ target: 'B' })]);
    await store.ingest(c, [plain({ target: 'A' })]);
    await store.ingest(later, [plain({ target: 'B' })]);

    expect(await store.nextDueAt()).toBe(T0);
    const first = await store.claim({ ...claimAll, limit: 2, now: T0 + 500, skipTargets: ['A'] });
    expect(first.map((d) => d.events[0]!.id)).toEqual([b.id]);
    expect(first[0]).toMatchObject({ rule: 'r1', action: 'a', target: 'B', attempts: 0 });
    expect(first[0]!.events[0]).toMatchObject({ id: b.id, headers: b.headers, matched: b.matched });
    expect(first[0]!.events[0]!.rawBody.equals(b.rawBody)).toBe(true);

    const second = await store.claim({ ...claimAll, limit: 1, now: T0 + 500 });
    expect(second.map((d) => d.events[0]!.id)).toEqual([a.id]);
    // b is leased, later is not due yet: only c is left.
    const third = await store.claim({ ...claimAll, now: T0 + 500 });
    expect(third.map((d) => d.events[0]!.id)).toEqual([c.id]);
    expect(await store.claim({ ...claimAll, now: T0 + 999 })).toEqual([]);
    expect((await store.claim({ ...claimAll, now: T0 + 1000 })).map((d) => d.events[0]!.id)).toEqual([later.id]);
    expect(await store.claim({ ...claimAll, limit: 0, now: T0 + 1e9 })).toEqual([]);
  });

  test('an expired lease is claimed again, with no attempt counted', async () => {
    const store = await driver.open();
    const e = event();
    await store.ingest(e, [plain()]);
    const [held] = await store.claim({ worker: 'dead-instance', limit: 10, now: T0, leaseMs: 1000 });
    expect(held).toBeDefined();
    expect(await store.claim({ worker: 'w2', limit: 10, now: T0 + 999, leaseMs: 1000 })).toEqual([]);
    expect(await store.nextDueAt()).toBe(T0 + 1000);
    const again = await store.claim({ worker: 'w2', limit: 10, now: T0 + 1000, leaseMs: 1000 });
    expect(again.map((d) => [d.id, d.attempts])).toEqual([[held!.id, 0]]);
  });

  test('finish records attempts with every field; failed is due later, then dead', async () => {
    const store = await driver.open();
    const e = event();
    await store.ingest(e, [plain()]);
    const [d] = await store.claim({ ...claimAll, now: T0 });
    const retry = { startedAt: T0 + 1, durationMs: 250, outcome: 'retry' as const, status: 503, error: 'HTTP 503' };
    await store.finish(d!, retry, { status: 'failed', nextAt: T0 + 5000 });

    let detail = (await store.getEvent(e.id))!;
    expect(detail.status).toBe('failed');
    expect(detail.deliveries[0]).toMatchObject({ status: 'failed', nextAt: T0 + 5000, lastError: 'HTTP 503' });
    expect(detail.deliveries[0]!.attempts).toEqual([retry]);
    expect(await store.backlog()).toBe(1);
    expect(await store.claim({ ...claimAll, now: T0 + 4999 })).toEqual([]);
    const [again] = await store.claim({ ...claimAll, now: T0 + 5000 });
    expect(again!.attempts).toBe(1);

    const fatal = { startedAt: T0 + 5001, durationMs: 3, outcome: 'dead' as const, error: 'ECONNREFUSED' };
    await store.finish(again!, fatal, { status: 'dead' });
    detail = (await store.getEvent(e.id))!;
    expect(detail.status).toBe('dead');
    expect(detail.deliveries[0]).toMatchObject({ status: 'dead', nextAt: null, lastError: 'ECONNREFUSED' });
    expect(detail.deliveries[0]!.attempts).toEqual([retry, fatal]);
    expect(await store.backlog()).toBe(0);
    expect(await store.nextDueAt()).toBeNull();
    expect(await store.claim({ ...claimAll, now: T0 + 1e9 })).toEqual([]);
  });

  test('delivered clears the error and finishes the event; release records nothing', async () => {
    const store = await driver.open();
    const e = event();
    await store.ingest(e, [plain(), plain({ action: 'b' })]);
    const claimed = await store.claim({ ...claimAll, now: T0 });
    expect(claimed).toHaveLength(2);
    await store.finish(claimed[0]!, { startedAt: T0, durationMs: 1, outcome: 'delivered', status: 200 }, { status: 'delivered' });
    expect((await store.getEvent(e.id))!.status).toBe('pending');

    await store.release([claimed[1]!]);
    const back = await store.claim({ ...claimAll, now: Date.now() + 1 });
    expect(back.map((d) => [d.id, d.attempts])).toEqual([[claimed[1]!.id, 0]]);
    await store.finish(back[0]!, { startedAt: T0, durationMs: 1, outcome: 'delivered', status: 204 }, { status: 'delivered' });
    const detail = (await store.getEvent(e.id))!;
    expect(detail.status).toBe('delivered');
    expect(detail.deliveries.map((d) => [d.status, d.attempts.length, d.lastError, d.nextAt])).toEqual([
      ['delivered', 1, null, null],
      ['delivered', 1, null, null],
    ]);
    expect(store.stats().finishTransactions).toBeGreaterThan(0);
  });

  test('event status is the worst delivery status, unmatched without any', async () => {
    const store = await driver.open();
    const cases = { delivered: event(), pending: event(), failed: event(), dead: event(), unmatched: event() };
    for (const [name, e] of Object.entries(cases)) {
      // No rule matched: `unmatched`; matched with every action off would be `off`.
      await store.ingest(name === 'unmatched' ? { ...e, matched: [] } : e, name === 'unmatched' ? [] : [plain({ action: 'ok' }), plain({ action: name })]);
    }
    const claimed = await store.claim({ ...claimAll, now: T0 });
    for (const d of claimed) {
      const outcome = d.action === 'ok' || d.action === 'delivered' ? 'delivered' : d.action;
      if (outcome === 'pending') await store.release([d]);
      else if (outcome === 'failed') {
        await store.finish(d, { startedAt: T0, durationMs: 1, outcome: 'retry' }, { status: 'failed', nextAt: T0 + 60_000 });
      } else if (outcome === 'dead') await store.finish(d, { startedAt: T0, durationMs: 1, outcome: 'dead' }, { status: 'dead' });
      else await store.finish(d, { startedAt: T0, durationMs: 1, outcome: 'delivered' }, { status: 'delivered' });
    }
    for (const [name, e] of Object.entries(cases)) expect([name, (await store.getEvent(e.id))!.status]).toEqual([name, name]);
    const listed = await store.listEvents({});
    expect(Object.fromEntries(listed.map((s) => [s.id, s.status]))).toEqual(
      Object.fromEntries(Object.entries(cases).map(([name, e]) => [e.id, name])),
    );
    expect((await store.listEvents({ status: 'dead' })).map((s) => s.id)).toEqual([cases.dead.id]);
    expect((await store.listEvents({ status: 'unmatched' })).map((s) => s.deliveries)).toEqual([0]);
  });

  test('listEvents filters and pages by seq', async () => {
    const store = await driver.open();
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      const e = event({ receivedAt: T0 + i * 1000, source: i % 2 === 0 ? 'github' : 'stripe', type: i % 5 === 0 ? 'ping' : 'push' });
      ids.push(e.id);
      await store.ingest(i % 3 === 0 ? { ...e, matched: [] } : e, i % 3 === 0 ? [] : [plain()]);
    }
    const pages: string[][] = [];
    let before: number | undefined;
    for (;;) {
      const page = await store.listEvents({ limit: 10, ...(before !== undefined ? { before } : {}) });
      if (page.length === 0) break;
      pages.push(page.map((s) => s.id));
      before = page[page.length - 1]!.seq;
    }
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual([...ids].reverse());

    expect((await store.listEvents({ source: 'stripe', limit: 100 })).length).toBe(12);
    expect((await store.listEvents({ type: 'ping', limit: 100 })).map((s) => s.id)).toEqual([ids[20], ids[15], ids[10], ids[5], ids[0]]);
    expect((await store.listEvents({ since: T0 + 20_000, limit: 100 })).map((s) => s.id)).toEqual(ids.slice(20).reverse());
    expect((await store.listEvents({ until: T0 + 2000, limit: 100 })).map((s) => s.id)).toEqual([ids[1], ids[0]]);
    const unmatched = await store.listEvents({ status: 'unmatched', source: 'github', limit: 100 });
    expect(unmatched.map((s) => s.id)).toEqual([ids[24], ids[18], ids[12], ids[6], ids[0]]);
    expect((await store.listEvents({ status: 'pending', limit: 3 })).map((s) => [s.status, s.deliveries])).toEqual([
      ['pending', 1],
      ['pending', 1],
      ['pending', 1],
    ]);
  });

  test('replay: dead, by id or seq, since, by rule; attempts reset, history kept', async () => {
    const store = await driver.open();
    const [e1, e2, e3] = [event({ receivedAt: T0 }), event({ receivedAt: T0 + 100 }), event({ receivedAt: T0 + 200 })];
    await store.ingest(e1, [plain({ rule: 'r1' }), plain({ rule: 'r2' })]);
    await store.ingest(e2, [plain({ rule: 'r1' })]);
    await store.ingest(e3, [plain({ rule: 'r2' })]);
    for (const d of await store.claim({ ...claimAll, now: T0 + 200 })) {
      await store.finish(d, { startedAt: T0, durationMs: 1, outcome: 'dead', error: 'gone' }, { status: 'dead' });
    }
    expect(await store.backlog()).toBe(0);

    const byRule = await store.replay({ dead: true, rule: 'r2' });
    expect(byRule).toHaveLength(2);
    let detail = (await store.getEvent(e1.id))!;
    expect(detail.status).toBe('dead'); // its r1 delivery is still dead
    const r2 = detail.deliveries.find((d) => d.rule === 'r2')!;
    expect(r2.status).toBe('pending');
    expect(r2.attempts).toHaveLength(1); // the old attempt is kept
    expect((await store.getEvent(e3.id))!.status).toBe('pending');

    const claimed = await store.claim({ ...claimAll, now: Date.now() + 1 });
    expect(claimed.map((d) => d.attempts)).toEqual([0, 0]);
    expect(claimed.map((d) => d.id).sort()).toEqual([...byRule].sort());
    // Leased deliveries are not replayed under the worker's feet.
    expect(await store.replay({ ids: [e3.id] })).toEqual([]);
    await store.release(claimed);

    const dead = await store.replay({ dead: true });
    expect(dead).toHaveLength(2); // e1/r1 and e2/r1
    expect(await store.backlog()).toBe(4);

    // By seq string and since: every delivery of the selected events.
    expect(await store.replay({ ids: [String(detail.seq)] })).toHaveLength(2);
    expect(await store.replay({ since: T0 + 100 })).toHaveLength(2);
    expect(await store.replay({ ids: ['nope'] })).toEqual([]);
    await expect(store.replay({})).rejects.toThrow(RangeError);
    await expect(store.replay({ rule: 'r1' })).rejects.toThrow(RangeError);
    detail = (await store.getEvent(e1.id))!;
    expect(detail.status).toBe('pending');
  });

  test('prune deletes finished old events, keeps dead and queued ones', async () => {
    const store = await driver.open();
    const old = {
      delivered: event({ receivedAt: T0 }),
      dead: event({ receivedAt: T0 }),
      pending: event({ receivedAt: T0 }),
      unmatched: event({ receivedAt: T0 }),
      mixed: event({ receivedAt: T0 }),
    };
    const recent = event({ receivedAt: T0 + 10_000 });
    for (const [name, e] of Object.entries(old)) {
      await store.ingest(e, name === 'unmatched' ? [] : name === 'mixed' ? [plain(), plain({ action: 'dead' })] : [plain({ action: name })]);
    }
    await store.ingest(recent, [plain({ action: 'delivered' })]);
    for (const d of await store.claim({ ...claimAll, now: T0 + 10_000 })) {
      if (d.action === 'pending') continue;
      if (d.action === 'dead') await store.finish(d, { startedAt: T0, durationMs: 1, outcome: 'dead' }, { status: 'dead' });
      else await store.finish(d, { startedAt: T0, durationMs: 1, outcome: 'delivered' }, { status: 'delivered' });
    }

    expect(await store.prune(T0 + 5000)).toEqual({ events: 2 });
    expect(await store.getEvent(old.delivered.id)).toBeNull();
    expect(await store.getEvent(old.unmatched.id)).toBeNull();
    for (const kept of [old.dead, old.pending, old.mixed, recent]) expect(await store.getEvent(kept.id)).not.toBeNull();

    expect(await store.prune(T0 + 5000, { dead: true })).toEqual({ events: 2 });
    expect(await store.getEvent(old.dead.id)).toBeNull();
    expect(await store.getEvent(old.mixed.id)).toBeNull();
    expect(await store.getEvent(old.pending.id)).not.toBeNull();
    expect(await store.listEvents({})).toHaveLength(2);
    // A pruned id is accepted again.
    expect((await store.ingest(old.delivered, [])).status).toBe('accepted');
  });

  test('prune works through more events than one chunk', async () => {
    const store = await driver.open();
    await Promise.all(Array.from({ length: 1200 }, () => store.ingest(event(), [])));
    expect(await store.prune(T0 + 1)).toEqual({ events: 1200 });
    expect(await store.listEvents({})).toEqual([]);
  });

  test('migrations are idempotent and record their version', async () => {
    const location = await driver.location();
    const [a, b] = await Promise.all([location.open(), location.open()]);
    expect(await a.migrate()).toEqual({ version: LATEST_VERSION, applied: [] });
    expect(await b.migrate()).toEqual({ version: LATEST_VERSION, applied: [] });
    await a.ingest(event(), [plain()]);
    expect(await b.backlog()).toBe(1);
  });

  test('a reopened store sees everything committed before close', async () => {
    const location = await driver.location();
    const first = await location.open();
    const e = event();
    await first.ingest(e, [plain(), plain({ action: 'b' })]);
    const [d] = await first.claim({ ...claimAll, limit: 1, now: T0 });
    await first.finish(d!, { startedAt: T0, durationMs: 9, outcome: 'retry', status: 500 }, { status: 'failed', nextAt: T0 + 10 });
    const before = await first.getEvent(e.id);
    await first.close();
    await first.close(); // idempotent

    const second = await location.open();
    expect(await second.getEvent(e.id)).toEqual(before);
    expect(await second.backlog()).toBe(2);
    expect((await second.ingest(e, [])).status).toBe('duplicate');
    await expect(first.ingest(event(), [])).rejects.toThrow(/closed/);
  });

  test('closeCircuits closes the circuits of the given deliveries\' targets and names those that were open', async () => {
    const store = await driver.open();
    const e = event();
    await store.ingest(e, [plain(), plain({ rule: 'r2', target: 'https://other.example' })]);
    const ids = (await store.getEvent(e.id))!.deliveries.map((d) => d.id);
    await store.saveCircuit({ target: 'https://hooks.example/a', openUntil: T0 + 60_000, failures: 5 }, T0);
    await store.saveCircuit({ target: 'https://elsewhere.example', openUntil: T0 + 60_000, failures: 5 }, T0);
    expect(await store.closeCircuits(ids, T0 + 1)).toEqual(['https://hooks.example/a']);
    // Only the replayed deliveries' targets: another target's circuit stays open.
    expect((await store.openCircuits(T0 + 1)).map((c) => c.target)).toEqual(['https://elsewhere.example']);
    expect(await store.closeCircuits(ids, T0 + 2)).toEqual([]);
  });

  test('ping answers on an open store', async () => {
    const store = await driver.open();
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
