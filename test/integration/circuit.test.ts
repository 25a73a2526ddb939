// The circuit breaker as configured: `circuit: false` leaves `retry` alone in
// charge, and a replay after an outage closes the target's circuit so it
// delivers at once instead of after the cool-down. Real Relay, real receiver.
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { replay } from '../../src/admin/operations.js';
import { targetHealth } from '../../src/admin/operations.js';
import { storedCircuits } from '../../src/deliver/shared-breaker.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';

const config = (target: Receiver, action: string) => `
sources:
  a: { path: /a, verify: { scheme: archivus, secret: s } }
rules:
  - name: fwd
    on: "**"
    actions: [{ use: forward, ${action}, with: { url: "${target.url}/hook" } }]
`;

const event = (id: string) => JSON.stringify({ id, type: 'x.y' });

async function statuses(relay: Relay, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await relay.store.getEvent(id))?.status ?? 'missing'));
}

describe('circuit breaker settings', () => {
  let relay: Relay | undefined;
  let target: Receiver | undefined;
  afterEach(async () => {
    await relay?.stop();
    await target?.close();
  });

  it('circuit: false: 20 events to a 503 target go dead after their 3 attempts, none held back', async () => {
    target = await startReceiver({ status: 503 });
    relay = await startInProcess(config(target, 'circuit: false, retry: { attempts: 3, initialDelay: 50ms, maxDelay: 50ms }'));
    const r = relay;
    const ids = Array.from({ length: 20 }, (_, i) => `e${i}`);
    for (const id of ids) expect((await postArchivus(`${r.url}/a`, event(id), 's')).status).toBe(202);
    // With the default breaker the circuit would open after 5 failures and hold the rest for 30 s and more.
    await waitFor(async () => (await statuses(r, ids)).every((s) => s === 'dead'), 'all 20 to go dead', 25_000);
    for (const id of ids) expect((await r.store.getEvent(id))!.deliveries[0]!.attempts).toHaveLength(3);
    expect(target.requests).toHaveLength(60);
    expect(await storedCircuits(r.store)).toEqual([]);
  });

  it('an open circuit is reported from the store, and a replay after the outage closes it and delivers at once', async () => {
    let up = false;
    target = await startReceiver();
    target.respond(() => ({ status: up ? 200 : 503 }));
    // A 10-minute cool-down: only the replay closing the circuit can deliver within the test.
    relay = await startInProcess(config(target, 'circuit: { failures: 2, cooldown: 10m }, retry: { attempts: 2, initialDelay: 50ms, maxDelay: 50ms }'));
    const r = relay;
    // One event first: its two failing attempts are the two failures that open
    // the circuit, so it is dead and the circuit open, whatever the timing.
    expect((await postArchivus(`${r.url}/a`, event('o1'), 's')).status).toBe(202);
    await waitFor(async () => (await statuses(r, ['o1']))[0] === 'dead', 'the first event to go dead', 20_000);
    const [open] = await waitFor(async () => {
      const c = await storedCircuits(r.store);
      return c.length > 0 && c[0]!.state === 'open' ? c : undefined;
    }, 'the circuit to open in the store', 20_000);
    // `relay events` reads the same state.
    expect((await targetHealth(r.store)).find((t) => t.target === open!.target)?.circuit).toBe('open');

    // The next ones wait behind the open circuit without spending attempts.
    const ids = ['o1', 'o2', 'o3'];
    for (const id of ids.slice(1)) expect((await postArchivus(`${r.url}/a`, event(id), 's')).status).toBe(202);
    up = true;
    const seen = target.requests.length;
    expect((await statuses(r, ids)).slice(1)).toEqual(['pending', 'pending']);
    const summary = await replay(r.store, { dead: true });
    expect(summary.closedCircuits).toEqual([open!.target]);
    await waitFor(async () => (await statuses(r, ids)).every((s) => s === 'delivered'), 'every event to be delivered', 20_000);
    expect(target.requests.length).toBe(seen + 3);
    expect(await storedCircuits(r.store)).toEqual([]);
  });
});
