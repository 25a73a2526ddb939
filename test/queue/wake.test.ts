import { afterEach, describe, expect, test } from 'vitest';

import type { Store } from '../../src/queue/store.js';
import { storeDrivers } from '../helpers/drivers.js';
import { claimAll, event, plain, T0 } from './fixtures.js';

function counter(store: Store) {
  let calls = 0;
  let waiters: Array<() => void> = [];
  const stop = store.onWake(() => {
    calls++;
    for (const w of waiters.splice(0)) w();
  });
  return {
    get calls() {
      return calls;
    },
    next: (ms = 5000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no wake-up')), ms);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
    stop,
  };
}

describe.each(await storeDrivers())('wake-ups on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('ingest, replay and release wake local listeners; unsubscribe stops them', async () => {
    const store = await driver.open();
    const wake = counter(store);
    await store.ingest(event(), []);
    expect(wake.calls).toBe(0); // nothing to deliver
    await store.ingest(event(), [plain()]);
    expect(wake.calls).toBe(1);
    const [d] = await store.claim({ ...claimAll, now: T0 });
    await store.release([d!]);
    expect(wake.calls).toBe(2);
    const [again] = await store.claim({ ...claimAll, now: Date.now() + 1 });
    await store.finish(again!, { startedAt: T0, durationMs: 1, outcome: 'dead' }, { status: 'dead' });
    await store.replay({ dead: true });
    expect(wake.calls).toBe(3);
    wake.stop();
    await store.ingest(event(), [plain()]);
    expect(wake.calls).toBe(3);
  });

  // Cross-process wake-ups exist only on PostgreSQL (SQLite instances poll), so the case is declared only there.
  if (driver.name === 'postgres') test('another instance is woken through NOTIFY', async () => {
    const location = await driver.location();
    const [producer, consumer] = await Promise.all([location.open(), location.open()]);
    const wake = counter(consumer);
    // Let LISTEN reach the server before the first NOTIFY.
    await new Promise((r) => setTimeout(r, 300));
    const woken = wake.next();
    await producer.ingest(event(), [plain()]);
    await woken;
    expect(wake.calls).toBe(1);
    // Instances on other schemas are not disturbed.
    const stranger = await driver.open();
    await stranger.ingest(event(), [plain()]);
    await new Promise((r) => setTimeout(r, 300));
    expect(wake.calls).toBe(1);
  });
});
