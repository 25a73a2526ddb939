// One circuit breaker per target (destination), so a dead endpoint's backlog
// stops consuming workers and other destinations keep flowing. Behind the
// `Breaker` interface so a later implementation can share state across
// instances through the database; this one is per process.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitInfo {
  target: string;
  state: CircuitState;
  openedAt: number | null;
  /** When an open circuit lets one trial delivery through. */
  reopensAt: number | null;
  /** Consecutive retryable failures. */
  failures: number;
}

export interface CircuitTransition {
  to: 'open' | 'closed';
  circuit: CircuitInfo;
}

export interface Breaker {
  /** Targets whose deliveries must stay queued now: open, or half-open with its trial running. */
  blocked(now: number): string[];
  /** May a delivery to `target` start? A half-open circuit admits exactly one trial. */
  admit(target: string, now: number): boolean;
  /**
   * An attempt ended. `healthy` means the destination answered (delivered, or
   * a permanent error: a 400 is a working endpoint refusing a bad request).
   */
  record(target: string, healthy: boolean, now: number, settings?: CircuitSettings): CircuitTransition | undefined;
  /** An admitted delivery ended without an attempt (released at shutdown). */
  abandon(target: string): void;
  /** The earliest moment after `now` an open circuit turns half-open, so an idle worker wakes for it. */
  nextReopenAt(now: number): number | null;
  circuits(now: number): CircuitInfo[];
}

export interface BreakerOptions {
  /** Consecutive retryable failures that open the circuit. */
  threshold?: number;
  /** The first cool-down; doubles on each trip in a row. */
  cooldownMs?: number;
  maxCooldownMs?: number;
}

/** One action's `circuit:` settings, resolved (see src/config/actions.ts). */
export type CircuitSettings = Required<BreakerOptions>;

export const BREAKER_DEFAULTS = { threshold: 5, cooldownMs: 30_000, maxCooldownMs: 5 * 60_000 } as const;

interface Circuit {
  failures: number;
  openedAt: number | null;
  reopensAt: number | null;
  /** Trips in a row without a success in between: drives the doubling. */
  trips: number;
  trialRunning: boolean;
}

export class MemoryBreaker implements Breaker {
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private readonly maxCooldownMs: number;
  private readonly byTarget = new Map<string, Circuit>();

  constructor(options: BreakerOptions = {}) {
    this.threshold = Math.max(1, options.threshold ?? BREAKER_DEFAULTS.threshold);
    this.cooldownMs = options.cooldownMs ?? BREAKER_DEFAULTS.cooldownMs;
    this.maxCooldownMs = Math.max(this.cooldownMs, options.maxCooldownMs ?? BREAKER_DEFAULTS.maxCooldownMs);
  }

  blocked(now: number): string[] {
    const out: string[] = [];
    for (const [target, c] of this.byTarget) {
      const state = stateOf(c, now);
      if (state === 'open' || (state === 'half-open' && c.trialRunning)) out.push(target);
    }
    return out;
  }

  admit(target: string, now: number): boolean {
    const c = this.byTarget.get(target);
    if (!c) return true;
    const state = stateOf(c, now);
    if (state === 'closed') return true;
    if (state === 'open' || c.trialRunning) return false;
    c.trialRunning = true;
    return true;
  }

  /**
   * `settings` are those of the action whose attempt this was: a circuit
   * belongs to a target, and the attempt that trips it decides its cool-down.
   */
  record(target: string, healthy: boolean, now: number, settings?: CircuitSettings): CircuitTransition | undefined {
    const threshold = Math.max(1, settings?.threshold ?? this.threshold);
    const cooldownMs = settings?.cooldownMs ?? this.cooldownMs;
    const maxCooldownMs = Math.max(cooldownMs, settings?.maxCooldownMs ?? this.maxCooldownMs);
    const c = this.circuit(target);
    const state = stateOf(c, now);
    // Results of deliveries started before the circuit opened say nothing new.
    if (state === 'open') return undefined;
    c.trialRunning = false;
    if (healthy) {
      c.failures = 0;
      if (state === 'closed') return undefined;
      c.trips = 0;
      c.openedAt = c.reopensAt = null;
      return { to: 'closed', circuit: this.info(target, c, now) };
    }
    c.failures += 1;
    if (state === 'closed' && c.failures < threshold) return undefined;
    const cooldown = Math.min(maxCooldownMs, cooldownMs * 2 ** c.trips);
    c.trips += 1;
    c.openedAt = now;
    c.reopensAt = now + cooldown;
    return { to: 'open', circuit: this.info(target, c, now) };
  }

  abandon(target: string): void {
    const c = this.byTarget.get(target);
    if (c) c.trialRunning = false;
  }

  /** Forgets a target's circuit: closed, no failures counted (someone closed it in the store). */
  reset(target: string): void {
    this.byTarget.delete(target);
  }

  nextReopenAt(now: number): number | null {
    let next: number | null = null;
    for (const c of this.byTarget.values()) {
      if (c.reopensAt !== null && c.reopensAt > now && (next === null || c.reopensAt < next)) next = c.reopensAt;
    }
    return next;
  }

  circuits(now: number): CircuitInfo[] {
    return [...this.byTarget].map(([target, c]) => this.info(target, c, now));
  }

  private circuit(target: string): Circuit {
    let c = this.byTarget.get(target);
    if (!c) {
      c = { failures: 0, openedAt: null, reopensAt: null, trips: 0, trialRunning: false };
      this.byTarget.set(target, c);
    }
    return c;
  }

  private info(target: string, c: Circuit, now: number): CircuitInfo {
    return { target, state: stateOf(c, now), openedAt: c.openedAt, reopensAt: c.reopensAt, failures: c.failures };
  }
}

function stateOf(c: Circuit, now: number): CircuitState {
  if (c.reopensAt === null) return 'closed';
  return now < c.reopensAt ? 'open' : 'half-open';
}
