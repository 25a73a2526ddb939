// Events and deliveries for the store suites.

import type { NewEvent, PlannedDelivery } from '../../src/queue/store.js';

let counter = 0;

/** A base time well in the past of the wall clock, so Date.now()-based replay/release are due. */
export const T0 = Date.now() - 3_600_000;

export function event(overrides: Partial<NewEvent> = {}): NewEvent {
  counter++;
  return {
    id: `evt_${counter}`,
    source: 'github',
    type: 'push',
    receivedAt: T0,
    headers: { 'content-type': 'application/json', 'x-github-delivery': `d-${counter}` },
    rawBody: Buffer.from(JSON.stringify({ n: counter })),
    matched: ['r1'],
    ...overrides,
  };
}

export function plain(overrides: Partial<PlannedDelivery> = {}): PlannedDelivery {
  return { rule: 'r1', action: 'a', target: 'https://hooks.example/a', ...overrides };
}

export function batched(key: string, windowMs: number, max: number, overrides: Partial<PlannedDelivery> = {}): PlannedDelivery {
  return { rule: 'rb', action: 'digest', target: 'https://hooks.example/digest', batch: { key, windowMs, max }, ...overrides };
}

export const claimAll = { worker: 'w1', limit: 1000, leaseMs: 600_000 } as const;
