// Issue 15 item 6 end to end: `ordering: fifo` on a forward action, Relay in
// process with its default concurrency, a real receiver that fails and then
// holds the head, and the admin API showing who waits behind whom.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { formatEvent } from '../../src/cli/events.js';
import type { EventView } from '../../src/admin/operations.js';
import { ConfigError } from '../../src/errors.js';
import { loadYaml } from '../helpers/config.js';
import { hooksConfig, postHook } from '../helpers/hooks-source.js';
import { startInProcess } from '../helpers/in-process.js';
import { startReceiver, type Receiver, type Reply } from '../helpers/receivers.js';
import { waitFor } from '../helpers/relay-process.js';

const TOKEN = 'fifo-admin-token-0123456789abcdef';

const yaml = (target: Receiver, ordering: string) =>
  hooksConfig({
    delivery: '{ concurrency: 16, retry: { attempts: 50, initialDelay: 10ms, maxDelay: 20ms } }',
    // Timeouts well past the test: the held attempt must not time out and be retried on a slow machine.
    action: `        ${ordering}
        timeout: 50s
        with: { url: "${target.url}/in", timeout: 50000 }`,
  });

const post = (relay: Relay, id: string) => postHook(relay, { id, type: 'doc.x' });

type Delivery = { id: number; status: string; waitingBehind?: number };
async function deliveryOf(relay: Relay, id: string): Promise<Delivery> {
  const res = await fetch(`${relay.url}/admin/events/${id}/deliveries`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { deliveries: Delivery[] }).deliveries[0]!;
}

/** e1 fails once, then its second attempt hangs until release(); everything else is answered at once. */
function holdFirst(target: Receiver) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let e1Seen = 0;
  target.respond(async (req): Promise<Reply> => {
    if (!req.text.includes('"e1"')) return { status: 200 };
    e1Seen++;
    if (e1Seen === 1) return { status: 503, body: 'not yet' };
    await released;
    return { status: 200 };
  });
  return { release };
}

const idsOf = (target: Receiver) => target.requests.map((r) => (JSON.parse(r.text) as { id: string }).id);

let target: Receiver;
let relay: Relay | undefined;
beforeAll(async () => {
  target = await startReceiver();
});
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
  target.requests.length = 0;
  target.respond({ status: 200 });
});
afterAll(() => target.close());

describe('ordering: fifo', () => {
  it('sends one at a time, oldest first: a failing, then slow head holds the rest, visibly', async () => {
    const { release } = holdFirst(target);
    relay = await startInProcess(yaml(target, 'ordering: fifo'), { RELAY_ADMIN_TOKEN: TOKEN });
    for (const id of ['e1', 'e2', 'e3']) await post(relay, id);

    // e1 failed once and its retry is in flight (held by the receiver).
    await target.waitForRequests(2);
    const head = await deliveryOf(relay, 'e1');
    for (const id of ['e2', 'e3']) {
      const d = await deliveryOf(relay, id);
      expect(d).toMatchObject({ status: 'pending', waitingBehind: head.id });
    }
    expect(head.waitingBehind).toBeUndefined();
    expect(idsOf(target)).toEqual(['e1', 'e1']);
    // What `relay events show e2` prints for it.
    const view = await (await fetch(`${relay.url}/admin/events/e2`, { headers: { authorization: `Bearer ${TOKEN}` } })).json();
    expect(formatEvent(view as EventView)).toMatch(new RegExp(`#\\d+ fwd → \\S+ .* pending  0 attempt\\(s\\), waiting behind #${head.id} \\(ordering: fifo\\)`));

    release();
    await waitFor(async () => (await deliveryOf(relay!, 'e3')).status === 'delivered', 'e3 delivered');
    expect(idsOf(target)).toEqual(['e1', 'e1', 'e2', 'e3']);
    expect((await deliveryOf(relay, 'e2')).waitingBehind).toBeUndefined();
  });

  it('without it, later events overtake a held one (the control: the test above can fail)', async () => {
    const { release } = holdFirst(target);
    relay = await startInProcess(yaml(target, ''), { RELAY_ADMIN_TOKEN: TOKEN });
    for (const id of ['e1', 'e2', 'e3']) await post(relay, id);
    await waitFor(() => ['e2', 'e3'].every((id) => idsOf(target).includes(id)), 'e2 and e3 sent while e1 is held');
    expect((await deliveryOf(relay, 'e1')).status).not.toBe('delivered');
    release();
  });

  it('is refused together with batch', async () => {
    const err = await loadYaml(yaml(target, 'ordering: fifo\n        batch: { window: 1s }')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/rules\[0\]\.actions\[0\]\.ordering: `ordering: fifo` cannot be combined with `batch`/);
  });
});
