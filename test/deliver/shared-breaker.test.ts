import { describe, expect, it } from 'vitest';

import { SharedBreaker } from '../../src/deliver/shared-breaker.js';
import type { SharedCircuit } from '../../src/queue/store.js';
import { MemoryStore } from '../helpers/memory-store.js';

/** Two instances' breakers over one table, on one fake clock. */
function pair(store = new MemoryStore()) {
  let now = 1_000_000;
  const clock = { now: () => now, advance: (ms: number) => (now += ms) };
  const errors: unknown[] = [];
  const options = { threshold: 2, cooldownMs: 10_000, refreshMs: 1_000, now: clock.now, onError: (e: unknown) => errors.push(e) };
  return { store, clock, errors, a: new SharedBreaker(store, options), b: new SharedBreaker(store, options) };
}

/** Counts reads, to check the once-per-refreshMs promise. */
class CountingStore extends MemoryStore {
  reads = 0;
  override async openCircuits(now: number): Promise<SharedCircuit[]> {
    this.reads++;
    return super.openCircuits(now);
  }
}

describe('SharedBreaker', () => {
  it('a circuit one instance opens is skipped by the other after its next read, until the cool-down ends', async () => {
    const { a, b, clock, store } = pair();
    await b.refresh();
    const t = clock.now();
    a.record('x', false, t);
    expect(a.record('x', false, t)?.to).toBe('open');
    await a.flush();
    expect(store.circuitRows.get('x')).toEqual({ target: 'x', openUntil: t + 10_000, failures: 2 });

    // b has not read since: still admits.
    expect(b.blocked(t)).toEqual([]);
    clock.advance(1_000);
    b.blocked(clock.now()); // stale: starts a read
    await b.flush();
    expect(b.blocked(clock.now())).toEqual(['x']);
    expect(b.admit('x', clock.now())).toBe(false);
    expect(b.admit('y', clock.now())).toBe(true);
    expect(b.nextReopenAt(clock.now())).toBe(t + 10_000);
    expect(b.circuits(clock.now())).toEqual([{ target: 'x', state: 'open', openedAt: null, reopensAt: t + 10_000, failures: 2 }]);

    clock.advance(9_000);
    expect(b.blocked(clock.now())).toEqual([]);
    expect(b.admit('x', clock.now())).toBe(true);
  });

  it('a close is shared too: the trial that succeeds clears the row', async () => {
    const { a, b, clock, store } = pair();
    const t = clock.now();
    a.record('x', false, t);
    a.record('x', false, t);
    clock.advance(10_000);
    expect(a.admit('x', clock.now())).toBe(true); // a's half-open trial
    expect(a.record('x', true, clock.now())?.to).toBe('closed');
    await a.flush();
    expect(store.circuitRows.get('x')?.openUntil).toBeNull();
    await b.refresh();
    expect(b.blocked(clock.now())).toEqual([]);
  });

  it('reads at most once per refreshMs however often the worker asks', async () => {
    const store = new CountingStore();
    const { a, clock } = pair(store);
    for (let i = 0; i < 50; i++) {
      a.blocked(clock.now());
      await a.flush();
      clock.advance(50);
    }
    // 2.5 s of asking every 50 ms: reads at 0, 1 s and 2 s.
    expect(store.reads).toBe(3);
  });

  it('a failing table keeps the last view and reports the error instead of throwing', async () => {
    const { a, b, clock, store, errors } = pair();
    const t = clock.now();
    a.record('x', false, t);
    a.record('x', false, t);
    await a.flush();
    await b.refresh();
    store.openCircuits = () => Promise.reject(new Error('connection lost'));
    store.saveCircuit = () => Promise.reject(new Error('connection lost'));
    clock.advance(1_000);
    await b.refresh();
    expect(b.blocked(clock.now())).toEqual(['x']);
    b.record('y', false, clock.now());
    expect(b.record('y', false, clock.now())?.to).toBe('open');
    await b.flush();
    expect(b.blocked(clock.now()).sort()).toEqual(['x', 'y']);
    expect(errors.map((e) => (e as Error).message)).toEqual(['connection lost', 'connection lost']);
  });

  it('a circuit closed in the store (relay replay) is closed here at the next read, not after its cool-down', async () => {
    const { a, clock, store } = pair();
    const t = clock.now();
    a.record('x', false, t);
    expect(a.record('x', false, t)?.to).toBe('open');
    await a.flush();
    await a.refresh();
    expect(a.admit('x', clock.now())).toBe(false);

    // What a replay does: the row is closed by another process.
    await store.saveCircuit({ target: 'x', openUntil: null, failures: 0 });
    clock.advance(1_000);
    await a.refresh();
    expect(a.circuits(clock.now())).toEqual([]);
    expect(a.blocked(clock.now())).toEqual([]);
    expect(a.admit('x', clock.now())).toBe(true);
  });

  it('a circuit opened here is not closed by a read that raced its write', async () => {
    const { a, clock } = pair();
    const t = clock.now();
    a.record('x', false, t);
    a.record('x', false, t); // opens; its write is still queued
    await a.refresh(); // waits for our own writes before reading
    expect(a.blocked(t)).toEqual(['x']);
  });
});
