// The delivery pool: claims due deliveries under a lease, runs their actions
// with a timeout, records every attempt, and schedules retries with backoff.
// One loop claims; each claimed delivery runs as its own promise, so the only
// waiting is in `sleep`, which ends early on notify() or a freed slot.
// Deliveries an ingest in this process planned, and that can start at once,
// skip the claim: the ingest transaction leases them (reserve, handoff.ts).

import { LazyChild } from '../log.js';
import type { RelayEvent } from '../event.js';
import type { AttemptRecord, ClaimedDelivery, DeliveryNext, PlannedDelivery, Store, StoredEvent } from '../queue/store.js';
import { addTo, isBreaker, leasable, Reservations, withDeadline, type Handoff } from './handoff.js';
import { decodeEvent, deliveryInfo, planNext, recordAttempt, runAction } from './attempt.js';
import type { Tracing } from '../ops/tracing.js';
import { MemoryBreaker, type Breaker, type CircuitInfo } from './breaker.js';
import type { ActionCatalog, AttemptInfo, DelivererOptions, DeliveryLogger, ResolvedAction } from './types.js';

export type { DelivererOptions } from './types.js';

export const DEFAULT_LEASE_MS = 60_000;
export const DEFAULT_POLL_MS = 1_000;
/** Why a queued delivery went dead when a reload removed what it was planned with. */
export const RULE_REMOVED_ERROR = 'rule removed by reload';
export const ACTION_REMOVED_ERROR = 'action removed by reload';

interface Running {
  delivery: ClaimedDelivery;
  /** Per-action slot held, if any (none for an unconfigured delivery). */
  key?: string;
  limit?: number;
  controller: AbortController;
  /** The attempt is being recorded: shutdown lets it finish rather than release it. */
  finishing: boolean;
  /** Shutdown took it back: record nothing. */
  released: boolean;
  /**
   * Its attempt was recorded as delivered or dead without closing a circuit:
   * nothing new became claimable, so its end wakes the claim loop only if
   * that loop left work queued for lack of slots (see starved).
   */
  final: boolean;
  done: Promise<void>;
}

export class Deliverer {
  private readonly store: Store;
  private readonly catalog: () => ActionCatalog;
  private readonly logger: DeliveryLogger;
  private readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly workerId: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly pollMs: number;
  private readonly breaker: Breaker;
  private readonly decode: (event: StoredEvent) => RelayEvent;
  private readonly onAttempt: ((info: AttemptInfo) => void) | undefined;
  private readonly tracing: Tracing | undefined;

  private readonly running = new Map<number, Running>();
  private readonly perAction = new Map<string, number>();
  /** Targets of deliveries handed back because their action was full, until that action frees a slot. */
  private readonly held = new Map<string, Set<string>>();
  private readonly clampWarned = new Set<string>();
  /** Slots promised to ingests in flight (reserve). */
  private readonly reservations = new Reservations();
  /** Hand-backs of deliveries handed over at ingest, awaited by stop. */
  private readonly releasing = new Set<Promise<void>>();
  /** The last claim may have left due work for lack of slots: a freed slot must wake the loop. */
  private starved = true;
  private readonly shutdownReason = new DOMException('relay is shutting down', 'AbortError');
  private loopDone: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private stopping = false;
  private woken = false;
  private wakeSleeper: (() => void) | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(options: DelivererOptions) {
    this.store = options.store;
    this.catalog = options.catalog;
    this.logger = options.logger;
    this.concurrency = Math.max(1, options.concurrency);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.workerId = options.workerId;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.breaker = isBreaker(options.breaker) ? options.breaker : new MemoryBreaker(options.breaker);
    this.decode = options.decode ?? decodeEvent;
    this.onAttempt = options.onAttempt;
    this.tracing = options.tracing;
  }

  start(): void {
    if (this.loopDone || this.stopping) return;
    // Ingests, replays and releases (here, and on PostgreSQL in other instances) wake us.
    this.unsubscribe = this.store.onWake(() => this.notify());
    this.loopDone = this.loop();
  }

  /** New work arrived: claim now instead of at the end of the current sleep. */
  notify(): void {
    this.woken = true;
    this.wakeSleeper?.();
  }

