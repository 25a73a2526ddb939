// Fencing (issue 11, item 1): a worker whose lease lapsed while it stalled must
// not overwrite the result of the claim that replaced it, nor free that
// claim's live lease. Each store here is its own connection, as two Relay
// processes would be.

import { afterEach, describe, expect, test } from 'vitest';

import type { ActionCatalog, DeliveryLogger, ResolvedAction } from '../../src/deliver/types.js';
import { Deliverer } from '../../src/deliver/worker.js';
import { DeliveryError } from '../../src/plugin.js';
import type { AttemptRecord, Store } from '../../src/queue/store.js';
import { storeDrivers } from '../helpers/drivers.js';
import { waitFor } from '../helpers/relay-process.js';
import { batched, event, plain, T0 } from './fixtures.js';

const dead: AttemptRecord = { startedAt: T0, durationMs: 1, outcome: 'dead', error: 'late failure' };
const delivered: AttemptRecord = { startedAt: T0, durationMs: 1, outcome: 'delivered', status: 200 };

describe.each(await storeDrivers())('fencing on $name', (driver) => {
  const deliverers: Deliverer[] = [];
  afterEach(async () => {
    await Promise.all(deliverers.splice(0).map((d) => d.stop(0)));
    await driver.cleanup();
  });

  async function twoStores(): Promise<[Store, Store, Store]> {
    const location = await driver.location();
    return [await location.open(), await location.open(), await location.open()];
  }

  test("a stalled worker's late result does not overwrite the delivery its successor finished", async () => {
    const [a, b] = await twoStores();
    const e = event();
    await a.ingest(e, [plain()]);

    // A claims with a short lease and stalls past it; B claims the lapsed delivery.
    const [mine] = await a.claim({ worker: 'A', limit: 10, now: T0 + 1, leaseMs: 1000 });
    const [theirs] = await b.claim({ worker: 'B', limit: 10, now: T0 + 1001, leaseMs: 60_000 });
    expect(theirs?.id).toBe(mine?.id);
    expect(await b.finish(theirs!, delivered, { status: 'delivered' })).toBe('recorded');

    // A wakes up and reports its failure: dropped.
    expect(await a.finish(mine!, dead, { status: 'dead' })).toBe('stale');
    const detail = (await b.getEvent(e.id))!;
    expect(detail.status).toBe('delivered');
    expect(detail.deliveries.map((d) => [d.status, d.attempts.map((x) => x.outcome), d.lastError])).toEqual([
      ['delivered', ['delivered'], null],
    ]);
    expect(await b.deadCount()).toBe(0);
  });

  test("a stale release does not free the successor's live lease", async () => {
    const [a, b, c] = await twoStores();
    await a.ingest(event(), [plain()]);
    const [mine] = await a.claim({ worker: 'A', limit: 10, now: T0 + 1, leaseMs: 1000 });
    // B's lease runs well past the wall clock (T0 is an hour ago).
    const [theirs] = await b.claim({ worker: 'B', limit: 10, now: T0 + 1001, leaseMs: 7_200_000 });
    expect(theirs?.id).toBe(mine?.id);

    // A shuts down and hands back what it thinks it holds.
    expect(await a.release([mine!])).toEqual([mine!.id]);
    // No third worker gets it while B holds it.
    expect(await c.claim({ worker: 'C', limit: 10, now: Date.now(), leaseMs: 60_000 })).toEqual([]);
    expect(await c.nextDueAt()).toBe(T0 + 1001 + 7_200_000);
    expect(await b.finish(theirs!, delivered, { status: 'delivered' })).toBe('recorded');
  });

  test('the same worker re-claiming its lapsed delivery holds a new token; the old one is stale', async () => {
    const [a] = await twoStores();
    await a.ingest(event(), [plain()]);
    const [first] = await a.claim({ worker: 'A', limit: 10, now: T0 + 1, leaseMs: 1000 });
    const [second] = await a.claim({ worker: 'A', limit: 10, now: T0 + 1001, leaseMs: 60_000 });
    expect(second!.generation).toBeGreaterThan(first!.generation);
    expect(await a.release([first!])).toEqual([first!.id]);
    expect(await a.finish(first!, dead, { status: 'dead' })).toBe('stale');
    expect(await a.finish(second!, delivered, { status: 'delivered' })).toBe('recorded');
    // Finished: the token is spent, a second finish with it is stale too.
    expect(await a.finish(second!, dead, { status: 'dead' })).toBe('stale');
  });

  test('batch completion is fenced: every event of the batch keeps the newer result', async () => {
    const [a, b] = await twoStores();
    const e1 = event({ receivedAt: T0 });
    const e2 = event({ receivedAt: T0 + 10 });
    await a.ingest(e1, [batched('k', 100, 10)]);
    await a.ingest(e2, [batched('k', 100, 10)]);
    const [mine] = await a.claim({ worker: 'A', limit: 10, now: T0 + 100, leaseMs: 1000 });
    expect(mine!.events.map((x) => x.id)).toEqual([e1.id, e2.id]);
    const [theirs] = await b.claim({ worker: 'B', limit: 10, now: T0 + 1100, leaseMs: 60_000 });
    expect(await b.finish(theirs!, delivered, { status: 'delivered' })).toBe('recorded');
    expect(await a.finish(mine!, dead, { status: 'dead' })).toBe('stale');
    for (const id of [e1.id, e2.id]) {
      const detail = (await a.getEvent(id))!;
      expect([detail.status, detail.deliveries[0]!.attempts.length]).toEqual(['delivered', 1]);
    }
  });

  test('group commit: a stale finish in the same group as a live one changes only the live one', async () => {
    const [a, b] = await twoStores();
    const e1 = event();
    const e2 = event();
    await a.ingest(e1, [plain()]);
    await a.ingest(e2, [plain()]);
    const [first] = await a.claim({ worker: 'A', limit: 1, now: T0 + 1, leaseMs: 1000 });
    const [second] = await a.claim({ worker: 'A', limit: 1, now: T0 + 2, leaseMs: 600_000 });
    const [retaken] = await b.claim({ worker: 'B', limit: 10, now: T0 + 1001, leaseMs: 60_000 });
    expect([first!.events[0]!.id, second!.events[0]!.id, retaken!.id]).toEqual([e1.id, e2.id, first!.id]);
    // Submitted in one turn: one group, one transaction.
    const results = await Promise.all([
      a.finish(first!, dead, { status: 'dead' }),
      a.finish(second!, dead, { status: 'dead' }),
    ]);
    expect(results).toEqual(['stale', 'recorded']);
    expect((await a.getEvent(e1.id))!.status).toBe('pending');
    expect((await a.getEvent(e2.id))!.status).toBe('dead');
    expect(await b.finish(retaken!, delivered, { status: 'delivered' })).toBe('recorded');
    expect((await a.getEvent(e1.id))!.status).toBe('delivered');
  });

  test('a Deliverer whose lease lapsed drops its late "dead" and logs it at warn with the delivery id', async () => {
    const [a, b] = await twoStores();
    const e = event();
    await a.ingest(e, [plain()]);
    const warnings: Array<Record<string, unknown>> = [];
    const logger = recorder(warnings);

    let successorDone!: () => void;
    const successor = new Promise<void>((resolve) => (successorDone = resolve));
    let aStarted = false;
    // A's clock is an hour behind, so its lease has lapsed for everyone else the moment it is taken.
    const stalled = deliverer(a, 'A', logger, async () => {
      aStarted = true;
      await successor;
      throw DeliveryError.fromStatus(400, 'too late');
    }, () => T0 + 1);
    stalled.start();
    await waitFor(() => aStarted, 'A to start its attempt');

    const live = deliverer(b, 'B', logger, async () => ({ status: 200 }));
    live.start();
    await waitFor(async () => (await b.getEvent(e.id))?.status === 'delivered', 'B to deliver');
    successorDone();

    await waitFor(() => warnings.find((w) => w.msg === 'stale result dropped: the lease passed to another claim'), 'the stale warning');
    const id = (await b.getEvent(e.id))!.deliveries[0]!.id;
    expect(warnings).toContainEqual(expect.objectContaining({ deliveryId: id, outcome: 'dead' }));
    const detail = (await b.getEvent(e.id))!;
    expect(detail.deliveries.map((d) => [d.status, d.attempts.map((x) => x.outcome)])).toEqual([['delivered', ['delivered']]]);
  });

  function deliverer(store: Store, workerId: string, logger: DeliveryLogger, execute: ResolvedAction['execute'], now?: () => number): Deliverer {
    const action: ResolvedAction = {
      rule: 'r1',
      action: 'a',
      plugin: 'test',
      target: 'https://hooks.example/a',
      policy: { retry: { attempts: 1, initialDelayMs: 1000, maxDelayMs: 1000 }, timeoutMs: 30_000, concurrency: 1 },
      execute,
    };
    const catalog: ActionCatalog = { get: (rule, name) => (rule === 'r1' && name === 'a' ? action : undefined), hasRule: (rule) => rule === 'r1' };
    const d = new Deliverer({ store, catalog: () => catalog, logger, concurrency: 1, workerId, leaseMs: 60_000, pollMs: 50, ...(now && { now }) });
    deliverers.push(d);
    return d;
  }
});

function recorder(warnings: Array<Record<string, unknown>>): DeliveryLogger {
  const quiet = () => {};
  const logger: DeliveryLogger = {
    debug: quiet,
    info: quiet,
    error: quiet,
    warn: (obj: object | string, msg?: string) => void warnings.push({ ...(typeof obj === 'object' ? obj : {}), msg }),
    child: () => logger,
  };
  return logger;
}
