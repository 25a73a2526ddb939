// The hot path's hand-off (issue 13): an event's deliveries that this
// process's workers can take are leased by the ingest transaction and
// started from memory, without a claim: at once when a slot is free, else
// from the waiting room (src/deliver/ready.ts) when one frees. What does not
// fit there, or waited so long that its lease would lapse, or goes to an
// `ordering: fifo` target, goes through the claim path. Real Relay, real receiver.
import { request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { READY_DEPTH } from '../../src/deliver/ready.js';
import { tempDir } from '../helpers/config.js';
import type { Relay } from '../../src/relay.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startInProcess } from '../helpers/in-process.js';
import { archivusSignature, postArchivus, waitFor } from '../helpers/relay-process.js';

const config = (target: Receiver, action = '') => `
sources:
  a: { path: /a, verify: { scheme: archivus, secret: s } }
rules:
  - name: fwd
    on: "**"
    actions: [{ use: forward, ${action} with: { url: "${target.url}/hook" } }]
`;

const event = (id: string) => JSON.stringify({ id, type: 'x.y' });

/** Records the id of every delivery store.claim hands out. */
function recordClaims(relay: Relay): Set<number> {
  const claimed = new Set<number>();
  const store = relay.store;
  const claim = store.claim.bind(store);
  store.claim = async (options) => {
    const got = await claim(options);
    for (const d of got) claimed.add(d.id);
    return got;
  };
  return claimed;
}

async function deliveredId(relay: Relay, id: string): Promise<number> {
  const detail = await waitFor(async () => {
    const e = await relay.store.getEvent(id);
    return e?.status === 'delivered' ? e : undefined;
  }, `${id} delivered`);
  return detail.deliveries[0]!.id;
}

describe('deliveries handed over at ingest', () => {
  let relay: Relay | undefined;
  let target: Receiver | undefined;
  afterEach(async () => {
    await relay?.stop();
    await target?.close();
  });

  it("starts an ingested event's delivery without any claim, and records it delivered", async () => {
    target = await startReceiver();
    relay = await startInProcess(config(target));
    const claimed = recordClaims(relay);
    expect((await postArchivus(`${relay.url}/a`, event('h1'), 's')).status).toBe(202);
    const id = await deliveredId(relay, 'h1');
    expect(claimed.has(id)).toBe(false);
    expect(target.requests).toHaveLength(1);
    const attempts = (await relay.store.getEvent('h1'))!.deliveries[0]!.attempts;
    expect(attempts.map((a) => a.outcome)).toEqual(['delivered']);
  });

  /** A receiver that holds every request until open() is called. */
  async function gated() {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    target = await startReceiver(async () => {
      await gate;
      return { status: 200 };
    });
    return { target, open };
  }

  it("starts a delivery whose action's slots are taken from memory when a slot frees, without a claim", async () => {
    const { target: t, open } = await gated();
    relay = await startInProcess(config(t, 'concurrency: 1,'));
    const r = relay;
    const claimed = recordClaims(r);
    expect((await postArchivus(`${r.url}/a`, event('s1'), 's')).status).toBe(202);
    await waitFor(() => t.requests.length === 1 || undefined, 'the first delivery in flight');
    expect((await postArchivus(`${r.url}/a`, event('s2'), 's')).status).toBe(202);
    open();
    const first = await deliveredId(r, 's1');
    const second = await deliveredId(r, 's2');
    expect(claimed.has(first)).toBe(false);
    expect(claimed.has(second)).toBe(false);
    expect(t.requests).toHaveLength(2);
  });

  it('leaves what does not fit in the waiting room queued for the claim path, and delivers all in order of arrival', async () => {
    const { target: t, open } = await gated();
    relay = await startInProcess(config(t, 'concurrency: 1,'));
    const r = relay;
    const claimed = recordClaims(r);
    // One running, READY_DEPTH waiting in memory, two more queued in the store.
    const ids = Array.from({ length: READY_DEPTH + 3 }, (_, i) => `w${i}`);
    expect((await postArchivus(`${r.url}/a`, event(ids[0]!), 's')).status).toBe(202);
    await waitFor(() => t.requests.length === 1 || undefined, 'the first delivery in flight');
    for (const id of ids.slice(1)) expect((await postArchivus(`${r.url}/a`, event(id), 's')).status).toBe(202);
    open();
    const deliveryIds = [];
    for (const id of ids) deliveryIds.push(await deliveredId(r, id));
    expect(deliveryIds.map((id) => claimed.has(id))).toEqual(ids.map((_, i) => i > READY_DEPTH));
    expect(t.requests.map((q) => q.headers['x-relay-event-id'])).toEqual(ids);
  });

  it('hands a waiting delivery back to the store when its lease would lapse during its attempt', async () => {
    const { target: t, open } = await gated();
    // A lease of 2 s keeps 200 ms for recording: with a 1.7 s timeout a
    // delivery may wait 100 ms at most before it must start.
    relay = await startInProcess(`delivery: { lease: 2s, timeout: 1700ms }\n${config(t, 'concurrency: 1,')}`);
    const r = relay;
    const claimed = recordClaims(r);
    expect((await postArchivus(`${r.url}/a`, event('l1'), 's')).status).toBe(202);
    await waitFor(() => t.requests.length === 1 || undefined, 'the first delivery in flight');
    expect((await postArchivus(`${r.url}/a`, event('l2'), 's')).status).toBe(202);
    const acked = Date.now();
    await waitFor(() => Date.now() - acked > 200 || undefined, 'the second delivery to wait past its limit');
    open();
    expect(claimed.has(await deliveredId(r, 'l2'))).toBe(true);
  });

  it('on stop, hands what waits in memory back to the store, unattempted', async () => {
    const { target: t, open } = await gated();
    const db = join(tempDir(), 'relay.db');
    relay = await startInProcess(`storage: { path: ${db} }\nserver: { shutdownGrace: 2s }\n${config(t, 'concurrency: 1,')}`);
    const r = relay;
    expect((await postArchivus(`${r.url}/a`, event('t1'), 's')).status).toBe(202);
    await waitFor(() => t.requests.length === 1 || undefined, 'the first delivery in flight');
    expect((await postArchivus(`${r.url}/a`, event('t2'), 's')).status).toBe(202);
    const stopped = r.stop();
    open();
    await stopped;
    relay = undefined;
    const conn = new Database(db, { readonly: true });
    try {
      const row = conn
        .prepare(`select d.status, d.claimed_by, d.attempts from deliveries d join events e on e.seq = d.event_seq where e.event_id = 't2'`)
        .get() as { status: string; claimed_by: string | null; attempts: number };
      expect(row).toEqual({ status: 'pending', claimed_by: null, attempts: 0 });
    } finally {
      conn.close();
    }
  });

  it('leaves deliveries to an ordering: fifo target to the claim path', async () => {
    target = await startReceiver();
    relay = await startInProcess(config(target, 'ordering: fifo,'));
    const claimed = recordClaims(relay);
    expect((await postArchivus(`${relay.url}/a`, event('f1'), 's')).status).toBe(202);
    expect(claimed.has(await deliveredId(relay, 'f1'))).toBe(true);
  });

  it('holds an acknowledgement while deliveries are behind (delivery.pace) until one goes out, with the event stored first', async () => {
    const { target: t, open } = await gated();
    relay = await startInProcess(`delivery: { concurrency: 1, pace: 30s }\n${config(t)}`);
    const r = relay;
    // One running and READY_DEPTH waiting: the next event's delivery has no room and goes to the store.
    const ids = Array.from({ length: READY_DEPTH + 1 }, (_, i) => `p${i}`);
    expect((await postArchivus(`${r.url}/a`, event(ids[0]!), 's')).status).toBe(202);
    await waitFor(() => t.requests.length === 1 || undefined, 'the first delivery in flight');
    for (const id of ids.slice(1)) expect((await postArchivus(`${r.url}/a`, event(id), 's')).status).toBe(202);

    const body = event('paced');
    let answered = false;
    const answer = new Promise<number>((resolve, reject) => {
      const req = request(`${r.url}/a`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-archivus-signature': archivusSignature(body, 's') } }, (res) => {
        answered = true;
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(body);
    });
    await waitFor(async () => (await r.store.getEvent('paced')) ?? undefined, 'the paced event stored');
    // An answer written with the commit would have been read by now (same process, loopback).
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(answered).toBe(false);
    open();
    expect(await answer).toBe(202);
    for (const id of [...ids, 'paced']) await deliveredId(r, id);
  });
});
