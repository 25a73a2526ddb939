import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  MASK,
  UsageError,
  deadLetters,
  listEvents,
  parseTime,
  replay,
  showEvent,
  targetHealth,
} from '../../src/admin/operations.js';
import { openStore } from '../../src/queue/index.js';
import type { AttemptRecord, DeliveryNext, PlannedDelivery, Store } from '../../src/queue/store.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const SLACK = 'hooks.slack.com';
const API = 'api.example.com';

interface Planned extends PlannedDelivery {
  /** Attempts to record, oldest first; none leaves the delivery pending. */
  attempts?: Array<{ at: number; outcome: AttemptRecord['outcome']; status?: number; error?: string }>;
}

/** Ingests an event, then drives each delivery through claim + finish to the wanted state. */
async function seed(store: Store, id: string, opts: { source: string; type: string; at: number; headers?: Record<string, string>; body?: Buffer; deliveries: Planned[] }) {
  const body = opts.body ?? Buffer.from(JSON.stringify({ id, type: opts.type, data: { n: 1 } }));
  const headers = { 'content-type': 'application/json', ...opts.headers };
  const matched = [...new Set(opts.deliveries.map((d) => d.rule))];
  const plain = opts.deliveries.map(({ attempts: _, ...d }) => d);
  await store.ingest({ id, source: opts.source, type: opts.type, receivedAt: opts.at, headers, rawBody: body, matched }, plain);
  for (const d of opts.deliveries) {
    for (const a of d.attempts ?? []) {
      const claimed = await store.claim({ worker: 'seed', limit: 1000, now: Date.now() + 1000, leaseMs: 60_000 });
      const mine = claimed.find((c) => c.rule === d.rule && c.events[0]?.id === id);
      const others = claimed.filter((c) => c !== mine);
      if (others.length > 0) await store.release(others);
      if (!mine) throw new Error(`seed: ${id}/${d.rule} not claimable`);
      const next: DeliveryNext =
        a.outcome === 'delivered' ? { status: 'delivered' } : a.outcome === 'dead' ? { status: 'dead' } : { status: 'failed', nextAt: Date.now() - 1 };
      const record: AttemptRecord = { startedAt: a.at, durationMs: 12, outcome: a.outcome };
      if (a.status !== undefined) record.status = a.status;
      if (a.error !== undefined) record.error = a.error;
      await store.finish(mine, record, next);
    }
  }
}

/**
 * delivered (3h), failed (2h, retrying), dead (30m: one dead + one delivered
 * delivery, secret headers), pending (5m), old dead (3d), unmatched (1m).
 */
async function scenario(store: Store, now: number) {
  await seed(store, 'evt-old-dead', { source: 'gh', type: 'push', at: now - 72 * HOUR, deliveries: [
    { rule: 'notify', action: 'slack', target: SLACK, attempts: [{ at: now - 72 * HOUR, outcome: 'dead', status: 500, error: 'HTTP 500' }] },
  ] });
  await seed(store, 'evt-delivered', { source: 'gh', type: 'push', at: now - 3 * HOUR, deliveries: [
    { rule: 'notify', action: 'slack', target: SLACK, attempts: [{ at: now - 170 * MIN, outcome: 'delivered', status: 200 }] },
  ] });
  await seed(store, 'evt-failed', { source: 'gh', type: 'issues', at: now - 2 * HOUR, deliveries: [
    { rule: 'forward', action: 'legal', target: API, attempts: [{ at: now - 100 * MIN, outcome: 'retry', status: 503, error: 'HTTP 503' }] },
  ] });
  await seed(store, 'evt-dead', {
    source: 'stripe', type: 'charge.failed', at: now - 30 * MIN,
    headers: {
      authorization: 'Bearer sk_live_123', 'stripe-signature': 't=1,v1=abc', cookie: 'session=s3cret',
      'x-hub-signature-256': 'sha256=dead', 'x-archivus-signature': 'sha256=beef', 'x-custom-sig': 'c0ffee', 'user-agent': 'Stripe/1.0',
    },
    deliveries: [
      { rule: 'forward', action: 'legal', target: API, attempts: [
        { at: now - 20 * MIN, outcome: 'retry', status: 500, error: 'HTTP 500' },
        { at: now - 19 * MIN, outcome: 'dead', status: 500, error: 'HTTP 500' },
      ] },
      { rule: 'notify', action: 'slack', target: SLACK, attempts: [{ at: now - 25 * MIN, outcome: 'delivered', status: 200 }] },
    ],
  });
  await seed(store, 'evt-pending', { source: 'stripe', type: 'charge.failed', at: now - 5 * MIN, deliveries: [{ rule: 'notify', action: 'slack', target: SLACK }] });
  await seed(store, 'evt-unmatched', { source: 'gh', type: 'ping', at: now - 1 * MIN, deliveries: [] });
}

