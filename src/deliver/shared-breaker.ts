// Circuit breakers kept in the store: when one instance opens a target's
// circuit, the others (on one PostgreSQL database) stop claiming it too,
// instead of each spending its own failures on a dead endpoint. The store's
// `circuits` table is the source of truth for everyone who reports circuit
// state (`relay events`, the admin API, the dashboard), on SQLite too, and a
// circuit closed there (`relay replay`) is closed here at the next read.
//
// Kept cheap on purpose: failures are counted in memory per instance (the
// MemoryBreaker underneath), the table is written only when a circuit opens
// or closes, and open circuits are read at most once per `refreshMs`. So
// another instance follows within about that long; until then it may send a
// few requests, which its own breaker also counts.

import type { SharedCircuit, Store } from '../queue/store.js';
import { MemoryBreaker, type Breaker, type BreakerOptions, type CircuitInfo, type CircuitSettings, type CircuitTransition } from './breaker.js';

export type CircuitStore = Pick<Store, 'saveCircuit' | 'openCircuits'>;

export interface SharedBreakerOptions extends BreakerOptions {
  /** How stale the view of other instances' circuits may get. Default 1 s. */
  refreshMs?: number;
  /** A failed read or write; the breaker keeps working on what it knows. */
  onError?: (err: unknown) => void;
  now?: () => number;
}

export class SharedBreaker implements Breaker {
  private readonly local: MemoryBreaker;
  private readonly refreshMs: number;
  private readonly onError: (err: unknown) => void;
  private readonly now: () => number;
  /** Circuits open somewhere, as last read (ours included). */
  private remote = new Map<string, SharedCircuit>();
  private readAt = Number.NEGATIVE_INFINITY;
  private reading: Promise<void> | undefined;
  /** Transitions are written in order, so a quick open-then-close cannot land reversed. */
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: CircuitStore,
    options: SharedBreakerOptions = {},
  ) {
    this.local = new MemoryBreaker(options);
    this.refreshMs = options.refreshMs ?? 1_000;
    this.onError = options.onError ?? (() => {});
    this.now = options.now ?? Date.now;
  }

  /** Reads the open circuits now. Awaited once before the first claim, then run in the background. */
  async refresh(): Promise<void> {
    // Our own transitions land first, so a circuit we just opened is in what we read.
    await this.writes;
    const now = this.now();
    this.readAt = now;
    try {
      const open = await this.store.openCircuits(now);
      this.remote = new Map(open.map((c) => [c.target, c]));
      // Open here, opened before this read, and not open in the store: someone
      // closed it there (a replay, or another instance's successful trial).
      for (const c of this.local.circuits(now)) {
        if (c.state === 'open' && c.openedAt !== null && c.openedAt < now && !this.remote.has(c.target)) this.local.reset(c.target);
      }
    } catch (err) {
      // Keep the last view: a database hiccup must neither stop deliveries nor reopen circuits.
      this.onError(err);
    }
  }

  /** Settles pending reads and writes (tests, shutdown). */
  async flush(): Promise<void> {
    await Promise.all([this.reading, this.writes]);
  }

  blocked(now: number): string[] {
    this.refreshIfStale(now);
    const out = new Set(this.local.blocked(now));
    for (const target of this.remote.keys()) if (this.remoteOpen(target, now)) out.add(target);
    return [...out];
  }

  admit(target: string, now: number): boolean {
    // Checked first: a delivery claimed just before the last read must not spend our half-open trial.
    return !this.remoteOpen(target, now) && this.local.admit(target, now);
  }

  record(target: string, healthy: boolean, now: number, settings?: CircuitSettings): CircuitTransition | undefined {
    const change = this.local.record(target, healthy, now, settings);
    if (change !== undefined) {
      const circuit: SharedCircuit = {
        target,
        openUntil: change.to === 'open' ? change.circuit.reopensAt : null,
        failures: change.circuit.failures,
      };
      if (circuit.openUntil === null) this.remote.delete(target);
      else this.remote.set(target, circuit);
      this.writes = this.writes.then(() => this.store.saveCircuit(circuit, now)).catch(this.onError);
    }
    return change;
  }

  abandon(target: string): void {
    this.local.abandon(target);
  }

  nextReopenAt(now: number): number | null {
    let next = this.local.nextReopenAt(now);
    for (const c of this.remote.values()) {
      if (c.openUntil !== null && c.openUntil > now && (next === null || c.openUntil < next)) next = c.openUntil;
    }
    return next;
  }

  circuits(now: number): CircuitInfo[] {
    const mine = this.local.circuits(now);
    const known = new Map(mine.map((c) => [c.target, c]));
    // A circuit another instance opened is open here too: this instance skips its target.
    for (const [target, c] of this.remote) {
      if (!this.remoteOpen(target, now) || known.get(target)?.state === 'open') continue;
      known.set(target, { target, state: 'open', openedAt: null, reopensAt: c.openUntil, failures: c.failures });
    }
    return [...known.values()];
  }

  private remoteOpen(target: string, now: number): boolean {
    const until = this.remote.get(target)?.openUntil;
    return until !== undefined && until !== null && until > now;
  }

  private refreshIfStale(now: number): void {
    if (this.reading !== undefined || now - this.readAt < this.refreshMs) return;
    this.reading = this.refresh().finally(() => (this.reading = undefined));
  }
}

/**
 * The circuits as the store has them: what `relay events`, the admin API and
 * the dashboard report, so all three say the same. A row whose cool-down has
 * ended waits for its trial delivery: half-open.
 */
export async function storedCircuits(store: Pick<Store, 'openCircuits'>, now = Date.now()): Promise<CircuitInfo[]> {
  const rows = await store.openCircuits(Number.MIN_SAFE_INTEGER);
  return rows.map((c) => ({
    target: c.target,
    state: c.openUntil !== null && c.openUntil > now ? 'open' : 'half-open',
    openedAt: null,
    reopensAt: c.openUntil,
    failures: c.failures,
  }));
}
