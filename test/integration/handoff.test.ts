// The hot path's hand-off (issue 13): an event's deliveries that this
// process's workers can start at once are leased by the ingest transaction
// and started from memory, without a claim. Whatever cannot start at once
// (its action's slots taken, an `ordering: fifo` target) stays queued and
// goes through the claim path as before. Real Relay, real receiver.
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';

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

  it("leaves a delivery whose action's slots are taken queued for the claim path", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    target = await startReceiver(async () => {
      await gate;
      return { status: 200 };
    });
    relay = await startInProcess(config(target, 'concurrency: 1,'));
    const r = relay;
    const claimed = recordClaims(r);
    expect((await postArchivus(`${r.url}/a`, event('s1'), 's')).status).toBe(202);
    await waitFor(() => target!.requests.length === 1 || undefined, 'the first delivery in flight');
    expect((await postArchivus(`${r.url}/a`, event('s2'), 's')).status).toBe(202);
    open();
    const first = await deliveredId(r, 's1');
    const second = await deliveredId(r, 's2');
    expect(claimed.has(first)).toBe(false);
    expect(claimed.has(second)).toBe(true);
    expect(target.requests).toHaveLength(2);
  });

  it('leaves deliveries to an ordering: fifo target to the claim path', async () => {
    target = await startReceiver();
    relay = await startInProcess(config(target, 'ordering: fifo,'));
    const claimed = recordClaims(relay);
    expect((await postArchivus(`${relay.url}/a`, event('f1'), 's')).status).toBe(202);
    expect(claimed.has(await deliveredId(relay, 'f1'))).toBe(true);
  });
});