  /**
   * Stops claiming; in-flight deliveries get `graceMs` (wall clock) to finish,
   * then are aborted and released back to the queue with no attempt recorded.
   */
  stop(graceMs = 8_000): Promise<void> {
    if (this.stopped) return this.stopped;
    const deadline = Date.now() + graceMs;
    this.stopping = true;
    this.unsubscribe?.();
    this.notify();
    this.stopped = (async () => {
      await this.loopDone;
      // Ingests in flight hand their deliveries over (or cancel) before we settle.
      await withDeadline(this.reservations.settled(), deadline - Date.now());
      await withDeadline(this.settled(), deadline - Date.now());
      const late = [...this.running.values()].filter((r) => !r.finishing);
      for (const r of late) {
        r.released = true;
        r.controller.abort(this.shutdownReason);
      }
      if (late.length > 0) {
        this.logger.warn({ deliveries: late.map((r) => r.delivery.id) }, 'grace period over: releasing in-flight deliveries');
        await this.release(late.map((r) => r.delivery));
      }
      await this.settled();
    })();
    return this.stopped;
  }

  /**
   * The hot path: which of an ingest's planned deliveries this process will
   * take leased in the ingest transaction and start at once. Only those that
   * could start now: a slot free (in total and in their action, counting
   * other ingests in flight), circuit not blocking, not batched, not to an
   * `ordering: fifo` target (those keep the claim path's ordering). The rest
   * stay queued for claiming. Undefined when none qualifies.
   */
  reserve(planned: readonly PlannedDelivery[]): Handoff | undefined {
    if (this.loopDone === undefined || this.stopping || planned.length === 0) return undefined;
    const { deliveries, keys } = leasable(planned, this.catalog(), {
      free: this.concurrency - this.running.size - this.reservations.total,
      taken: (key) => (this.perAction.get(key) ?? 0) + this.reservations.of(key),
      held: (key) => this.held.has(key),
      blocked: () => this.breaker.blocked(this.now()),
    });
    if (keys.length === 0) return undefined;
    const giveBack = this.reservations.take(keys);
    return {
      deliveries,
      lease: { worker: this.workerId, leaseMs: this.leaseMs },
      accept: (leased) => {
        giveBack();
        if (leased !== undefined && leased.length > 0) this.adopt(leased);
      },
      cancel: giveBack,
    };
  }

  /** Starts deliveries an ingest took leased for us, or hands them back as a claim's would be. */
  private adopt(leased: readonly ClaimedDelivery[]): void {
    const handBack = this.stopping ? [...leased] : this.dispatch([...leased], this.now());
    if (handBack.length === 0) return;
    const done = this.release(handBack).finally(() => this.releasing.delete(done));
    this.releasing.add(done);
  }

  circuits(): CircuitInfo[] {
    return this.breaker.circuits(this.now());
  }

