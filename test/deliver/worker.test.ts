import { afterEach, describe, expect, it } from 'vitest';
import type { ActionCatalog, AttemptInfo, DeliveryLogger, DeliveryPolicy, ResolvedAction } from '../../src/deliver/types.js';
import { Deliverer, RULE_REMOVED_ERROR, type DelivererOptions } from '../../src/deliver/worker.js';
import { DeliveryError } from '../../src/plugin.js';
import { MemoryStore } from '../helpers/memory-store.js';

type Execute = ResolvedAction['execute'];
type Input = Parameters<Execute>[0];

interface Line {
  level: string;
  bindings: Record<string, unknown>;
  obj: object | string;
  msg: string | undefined;
}

function recordingLogger(lines: Line[], bindings: Record<string, unknown> = {}): DeliveryLogger {
  const at = (level: string) => (obj: object | string, msg?: string) => void lines.push({ level, bindings, obj, msg });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  };
}

function action(name: string, execute: Execute, policy: Partial<DeliveryPolicy> = {}, target = name): ResolvedAction {
  return {
    rule: 'r',
    action: name,
    plugin: `plugin-${name}`,
    target,
    policy: {
      retry: { attempts: 5, initialDelayMs: 1_000, maxDelayMs: 60_000 },
      timeoutMs: 5_000,
      concurrency: 100,
      ...policy,
    },
    execute,
  };
}

