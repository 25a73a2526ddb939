// The pool against the real SQLite store: the contract the memory double
// stands in for (claims, attempts, releases, wake-ups) holds end to end.

import { afterEach, describe, expect, it } from 'vitest';
import type { ActionCatalog, DeliveryLogger, ResolvedAction } from '../../src/deliver/types.js';
import { Deliverer } from '../../src/deliver/worker.js';
import { DeliveryError } from '../../src/plugin.js';
import type { Store } from '../../src/queue/store.js';
import { sqliteDriver } from '../helpers/drivers.js';

const silent: DeliveryLogger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function action(name: string, execute: ResolvedAction['execute']): ResolvedAction {
  return {
    rule: 'r',
    action: name,
    plugin: name,
    target: name,
    policy: { retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 }, timeoutMs: 1_000, concurrency: 2 },
    execute,
  };
}

const driver = sqliteDriver();
const deliverers: Deliverer[] = [];
afterEach(async () => {
  await Promise.all(deliverers.splice(0).map((d) => d.stop(0)));
  await driver.cleanup();
});

async function ingest(store: Store, id: string, actions: string[]): Promise<void> {
  const event = { id, source: 's', type: 't', receivedAt: Date.now(), headers: {}, rawBody: Buffer.from(`{"n":"${id}"}`), matched: ['r'] };
  await store.ingest(event, actions.map((a) => ({ rule: 'r', action: a, target: a })));
}

async function statuses(store: Store, id: string): Promise<string[]> {
  const event = await store.getEvent(id);
  return (event?.deliveries ?? []).map((d) => `${d.action}:${d.status}:${d.attempts.length}`).sort();
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs}ms`);
    await sleep(5);
  }
}

function start(store: Store, catalog: ActionCatalog): Deliverer {
  const d = new Deliverer({ store, catalog: () => catalog, logger: silent, concurrency: 4, workerId: 'w1', pollMs: 10_000 });
  deliverers.push(d);
  d.start();
  return d;
}

describe('Deliverer on SQLite', () => {
  it('delivers, retries and dead-letters, woken by ingest', async () => {
    const store = await driver.open();
    let flaky = 0;
    const payloads: unknown[] = [];
    const byName = new Map([
      ['ok', action('ok', async (input) => {
        payloads.push(input.events[0]?.payload);
        return { status: 200 };
      })],
      ['flaky', action('flaky', async () => {
        if (++flaky < 3) throw new Error('ECONNRESET');
      })],
      ['bad', action('bad', async () => {
        throw DeliveryError.fromStatus(404);
      })],
    ]);
    start(store, { get: (_rule, name) => byName.get(name), hasRule: () => true });
    await sleep(20); // idle, with a 10 s poll: only the ingest's wake-up can start the work
    await ingest(store, 'e1', ['ok', 'flaky', 'bad', 'gone']);
    const want = ['bad:dead:1', 'flaky:delivered:3', 'gone:dead:1', 'ok:delivered:1'];
    await waitFor(async () => JSON.stringify(await statuses(store, 'e1')) === JSON.stringify(want));
    const event = await store.getEvent('e1');
    const gone = event?.deliveries.find((d) => d.action === 'gone');
    expect(gone?.lastError).toBe('action removed by reload');
    expect(payloads).toEqual([{ n: 'e1' }]);
  });

  it('releases an unfinished delivery on stop, to be delivered after a restart', async () => {
    const store = await driver.open();
    const hung = action('hung', () => new Promise(() => {}));
    const first = start(store, { get: () => hung, hasRule: () => true });
    await ingest(store, 'e2', ['hung']);
    await waitFor(async () => first.inFlight === 1);
    await first.stop(20);
    expect(await statuses(store, 'e2')).toEqual(['hung:pending:0']);

    start(store, { get: () => action('hung', async () => ({ status: 200 })), hasRule: () => true });
    await waitFor(async () => (await statuses(store, 'e2'))[0] === 'hung:delivered:1');
  });
});