  get inFlight(): number {
    return this.running.size;
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
      } catch (err) {
        // A database or catalog hiccup must not end the loop. Deliveries caught
        // mid-step stay leased and are claimed again when the lease lapses.
        this.logger.error({ err }, 'delivery loop failed; retrying');
        await this.sleep(this.pollMs);
      }
    }
  }

  private async step(): Promise<void> {
    const free = this.concurrency - this.running.size - this.reservations.total;
    if (free <= 0) {
      this.starved = true;
      await this.sleep(this.pollMs); // a finishing delivery wakes us
      return;
    }
    this.woken = false;
    const claimNow = this.now();
    const skip = this.skipTargets(claimNow);
    const claimed = await this.store.claim({
      worker: this.workerId,
      limit: free,
      now: claimNow,
      leaseMs: this.leaseMs,
      skipTargets: skip.targets,
      fifoTargets: this.catalog().fifoTargets?.(),
    });
    if (this.stopping) {
      await this.release(claimed);
      return;
    }
    const handBack = this.dispatch(claimed, claimNow);
    // Work may be left queued that only a freed slot lets us take.
    this.starved = claimed.length >= free || skip.slotBound || handBack.length > 0;
    if (handBack.length > 0) await this.release(handBack);
    if (claimed.length < free) await this.idle(claimNow);
  }

  /** Starts what may start; returns the ids to hand back (action full, or circuit not admitting). */
  private dispatch(claimed: ClaimedDelivery[], now: number): ClaimedDelivery[] {
    const catalog = this.catalog();
    const handBack: ClaimedDelivery[] = [];
    for (const d of claimed) {
      const action = catalog.get(d.rule, d.action);
      if (!action) {
        // Never another action: identities do not depend on position (see inlineName).
        const reason = catalog.hasRule(d.rule) ? ACTION_REMOVED_ERROR : RULE_REMOVED_ERROR;
        this.track(d, undefined, undefined, (r) => this.unconfigured(r, reason));
        continue;
      }
      const key = `${d.rule}\u0000${d.action}`;
      const limit = Math.max(1, action.policy.concurrency);
      // Limit first: admit() spends a half-open circuit's single trial.
      if ((this.perAction.get(key) ?? 0) >= limit) {
        handBack.push(d);
        addTo(this.held, key, d.target);
      } else if (action.policy.circuit !== false && !this.breaker.admit(d.target, now)) {
        handBack.push(d);
      } else {
        this.track(d, key, limit, (r) => this.attempt(r, action));
      }
    }
    return handBack;
  }

  private track(d: ClaimedDelivery, key: string | undefined, limit: number | undefined, task: (r: Running) => Promise<void>): void {
    const r: Running = { delivery: d, key, limit, controller: new AbortController(), finishing: false, released: false, final: false, done: Promise.resolve() };
    this.running.set(d.id, r);
    if (key) this.perAction.set(key, (this.perAction.get(key) ?? 0) + 1);
    r.done = task(r)
      .catch((err: unknown) => this.logger.error({ err, deliveryId: d.id }, 'delivery bookkeeping failed'))
      .finally(() => {
        this.running.delete(d.id);
        let wasHeld = false;
        if (key) {
          const left = (this.perAction.get(key) ?? 1) - 1;
          if (left > 0) this.perAction.set(key, left);
          else this.perAction.delete(key);
          wasHeld = this.held.delete(key);
        }
        // A slot is free: claim again if that may start something (a retry's
        // new due time, too, is only read by the loop's next idle).
        if (this.starved || wasHeld || !r.final) this.notify();
      });
  }

  private async attempt(r: Running, action: ResolvedAction): Promise<void> {
    const d = r.delivery;
    const attempt = d.attempts + 1;
    const log = new LazyChild(this.logger, {
      deliveryId: d.id,
      eventId: d.events[0]?.id,
      rule: d.rule,
      action: d.action,
      ...(d.events.length > 1 ? { batch: d.events.length } : {}),
    });
    const span = this.tracing?.attempt(
      d.events.map((e) => e.trace),
      { deliveryId: d.id, rule: d.rule, action: d.action, plugin: action.plugin, target: d.target, attempt, events: d.events.length },
    );
    const o = await runAction(action, {
      traceparent: span?.traceparent,
      events: d.events.map(this.decode),
      attempt,
      delivery: deliveryInfo(d.id, d.rule, d.action, d.events),
      controller: r.controller,
      timeoutMs: this.timeoutFor(action, r.key ?? ''),
      logger: log,
      now: this.now,
    });
    const circuit = action.policy.circuit;
    if (r.released) {
      span?.end({ ok: false, outcome: 'released', error: 'relay is shutting down' });
      if (circuit !== false) this.breaker.abandon(d.target);
      return;
    }
    r.finishing = true;
    const now = this.now();
    const { record, next } = planNext(o, attempt, action.policy.retry, now, this.random);
    span?.end({ ok: o.ok, status: o.status, error: o.error, outcome: record.outcome });

    // `circuit: false`: this action's results neither trip nor close the target's circuit.
    const change = circuit === false ? undefined : this.breaker.record(d.target, o.ok || !o.retryable, now, circuit);
    if (change?.to === 'open') this.logger.warn({ circuit: change.circuit }, `circuit opened for ${d.target}`);
    if (change?.to === 'closed') this.logger.info({ circuit: change.circuit }, `circuit closed for ${d.target}`);

    const fields = { attempt, durationMs: o.durationMs, status: o.status, error: o.error };
    if (record.outcome === 'delivered') log.info(fields, 'delivered');
    else if (record.outcome === 'retry') log.warn({ ...fields, nextAt: next.status === 'failed' ? next.nextAt : undefined }, 'attempt failed, will retry');
    else log.error(fields, 'delivery dead-lettered');

    await this.record(d, record, next, { plugin: action.plugin, attempt });
    r.final = next.status !== 'failed' && change?.to !== 'closed';
  }

  private async unconfigured(r: Running, reason: string): Promise<void> {
    r.finishing = true;
    const d = r.delivery;
    const now = this.now();
    this.logger.error({ deliveryId: d.id, rule: d.rule, action: d.action }, `delivery dead-lettered: ${reason}`);
    const record: AttemptRecord = { startedAt: now, durationMs: 0, outcome: 'dead', error: reason };
    await this.record(d, record, { status: 'dead' }, { plugin: 'unknown', attempt: d.attempts + 1 });
    r.final = true;
  }

  private record(d: ClaimedDelivery, record: AttemptRecord, next: DeliveryNext, meta: { plugin: string; attempt: number }): Promise<void> {
    return recordAttempt({ store: this.store, logger: this.logger, onAttempt: this.onAttempt }, d, record, next, meta);
  }

  /**
   * The lease must outlive the attempt, or another worker could claim it while
   * it runs. Since attempts are cut off at their timeout, clamping the timeout
   * just under the lease is enough; the margin covers recording the attempt.
   */
  private timeoutFor(action: ResolvedAction, key: string): number {
    const max = this.leaseMs - Math.min(5_000, Math.floor(this.leaseMs / 10));
    if (action.policy.timeoutMs <= max) return action.policy.timeoutMs;
    if (!this.clampWarned.has(key)) {
      this.clampWarned.add(key);
      this.logger.warn({ rule: action.rule, action: action.action, timeoutMs: action.policy.timeoutMs, leaseMs: this.leaseMs }, `action timeout exceeds the claim lease: using ${max}ms`);
    }
    return max;
  }

  /** `slotBound`: some targets are skipped only because their action's slots are full. */
  private skipTargets(now: number): { targets: string[]; slotBound: boolean } {
    const skip = new Set(this.breaker.blocked(now));
    let slotBound = this.held.size > 0;
    for (const targets of this.held.values()) for (const t of targets) skip.add(t);
    for (const r of this.running.values()) {
      if (r.key && r.limit !== undefined && (this.perAction.get(r.key) ?? 0) >= r.limit) {
        skip.add(r.delivery.target);
        slotBound = true;
      }
    }
    return { targets: [...skip], slotBound };
  }

  /** Nothing (more) to claim: sleep until the next due delivery, a circuit's reopening, or the poll cap. */
  private async idle(claimNow: number): Promise<void> {
    let due: number | null = null;
    try {
      due = await this.store.nextDueAt();
    } catch (err) {
      this.logger.warn({ err }, 'reading the next due time failed');
    }
    const now = this.now();
    let wait = this.pollMs;
    // Due already at claim time but not claimed: skipped or someone else's.
    // Waking for it would spin; a freed slot or reopening circuit wakes us instead.
    if (due !== null && due > claimNow) wait = Math.min(wait, due - now);
    const reopen = this.breaker.nextReopenAt(now);
    if (reopen !== null) wait = Math.min(wait, reopen - now);
    await this.sleep(wait);
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || this.stopping) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeSleeper = undefined;
        this.woken = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakeSleeper = done;
    });
  }

  private async release(leases: ClaimedDelivery[]): Promise<void> {
    if (leases.length === 0) return;
    try {
      const stale = await this.store.release(leases);
      for (const deliveryId of stale) this.logger.warn({ deliveryId }, 'stale release dropped: the lease passed to another claim');
    } catch (err) {
      // Their leases lapse and they are claimed again: nothing is lost.
      this.logger.error({ err, deliveries: leases.map((d) => d.id) }, 'releasing deliveries failed');
    }
  }

  private async settled(): Promise<void> {
    await Promise.all([...[...this.running.values()].map((r) => r.done), ...this.releasing]);
  }
}