function catalogOf(...actions: ResolvedAction[]): ActionCatalog {
  const byKey = new Map(actions.map((a) => [`${a.rule}/${a.action}`, a]));
  return { get: (rule, name) => byKey.get(`${rule}/${name}`), hasRule: (rule) => actions.some((a) => a.rule === rule) };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs}ms`);
    await sleep(2);
  }
}

const running: Deliverer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop(0)));
});

interface Harness {
  store: MemoryStore;
  deliverer: Deliverer;
  lines: Line[];
  attempts: AttemptInfo[];
  clock: { now: number };
  setCatalog(catalog: ActionCatalog): void;
}

function harness(catalog: ActionCatalog, options: Partial<DelivererOptions> = {}): Harness {
  const store = new MemoryStore();
  const lines: Line[] = [];
  const attempts: AttemptInfo[] = [];
  const clock = { now: 1_000_000 };
  let current = catalog;
  const deliverer = new Deliverer({
    store,
    catalog: () => current,
    logger: recordingLogger(lines),
    concurrency: 4,
    workerId: 'w1',
    now: () => clock.now,
    // No jitter: a retry is due at once, so tests need not move the clock.
    random: () => 0,
    // Long, so a test passes only if the worker is woken rather than polling.
    pollMs: 10_000,
    onAttempt: (info) => void attempts.push(info),
    ...options,
  });
  running.push(deliverer);
  return { store, deliverer, lines, attempts, clock, setCatalog: (c) => (current = c) };
}

const outcomes = (store: MemoryStore, id: number) => store.get(id).attempts.map((a) => a.outcome);

describe('Deliverer: attempts and retries', () => {
  it('retries until success and records every attempt', async () => {
    const inputs: Input[] = [];
    const flaky = action('a', async (input) => {
      inputs.push(input);
      if (input.attempt === 1) throw new DeliveryError('HTTP 503', { retryable: true, status: 503 });
      if (input.attempt === 2) throw new Error('socket hang up');
      return { status: 200 };
    });
    const h = harness(catalogOf(flaky));
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).status === 'delivered');

    const d = h.store.get(id);
    expect(d.attempts.map((a) => [a.outcome, a.status, a.error])).toEqual([
      ['retry', 503, 'HTTP 503'],
      ['retry', undefined, 'socket hang up'],
      ['delivered', 200, undefined],
    ]);
    expect(d.attempts.every((a) => a.startedAt === h.clock.now && a.durationMs === 0)).toBe(true);
    expect(inputs.map((i) => i.attempt)).toEqual([1, 2, 3]);
    expect(inputs[0]?.events[0]?.payload).toEqual({ id: `evt-${id}` });
    expect(h.attempts.map((a) => [a.plugin, a.outcome, a.attempt])).toEqual([
      ['plugin-a', 'retry', 1],
      ['plugin-a', 'retry', 2],
      ['plugin-a', 'delivered', 3],
    ]);
  });

  it('dead-letters a permanent error after one attempt', async () => {
    let calls = 0;
    const bad = action('a', async () => {
      calls++;
      throw DeliveryError.fromStatus(400, 'bad request');
    });
    const h = harness(catalogOf(bad));
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).status === 'dead');
    await sleep(20);
    expect(calls).toBe(1);
    expect(h.store.get(id).attempts).toMatchObject([{ outcome: 'dead', status: 400, error: 'HTTP 400: bad request' }]);
  });

  it('dead-letters after the last attempt, never dropping the delivery', async () => {
    const down = action('a', async () => {
      throw new DeliveryError('HTTP 502', { retryable: true, status: 502 });
    }, { retry: { attempts: 3, initialDelayMs: 1, maxDelayMs: 1 } });
    const h = harness(catalogOf(down));
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).status === 'dead');
    await sleep(20);
    expect(outcomes(h.store, id)).toEqual(['retry', 'retry', 'dead']);
    expect(h.store.detail(id).lastError).toBe('HTTP 502');
    expect(h.lines.some((l) => l.level === 'error' && l.msg === 'delivery dead-lettered')).toBe(true);
  });

  it('schedules the next attempt no earlier than Retry-After', async () => {
    const limited = action('a', async () => {
      throw new DeliveryError('HTTP 429', { retryable: true, status: 429, retryAfterMs: 120_000 });
    }, { retry: { attempts: 5, initialDelayMs: 10, maxDelayMs: 50 } });
    const h = harness(catalogOf(limited));
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).attempts.length === 1);
    await sleep(20);
    const d = h.store.get(id);
    expect(d.status).toBe('failed');
    expect(d.attempts).toHaveLength(1);
    expect(d.nextAt).toBeGreaterThanOrEqual(h.clock.now + 120_000);
  });

  it('times an attempt out through the signal, as a retryable failure', async () => {
    const signals: AbortSignal[] = [];
    const hung = action('a', (input) => {
      signals.push(input.signal);
      return new Promise(() => {}); // ignores the signal entirely
    }, { timeoutMs: 20, retry: { attempts: 2, initialDelayMs: 1, maxDelayMs: 1 } });
    const h = harness(catalogOf(hung));
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).attempts.length === 1);
    expect(h.store.get(id).attempts[0]).toMatchObject({ outcome: 'retry', error: 'timeout after 20ms' });
    expect(signals[0]?.aborted).toBe(true);
    expect((signals[0]?.reason as Error).name).toBe('TimeoutError');
    await waitFor(() => h.store.get(id).status === 'dead');
    expect(outcomes(h.store, id)).toEqual(['retry', 'dead']);
  });

  it('treats any error other than DeliveryError as retryable', async () => {
    const net = action('a', async () => {
      throw new TypeError('fetch failed');
    });
    const h = harness(catalogOf(net));
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).attempts.length >= 1);
    expect(h.store.get(id).attempts[0]).toMatchObject({ outcome: 'retry', error: 'fetch failed' });
  });

  it('clamps a timeout longer than the lease, so the lease outlives the attempt', async () => {
    const hung = action('a', () => new Promise(() => {}), { timeoutMs: 60_000, retry: { attempts: 1, initialDelayMs: 1, maxDelayMs: 1 } });
    const h = harness(catalogOf(hung), { leaseMs: 200 });
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).status === 'dead');
    expect(h.store.get(id).attempts[0]?.error).toBe('timeout after 180ms');
    expect(h.lines.some((l) => l.level === 'warn' && /exceeds the claim lease/.test(l.msg ?? ''))).toBe(true);
  });

  it('dead-letters deliveries of rules removed by a reload, reading the catalog per delivery', async () => {
    const ok = action('a', async () => ({ status: 200 }));
    const h = harness(catalogOf(ok));
    const first = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(first).status === 'delivered');

    h.setCatalog(catalogOf());
    const second = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.notify();
    await waitFor(() => h.store.get(second).status === 'dead');
    expect(h.store.get(second).attempts).toMatchObject([{ outcome: 'dead', error: RULE_REMOVED_ERROR }]);
    expect(RULE_REMOVED_ERROR).toBe('rule removed by reload');
    expect(h.attempts.at(-1)).toMatchObject({ deliveryId: second, outcome: 'dead', plugin: 'unknown' });
  });

  it('hands the action a child logger bound to the delivery', async () => {
    const logs = action('a', async (input) => {
      input.logger.info('hello');
    });
    const h = harness(catalogOf(logs));
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).status === 'delivered');
    expect(h.lines.find((l) => l.obj === 'hello')?.bindings).toEqual({ deliveryId: id, eventId: `evt-${id}`, rule: 'r', action: 'a' });
  });
});

describe('Deliverer: concurrency', () => {
  function tracked(name: string, concurrency: number, gauge: { now: number; max: number; byAction: Map<string, number[]> }) {
    return action(name, async () => {
      const counts = gauge.byAction.get(name) ?? [0, 0];
      gauge.byAction.set(name, counts);
      gauge.now++;
      counts[0]!++;
      gauge.max = Math.max(gauge.max, gauge.now);
      counts[1] = Math.max(counts[1]!, counts[0]!);
      await sleep(5);
      gauge.now--;
      counts[0]!--;
    }, { concurrency });
  }

  it('never runs more than the global limit at once', async () => {
    const gauge = { now: 0, max: 0, byAction: new Map<string, number[]>() };
    const names = ['a', 'b', 'c'];
    const h = harness(catalogOf(...names.map((n) => tracked(n, 50, gauge))), { concurrency: 4 });
    const ids = Array.from({ length: 30 }, (_, i) => h.store.add({ rule: 'r', action: names[i % 3]! }));
    h.deliverer.start();
    await waitFor(() => ids.every((id) => h.store.get(id).status === 'delivered'));
    expect(gauge.max).toBe(4);
  });

  it('never runs more than an action’s limit, while other actions keep flowing', async () => {
    const gauge = { now: 0, max: 0, byAction: new Map<string, number[]>() };
    const h = harness(catalogOf(tracked('slow', 2, gauge), tracked('fast', 50, gauge)), { concurrency: 8 });
    const ids = [
      ...Array.from({ length: 12 }, () => h.store.add({ rule: 'r', action: 'slow' })),
      ...Array.from({ length: 12 }, () => h.store.add({ rule: 'r', action: 'fast' })),
    ];
    h.deliverer.start();
    await waitFor(() => ids.every((id) => h.store.get(id).status === 'delivered'));
    expect(gauge.byAction.get('slow')?.[1]).toBe(2);
    expect(gauge.byAction.get('fast')?.[1]).toBeGreaterThan(2);
    // every delivery was attempted exactly once: handing back never records an attempt
    expect(ids.every((id) => h.store.get(id).attempts.length === 1)).toBe(true);
    // hand-backs are bounded, not a claim/release spin
    expect(h.store.claims.length).toBeLessThan(60);
  });

  it('does not re-claim a handed-back delivery whose stored target differs (config changed)', async () => {
    const slow = action('a', () => sleep(60), { concurrency: 1 });
    // Two slots: the hand-back leaves one free, so a claim that returned the same delivery again would repeat at once.
    const h = harness(catalogOf(slow), { concurrency: 2 });
    const first = h.store.add({ rule: 'r', action: 'a', target: 'old-origin' });
    const second = h.store.add({ rule: 'r', action: 'a', target: 'new-origin' });
    h.deliverer.start();
    await waitFor(() => [first, second].every((id) => h.store.get(id).status === 'delivered'));
    expect(h.store.released).toEqual([second]);
    expect(h.store.claims.length).toBeLessThan(10);
  });
});

describe('Deliverer: circuit breaker', () => {
  it('opens after N failures, skips the target while open, then closes after a half-open trial', async () => {
    let healthy = false;
    let started = 0;
    let runningNow = 0;
    let maxAfterOpen = 0;
    let startedBeforeTrial = 0;
    let startedWhenTrialEnded = -1;
    const down = action('down', async () => {
      started++;
      runningNow++;
      maxAfterOpen = Math.max(maxAfterOpen, runningNow);
      await sleep(healthy ? 30 : 0);
      runningNow--;
      if (healthy && startedWhenTrialEnded < 0) startedWhenTrialEnded = started - startedBeforeTrial;
      if (!healthy) throw new Error('connect ECONNREFUSED');
    }, { retry: { attempts: 20, initialDelayMs: 1, maxDelayMs: 1 } });
    const up = action('up', async () => ({ status: 200 }));
    const h = harness(catalogOf(down, up), { concurrency: 4, pollMs: 50, breaker: { threshold: 3, cooldownMs: 10_000 } });
    const downIds = Array.from({ length: 5 }, () => h.store.add({ rule: 'r', action: 'down' }));
    h.deliverer.start();

    await waitFor(() => h.deliverer.circuits().some((c) => c.state === 'open'));
    expect(h.deliverer.circuits()).toEqual([
      { target: 'down', state: 'open', openedAt: h.clock.now, reopensAt: h.clock.now + 10_000, failures: 3 },
    ]);
    expect(h.lines.some((l) => l.level === 'warn' && l.msg === 'circuit opened for down')).toBe(true);
    await sleep(20);
    const attemptsWhenOpened = started;
    const claimsWhenOpened = h.store.claims.length;

    // Other targets keep flowing while the open circuit's backlog waits.
    const upIds = Array.from({ length: 3 }, () => h.store.add({ rule: 'r', action: 'up' }));
    h.deliverer.notify();
    await waitFor(() => upIds.every((id) => h.store.get(id).status === 'delivered'));
    await sleep(200);
    expect(started).toBe(attemptsWhenOpened);
    const later = h.store.claims.slice(claimsWhenOpened);
    expect(later.length).toBeGreaterThan(0);
    expect(later.every((c) => c.skipTargets?.includes('down'))).toBe(true);
    // Due but skipped work must not make the worker spin (pollMs is 50).
    expect(later.length).toBeLessThan(15);

    // After the cool-down, one trial runs alone; its success closes the circuit.
    healthy = true;
    maxAfterOpen = 0;
    startedBeforeTrial = started;
    h.clock.now += 10_000;
    h.deliverer.notify();
    await waitFor(() => h.deliverer.circuits()[0]?.state === 'closed');
    expect(startedWhenTrialEnded).toBe(1);
    expect(h.lines.some((l) => l.level === 'info' && l.msg === 'circuit closed for down')).toBe(true);
    await waitFor(() => downIds.every((id) => h.store.get(id).status === 'delivered'));
    expect(maxAfterOpen).toBeGreaterThan(1); // once closed, the rest ran in parallel again
  });
});

describe('Deliverer: circuit breaker wake-up', () => {
  it('claims again at once when the circuit reopened while the claim that skipped it ran', async () => {
    let calls = 0;
    const flaky = action('a', async () => {
      if (++calls === 1) throw new Error('connect ECONNREFUSED');
    });
    const h = harness(catalogOf(flaky), { breaker: { threshold: 1, cooldownMs: 50 } });
    // Every claim takes 100 ms of the (fake) clock: the one made while the
    // circuit is open ends after its cool-down, with nothing else to wake the
    // worker for the 10 s poll.
    const claim = h.store.claim.bind(h.store);
    h.store.claim = async (options) => {
      const got = await claim(options);
      h.clock.now += 100;
      return got;
    };
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).status === 'delivered', 5_000);
    expect(outcomes(h.store, id)).toEqual(['retry', 'delivered']);
  });

  it('wakes when an open circuit’s cool-down ends, not at the next poll', async () => {
    let calls = 0;
    const flaky = action('a', async () => {
      if (++calls === 1) throw new Error('connect ECONNREFUSED');
    });
    // A minute's poll: only the cool-down's end can wake the worker before the
    // deadline, which is generous so a loaded machine cannot fail it.
    const h = harness(catalogOf(flaky), { now: Date.now, pollMs: 60_000, breaker: { threshold: 1, cooldownMs: 60 } });
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).status === 'delivered', 20_000);
    expect(outcomes(h.store, id)).toEqual(['retry', 'delivered']);
    expect(h.lines.some((l) => l.msg === 'circuit opened for a')).toBe(true);
  });
});

describe('Deliverer: waking and stopping', () => {
  it('wakes an idle worker at once on notify(), not at the next poll', async () => {
    const h = harness(catalogOf(action('a', async () => ({ status: 200 }))));
    h.deliverer.start();
    await sleep(30);
    const id = h.store.add({ rule: 'r', action: 'a' });
    const t0 = Date.now();
    h.deliverer.notify();
    await waitFor(() => h.store.get(id).status === 'delivered', 500);
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it('wakes on the store’s own wake-up hook', async () => {
    const h = harness(catalogOf(action('a', async () => ({ status: 200 }))));
    h.deliverer.start();
    await sleep(30);
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.store.notify();
    await waitFor(() => h.store.get(id).status === 'delivered', 500);
  });

  it('sleeps until the next delivery falls due instead of polling', async () => {
    const h = harness(catalogOf(action('a', async () => ({ status: 200 }))), { now: Date.now });
    const id = h.store.add({ rule: 'r', action: 'a', nextAt: Date.now() + 80 });
    h.deliverer.start();
    await sleep(40);
    expect(h.store.get(id).status).toBe('pending');
    await waitFor(() => h.store.get(id).status === 'delivered', 500);
    expect(h.store.get(id).attempts[0]!.startedAt).toBeGreaterThanOrEqual(h.store.get(id).nextAt);
    expect(h.store.claims.length).toBeLessThanOrEqual(4);
  });

  it('survives a failing claim and carries on', async () => {
    const h = harness(catalogOf(action('a', async () => ({ status: 200 }))), { pollMs: 20 });
    const claim = h.store.claim.bind(h.store);
    let failures = 1;
    h.store.claim = async (options) => {
      if (failures-- > 0) throw new Error('database is locked');
      return claim(options);
    };
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await waitFor(() => h.store.get(id).status === 'delivered', 500);
    expect(h.lines.some((l) => l.level === 'error' && l.msg === 'delivery loop failed; retrying')).toBe(true);
  });

  it('polls an empty queue at the poll interval, not in a tight loop', async () => {
    // A lower bound on the time four polls take: a loaded machine only makes
    // it longer, while a tight loop would make it near zero.
    const h = harness(catalogOf(), { pollMs: 40 });
    const started = performance.now();
    h.deliverer.start();
    await waitFor(() => h.store.claims.length >= 4, 10_000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(3 * 40 - 5);
  });

  it('on stop, lets in-flight work finish within the grace period and releases the rest unattempted', async () => {
    let slowSignal: AbortSignal | undefined;
    const fast = action('fast', async () => {
      await sleep(20);
      return { status: 200 };
    });
    const slow = action('slow', (input) => {
      slowSignal = input.signal;
      return new Promise(() => {}); // even ignoring the signal cannot hold shutdown up
    });
    const h = harness(catalogOf(fast, slow));
    const fastId = h.store.add({ rule: 'r', action: 'fast' });
    const slowId = h.store.add({ rule: 'r', action: 'slow' });
    h.deliverer.start();
    await waitFor(() => h.deliverer.inFlight === 2);
    const claimsBefore = h.store.claims.length;
    const queued = h.store.add({ rule: 'r', action: 'fast' });

    const t0 = Date.now();
    await h.deliverer.stop(100);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(h.store.get(fastId).status).toBe('delivered');
    expect(slowSignal?.aborted).toBe(true);
    expect(h.store.released).toContain(slowId);
    const s = h.store.get(slowId);
    expect([s.status, s.attempts.length, s.leasedBy]).toEqual(['pending', 0, null]);
    expect(h.store.get(queued).status).toBe('pending');
    expect(h.store.claims.length).toBe(claimsBefore);
    expect(h.attempts.map((a) => a.deliveryId)).toEqual([fastId]);
  });

  it('releases what a claim returns after stop() was called, without running it', async () => {
    let calls = 0;
    const h = harness(catalogOf(action('a', async () => void calls++)));
    h.store.claimDelayMs = 50;
    const id = h.store.add({ rule: 'r', action: 'a' });
    h.deliverer.start();
    await sleep(10);
    expect(h.store.claims).toHaveLength(1);
    await h.deliverer.stop(1_000);
    expect(calls).toBe(0);
    expect(h.store.released).toEqual([id]);
    expect(h.store.get(id)).toMatchObject({ status: 'pending', attempts: [], leasedBy: null });
  });
});