let dir: string;
let store: Store;
let now: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relay-admin-'));
  store = await openStore({ driver: 'sqlite', path: join(dir, 'relay.db'), sync: 'normal' });
  now = Date.now();
  await scenario(store, now);
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const ids = (page: { events: Array<{ id: string }> }) => page.events.map((e) => e.id);

describe('listEvents', () => {
  it('lists newest first with each event worst delivery status', async () => {
    const page = await listEvents(store, {}, now);
    expect(ids(page)).toEqual(['evt-unmatched', 'evt-pending', 'evt-dead', 'evt-failed', 'evt-delivered', 'evt-old-dead']);
    expect(page.events.map((e) => e.status)).toEqual(['unmatched', 'pending', 'dead', 'failed', 'delivered', 'dead']);
    expect(page.events[2]).toMatchObject({ source: 'stripe', type: 'charge.failed', deliveries: 2, receivedAt: new Date(now - 30 * MIN).toISOString() });
    expect(page.next).toBeNull();
  });

  it('filters by status, source, type and since (relative or ISO)', async () => {
    expect(ids(await listEvents(store, { status: 'dead' }, now))).toEqual(['evt-dead', 'evt-old-dead']);
    expect(ids(await listEvents(store, { status: 'failed' }, now))).toEqual(['evt-failed']);
    expect(ids(await listEvents(store, { source: 'stripe' }, now))).toEqual(['evt-pending', 'evt-dead']);
    expect(ids(await listEvents(store, { type: 'push' }, now))).toEqual(['evt-delivered', 'evt-old-dead']);
    expect(ids(await listEvents(store, { since: '1h' }, now))).toEqual(['evt-unmatched', 'evt-pending', 'evt-dead']);
    expect(ids(await listEvents(store, { since: new Date(now - 150 * MIN).toISOString(), source: 'gh' }, now))).toEqual(['evt-unmatched', 'evt-failed']);
  });

  it('pages with limit and next', async () => {
    const first = await listEvents(store, { limit: '2' }, now);
    expect(ids(first)).toEqual(['evt-unmatched', 'evt-pending']);
    expect(first.next).toBe(first.events[1]!.seq);
    const second = await listEvents(store, { limit: 4, before: String(first.next) }, now);
    expect(ids(second)).toEqual(['evt-dead', 'evt-failed', 'evt-delivered', 'evt-old-dead']);
    expect(second.next).toBe(second.events[3]!.seq);
    expect((await listEvents(store, { limit: 4, before: second.next! }, now)).events).toEqual([]);
  });

  it.each([
    [{ status: 'bogus' }, /status "bogus" is not one of pending, delivered, failed, dead, unmatched/],
    [{ limit: '0' }, /limit must be a whole number from 1 to 1000/],
    [{ limit: '5000' }, /limit must be a whole number from 1 to 1000/],
    [{ limit: '2.5' }, /limit/],
    [{ since: 'yesterday' }, /since "yesterday" is not a time/],
    [{ since: '15 parsecs' }, /since/],
    [{ before: '-3' }, /before/],
  ])('rejects %o with a UsageError', async (query, message) => {
    const err = await listEvents(store, query, now).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('parseTime', () => {
  it('reads ages, ISO times and epoch ms', () => {
    const t = Date.UTC(2024, 4, 1, 12);
    expect(parseTime('15m', 'since', t)).toBe(t - 15 * MIN);
    expect(parseTime('2h', 'since', t)).toBe(t - 2 * HOUR);
    expect(parseTime('7d', 'since', t)).toBe(t - 7 * 24 * HOUR);
    expect(parseTime('30s', 'since', t)).toBe(t - 30_000);
    expect(parseTime('2024-05-01T10:00:00Z', 'since', t)).toBe(Date.UTC(2024, 4, 1, 10));
    expect(parseTime(1234, 'since', t)).toBe(1234);
    expect(parseTime(undefined, 'since', t)).toBeUndefined();
    expect(() => parseTime('1714557600000', 'since', t)).toThrow(UsageError);
  });
});

describe('showEvent', () => {
  it('masks signature and auth headers, keeps the rest', async () => {
    const e = await showEvent(store, 'evt-dead', { secretHeaders: ['X-Custom-Sig'] });
    expect(e?.headers).toEqual({
      'content-type': 'application/json',
      'user-agent': 'Stripe/1.0',
      authorization: `Bearer ${MASK}`,
      'stripe-signature': MASK,
      cookie: MASK,
      'x-hub-signature-256': MASK,
      'x-archivus-signature': MASK,
      'x-custom-sig': MASK,
    });
    expect(JSON.stringify(e)).not.toMatch(/sk_live_123|s3cret|c0ffee|beef|v1=abc/);
  });

  it('without the configured header name, a custom one is shown', async () => {
    expect((await showEvent(store, 'evt-dead'))?.headers['x-custom-sig']).toBe('c0ffee');
  });

  it('gives the payload, matched rules and every delivery with all its attempts', async () => {
    const e = await showEvent(store, 'evt-dead');
    expect(e).toMatchObject({ id: 'evt-dead', source: 'stripe', status: 'dead', matched: ['forward', 'notify'] });
    expect(e?.body).toEqual({ format: 'json', bytes: expect.any(Number), json: { id: 'evt-dead', type: 'charge.failed', data: { n: 1 } } });
    const forward = e?.deliveries.find((d) => d.rule === 'forward');
    expect(forward).toMatchObject({ action: 'legal', target: API, status: 'dead', lastError: 'HTTP 500' });
    expect(forward?.attempts).toEqual([
      { n: 1, startedAt: new Date(now - 20 * MIN).toISOString(), durationMs: 12, outcome: 'retry', status: 500, error: 'HTTP 500' },
      { n: 2, startedAt: new Date(now - 19 * MIN).toISOString(), durationMs: 12, outcome: 'dead', status: 500, error: 'HTTP 500' },
    ]);
    expect(e?.deliveries.find((d) => d.rule === 'notify')?.status).toBe('delivered');
  });

  it('finds by seq, and returns null for an unknown id', async () => {
    const seq = (await listEvents(store, { status: 'failed' })).events[0]!.seq;
    expect((await showEvent(store, String(seq)))?.id).toBe('evt-failed');
    expect(await showEvent(store, 'nope')).toBeNull();
  });

  it('shows a non-JSON body as text and a binary one as base64', async () => {
    await seed(store, 'evt-form', { source: 'gh', type: 'form', at: now, body: Buffer.from('a=1&b=2'), deliveries: [] });
    await seed(store, 'evt-bin', { source: 'gh', type: 'bin', at: now, body: Buffer.from([0xff, 0x00, 0xfe]), deliveries: [] });
    expect((await showEvent(store, 'evt-form'))?.body).toEqual({ format: 'text', bytes: 7, text: 'a=1&b=2' });
    expect((await showEvent(store, 'evt-bin'))?.body).toEqual({ format: 'base64', bytes: 3, base64: '/wD+' });
  });
});

describe('deadLetters', () => {
  it('lists only the dead deliveries of dead events', async () => {
    const dead = await deadLetters(store, {}, now);
    expect(dead.map((d) => [d.event.id, d.delivery.rule, d.delivery.status])).toEqual([
      ['evt-dead', 'forward', 'dead'],
      ['evt-old-dead', 'notify', 'dead'],
    ]);
    expect((await deadLetters(store, { since: '1d' }, now)).map((d) => d.event.id)).toEqual(['evt-dead']);
  });

  it('is not fooled by a provider id that looks like a seq', async () => {
    const seq = (await listEvents(store, { type: 'push' })).events.at(-1)!.seq; // evt-old-dead
    await seed(store, String(seq), { source: 'numeric', type: 'ping', at: now, deliveries: [] });
    expect((await deadLetters(store, {}, now)).map((d) => d.event.id)).toEqual(['evt-dead', 'evt-old-dead']);
    expect(await replay(store, { dead: true }, undefined, now)).toMatchObject({ events: 2, deliveries: 2 });
  });
});

/** Claims everything due and returns {event id/rule: attempts made before}. */
async function due(): Promise<Record<string, number>> {
  const claimed = await store.claim({ worker: 'check', limit: 1000, now: Date.now() + 1000, leaseMs: 60_000 });
  return Object.fromEntries(claimed.map((c) => [`${c.events[0]!.id}/${c.rule}`, c.attempts]));
}

describe('replay', () => {
  it('--dead makes dead letters pending and due with the attempt budget reset, and nothing else', async () => {
    const summary = await replay(store, { dead: true }, undefined, now);
    expect(summary).toMatchObject({ events: 2, deliveries: 2, missing: [] });
    const e = await showEvent(store, 'evt-dead');
    expect(e?.deliveries.map((d) => [d.rule, d.status])).toEqual([['forward', 'pending'], ['notify', 'delivered']]);
    expect(e?.deliveries[0]?.attempts).toHaveLength(2); // history is kept
    expect((await listEvents(store, { status: 'dead' })).events).toEqual([]);
    // The budget: the next claim sees no earlier attempts. evt-failed is
    // due too (retrying) but keeps its count.
    expect(await due()).toEqual({ 'evt-old-dead/notify': 0, 'evt-dead/forward': 0, 'evt-failed/forward': 1, 'evt-pending/notify': 0 });
  });

  it('by id or seq replays every delivery of those events and reports unknown ids', async () => {
    const seq = (await listEvents(store, { type: 'push', limit: 1 })).events[0]!.seq;
    expect(seq).toBeGreaterThan(0);
    const summary = await replay(store, { ids: ['evt-dead', String(seq), 'nope'] }, undefined, now);
    expect(summary).toMatchObject({ events: 2, deliveries: 3, missing: ['nope'] });
    expect((await showEvent(store, 'evt-dead'))?.deliveries.map((d) => d.status)).toEqual(['pending', 'pending']);
    expect((await showEvent(store, 'evt-delivered'))?.deliveries[0]?.status).toBe('pending');
    expect((await showEvent(store, 'evt-old-dead'))?.deliveries[0]?.status).toBe('dead');
  });

  it('--since with --rule replays only that rule in recent events', async () => {
    const totals: number[] = [];
    const summary = await replay(store, { since: '150m', rule: 'notify' }, (_, total) => totals.push(total), now);
    // Received since: evt-unmatched (nothing to replay), evt-pending, evt-dead,
    // evt-failed (no notify delivery): two are selected.
    expect(totals).toEqual([2, 2]);
    expect(summary).toMatchObject({ events: 2, deliveries: 2 });
    const e = await showEvent(store, 'evt-dead');
    expect(e?.deliveries.map((d) => [d.rule, d.status])).toEqual([['forward', 'dead'], ['notify', 'pending']]);
    expect((await showEvent(store, 'evt-delivered'))?.deliveries[0]?.status).toBe('delivered'); // older
    expect((await showEvent(store, 'evt-failed'))?.deliveries[0]?.status).toBe('failed'); // other rule
  });

  it('--dead --since takes both criteria', async () => {
    expect(await replay(store, { dead: true, since: '1d' }, undefined, now)).toMatchObject({ events: 1, deliveries: 1 });
    expect((await showEvent(store, 'evt-old-dead'))?.deliveries[0]?.status).toBe('dead');
    // Only evt-unmatched is that recent, and it has nothing to replay.
    expect(await replay(store, { since: '2m' }, undefined, now)).toMatchObject({ events: 0, deliveries: 0 });
  });

  it('ids with --since: only those of the ids received since', async () => {
    expect(await replay(store, { ids: ['evt-old-dead', 'evt-dead'], since: '1h' }, undefined, now)).toMatchObject({ events: 1, deliveries: 2, missing: [] });
    expect((await showEvent(store, 'evt-old-dead'))?.deliveries[0]?.status).toBe('dead');
  });

  it('reports progress chunk by chunk', async () => {
    for (let i = 0; i < 120; i++) {
      await seed(store, `bulk-${i}`, { source: 'gh', type: 'bulk', at: now - 10 * HOUR, deliveries: [
        { rule: 'notify', action: 'slack', target: SLACK, attempts: [{ at: now - 10 * HOUR, outcome: 'dead', status: 502 }] },
      ] });
    }
    const calls: Array<[number, number]> = [];
    const summary = await replay(store, { dead: true }, (done, total) => calls.push([done, total]), now);
    expect(summary).toMatchObject({ events: 122, deliveries: 122 });
    expect(calls).toEqual([[0, 122], [50, 122], [100, 122], [122, 122]]);
  });

  it('refuses to replay everything by accident', async () => {
    await expect(replay(store, {}, undefined, now)).rejects.toThrow(/replay needs event ids, dead letters \(dead\) or a start time \(since\)/);
    await expect(replay(store, { ids: ['  '], rule: 'notify' }, undefined, now)).rejects.toBeInstanceOf(UsageError);
    await expect(replay(store, { dead: true, rule: ' ' }, undefined, now)).rejects.toThrow(/rule must not be empty/);
    await expect(replay(store, { since: 'soon' }, undefined, now)).rejects.toThrow(/since "soon" is not a time/);
  });
});

describe('targetHealth', () => {
  it('counts consecutive failures per target from stored attempts', async () => {
    const targets = await targetHealth(store);
    // api.example.com: retry, retry, dead in a row; the Slack target's latest attempt succeeded.
    expect(targets).toEqual([
      { target: API, failures: 3, circuit: 'closed', lastAttemptAt: new Date(now - 19 * MIN).toISOString(), lastError: 'HTTP 500', queued: 1 },
    ]);
    // The circuit's state is the store's, as the serving instance wrote it.
    await store.saveCircuit({ target: API, openUntil: Date.now() + 60_000, failures: 5 }, Date.now());
    expect((await targetHealth(store))[0]?.circuit).toBe('open');
  });

  it('counts a batched delivery once, though each of its events shows it', async () => {
    const batch = { key: 'digest', windowMs: 1000, max: 10 };
    for (const id of ['evt-b1', 'evt-b2']) {
      await store.ingest({ id, source: 'gh', type: 'push', receivedAt: now, headers: {}, rawBody: Buffer.from('{}'), matched: ['digest'] }, [
        { rule: 'digest', action: 'mail', target: 'smtp.example', batch },
      ]);
    }
    const claimed = await store.claim({ worker: 'w', limit: 100, now: Date.now() + 5000, leaseMs: 60_000 });
    const digest = claimed.find((c) => c.rule === 'digest')!;
    expect(digest.events.map((e) => e.id)).toEqual(['evt-b1', 'evt-b2']);
    await store.release(claimed.filter((c) => c !== digest));
    await store.finish(digest, { startedAt: now, durationMs: 5, outcome: 'retry', status: 503 }, { status: 'failed', nextAt: now + 60_000 });
    expect((await targetHealth(store)).find((t) => t.target === 'smtp.example')).toMatchObject({ failures: 1, queued: 1 });
    expect(await replay(store, { ids: ['evt-b1', 'evt-b2'] }, undefined, now)).toMatchObject({ events: 2, deliveries: 1 });
  });

  it('a permanent 4xx means the destination answered: it ends the run', async () => {
    await seed(store, 'evt-400', { source: 'gh', type: 'push', at: now, deliveries: [
      { rule: 'forward', action: 'legal', target: API, attempts: [{ at: now, outcome: 'dead', status: 400, error: 'bad request' }] },
    ] });
    expect(await targetHealth(store)).toEqual([]);
  });
});
