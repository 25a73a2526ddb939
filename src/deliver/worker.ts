// The delivery pool: claims due deliveries under a lease, runs their actions
// with a timeout, records every attempt, and schedules retries with backoff.
// One loop claims; each claimed delivery runs as its own promise, so the only
// waiting is in `sleep`, which ends early on notify() or a freed slot.
// Deliveries an ingest in this process planned skip the claim: the ingest
// transaction leases them (reserve, handoff.ts) and they start at once or
// from the waiting room when a slot frees (ready.ts). A slot is held while
// the action runs, not while its attempt is recorded (freeSlot).

import type { RelayEvent } from '../event.js';
import type { ClaimedDelivery, PlannedDelivery, Store, StoredEvent } from '../queue/store.js';
import { addTo, isBreaker, leasable, Reservations, withDeadline, type Handoff } from './handoff.js';
import { READY_DEPTH, ReadyQueue, type Verdict } from './ready.js';
import { Waker } from './waker.js';
import { Pacer } from './pace.js';
import { actionKey, leaseMargin, skipTargets, type Running } from './running.js';
import { deadUnconfigured, perform, type PerformContext } from './perform.js';
import { decodeEvent } from './attempt.js';
import type { Tracing } from '../ops/tracing.js';
import { MemoryBreaker, type Breaker, type CircuitInfo } from './breaker.js';
import type { ActionCatalog, AttemptInfo, DelivererOptions, DeliveryLogger, ResolvedAction } from './types.js';

export type { DelivererOptions } from './types.js';

export const DEFAULT_LEASE_MS = 60_000;
export const DEFAULT_POLL_MS = 1_000;
/** Why a queued delivery went dead when a reload removed what it was planned with. */
export const RULE_REMOVED_ERROR = 'rule removed by reload';
export const ACTION_REMOVED_ERROR = 'action removed by reload';

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

  /** Deliveries started and not yet recorded. */
  private readonly running = new Map<number, Running>();
  /** Of those, the ones whose action is still running: what `concurrency` bounds. */
  private slotsInUse = 0;
  private readonly perAction = new Map<string, number>();
  /** Targets of deliveries handed back because their action was full, until that action frees a slot. */
  private readonly held = new Map<string, Set<string>>();
  private readonly clampWarned = new Set<string>();
  /** Slots promised to ingests in flight (reserve). */
  private readonly reservations = new Reservations();
  /** Deliveries handed over at ingest that wait in memory for a slot (ready.ts). */
  private readonly ready = new ReadyQueue();
  private readonly pacer: Pacer;
  /** Hand-backs of deliveries handed over at ingest, awaited by stop. */
  private readonly releasing = new Set<Promise<void>>();
  /** The last claim may have left due work for lack of slots: a freed slot must wake the loop. */
  private starved = true;
  private readonly shutdownReason = new DOMException('relay is shutting down', 'AbortError');
  private loopDone: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private stopping = false;
  private readonly waker = new Waker();
  /** What perform() needs from here (perform.ts). */
  private readonly performing: PerformContext;
  private unsubscribe: (() => void) | undefined;

  constructor(options: DelivererOptions) {
    this.store = options.store;
    this.catalog = options.catalog;
    this.logger = options.logger;
    this.concurrency = Math.max(1, options.concurrency);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.pacer = new Pacer(options.paceMs ?? 0);
    this.workerId = options.workerId;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.breaker = isBreaker(options.breaker) ? options.breaker : new MemoryBreaker(options.breaker);
    this.decode = options.decode ?? decodeEvent;
    this.onAttempt = options.onAttempt;
    this.tracing = options.tracing;
    this.performing = {
      store: this.store,
      logger: this.logger,
      onAttempt: this.onAttempt,
      tracing: this.tracing,
      decode: this.decode,
      breaker: this.breaker,
      now: this.now,
      random: this.random,
      timeoutFor: (action, key) => this.timeoutFor(action, key),
      freeSlot: (r) => this.freeSlot(r),
    };
  }

  start(): void {
    if (this.loopDone || this.stopping) return;
    // Ingests, replays and releases (here, and on PostgreSQL in other instances) wake us.
    this.unsubscribe = this.store.onWake(() => this.notify());
    this.loopDone = this.loop();
  }

  /** New work arrived: claim now instead of at the end of the current sleep. */
  notify(): void {
    this.waker.wake();
  }

  /**
   * Stops claiming; in-flight deliveries get `graceMs` (wall clock) to finish,
   * then are aborted and released back to the queue with no attempt recorded.
   */
  stop(graceMs = 8_000): Promise<void> {
    if (this.stopped) return this.stopped;
    const deadline = Date.now() + graceMs;
    this.stopping = true;
    this.pacer.catchUp();
    this.unsubscribe?.();
    this.notify();
    this.stopped = (async () => {
      await this.loopDone;
      // Ingests in flight hand their deliveries over (or cancel) before we settle.
      await withDeadline(this.reservations.settled(), deadline - Date.now());
      // Never started: back to the store at once, for the next start or another instance.
      await this.release(this.ready.takeAll());
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
   * take leased in the ingest transaction and start from memory: those with
   * a slot or a place in the waiting room (ready.ts), in total and in their
   * action, counting other ingests in flight; circuit not blocking, not
   * batched, not to an `ordering: fifo` target (those keep the claim path's
   * ordering). The rest stay queued for claiming. Undefined when none qualifies.
   */
  reserve(planned: readonly PlannedDelivery[]): Handoff | undefined {
    if (this.loopDone === undefined || this.stopping || planned.length === 0) return undefined;
    const room = this.concurrency * (1 + READY_DEPTH) - this.slotsInUse - this.reservations.total - this.ready.size;
    // Some of these go to the store for lack of room: deliveries are behind.
    if (room < planned.length) this.pacer.fallBehind();
    const { deliveries, keys } = leasable(planned, this.catalog(), {
      free: room,
      taken: (key) => (this.perAction.get(key) ?? 0) + this.reservations.of(key) + this.ready.of(key),
      depth: 1 + READY_DEPTH,
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

  /** Resolves when the answer to an event that planned `deliveries` may go out (pace.ts); undefined: at once. */
  paced(deliveries: number): Promise<void> | undefined {
    return this.stopping ? undefined : this.pacer.wait(deliveries);
  }

  /** Queues deliveries an ingest took leased for us behind those already waiting, and starts what may start. */
  private adopt(leased: readonly ClaimedDelivery[]): void {
    if (this.stopping) return this.handBack([...leased]);
    const now = this.now();
    for (const d of leased) this.ready.push(d, actionKey(d), now);
    this.pump();
  }

  /** Starts waiting deliveries while slots allow; hands back those that waited too long or whose circuit refuses. */
  private pump(): void {
    const now = this.now();
    this.handBack(this.ready.drain(now, (d, waited) => this.admit(d, waited, now)));
  }

  private admit(d: ClaimedDelivery, waitedMs: number, now: number): Verdict {
    if (this.stopping) return 'hand-back';
    const action = this.catalog().get(d.rule, d.action);
    // Its lease began at ingest: it must outlast the attempt (see timeoutFor).
    if (action && waitedMs > this.leaseMs - leaseMargin(this.leaseMs) - this.timeoutFor(action, actionKey(d))) return 'hand-back';
    if (this.slotsInUse >= this.concurrency) return 'wait';
    const started = this.startOne(d, now);
    return started === 'started' ? 'start' : started === 'full' ? 'wait' : 'hand-back';
  }

  private handBack(leases: ClaimedDelivery[]): void {
    if (leases.length === 0) return;
    const done = this.release(leases).finally(() => this.releasing.delete(done));
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
    const free = this.concurrency - this.slotsInUse - this.reservations.total - this.ready.size;
    if (free <= 0) {
      this.starved = true;
      await this.sleep(this.pollMs); // a finishing delivery wakes us
      return;
    }
    this.waker.clear();
    const claimNow = this.now();
    const skip = skipTargets(this.breaker.blocked(claimNow), this.held, this.running.values(), this.perAction);
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
    // A full claim may have left due work in the store; a short one took all there was.
    if (claimed.length >= free) this.pacer.fallBehind();
    else if (this.ready.size === 0) this.pacer.catchUp();
    if (claimed.length < free) await this.idle(claimNow);
  }

  /** Starts what may start; returns the ids to hand back (action full, or circuit not admitting). */
  private dispatch(claimed: ClaimedDelivery[], now: number): ClaimedDelivery[] {
    const handBack: ClaimedDelivery[] = [];
    for (const d of claimed) {
      const started = this.startOne(d, now);
      if (started === 'started') continue;
      handBack.push(d);
      if (started === 'full') addTo(this.held, actionKey(d), d.target);
    }
    return handBack;
  }

  /**
   * Starts one delivery unless its action's slots are full or its target's
   * circuit refuses it. One whose rule or action a reload removed starts
   * too: it is recorded dead (never run by another action, see inlineName).
   */
  private startOne(d: ClaimedDelivery, now: number): 'started' | 'full' | 'refused' {
    const catalog = this.catalog();
    const action = catalog.get(d.rule, d.action);
    if (!action) {
      const reason = catalog.hasRule(d.rule) ? ACTION_REMOVED_ERROR : RULE_REMOVED_ERROR;
      this.track(d, undefined, undefined, (r) => deadUnconfigured(this.performing, r, reason));
      return 'started';
    }
    const key = actionKey(d);
    const limit = Math.max(1, action.policy.concurrency);
    // Limit first: admit() spends a half-open circuit's single trial.
    if ((this.perAction.get(key) ?? 0) >= limit) return 'full';
    if (action.policy.circuit !== false && !this.breaker.admit(d.target, now)) return 'refused';
    this.track(d, key, limit, (r) => perform(this.performing, r, action));
    return 'started';
  }

  private track(d: ClaimedDelivery, key: string | undefined, limit: number | undefined, task: (r: Running) => Promise<void>): void {
    const r: Running = { delivery: d, key, limit, controller: new AbortController(), finishing: false, released: false, final: false, slotHeld: true, done: Promise.resolve() };
    this.running.set(d.id, r);
    this.slotsInUse++;
    if (key) this.perAction.set(key, (this.perAction.get(key) ?? 0) + 1);
    r.done = task(r)
      .catch((err: unknown) => this.logger.error({ err, deliveryId: d.id }, 'delivery bookkeeping failed'))
      .finally(() => {
        this.running.delete(d.id);
        this.freeSlot(r);
        // A retry's new due time is only read by the loop's next idle.
        if (!r.final) this.notify();
      });
  }

  /**
   * The action is done with its target: its slot goes to the next delivery
   * while the attempt is recorded (a group commit away), so slots turn over
   * at the actions' pace, not the commits'. What waits in memory starts
   * first; then the claim loop, if the last claim left work for lack of slots.
   */
  private freeSlot(r: Running): void {
    if (!r.slotHeld) return;
    r.slotHeld = false;
    this.slotsInUse--;
    let wasHeld = false;
    if (r.key) {
      const left = (this.perAction.get(r.key) ?? 1) - 1;
      if (left > 0) this.perAction.set(r.key, left);
      else this.perAction.delete(r.key);
      wasHeld = this.held.delete(r.key);
    }
    this.pacer.step();
    this.pump();
    if (this.starved || wasHeld) this.notify();
  }

  /**
   * The lease must outlive the attempt, or another worker could claim it while
   * it runs. Since attempts are cut off at their timeout, clamping the timeout
   * just under the lease is enough; the margin covers recording the attempt.
   */
  private timeoutFor(action: ResolvedAction, key: string): number {
    const max = this.leaseMs - leaseMargin(this.leaseMs);
    if (action.policy.timeoutMs <= max) return action.policy.timeoutMs;
    if (!this.clampWarned.has(key)) {
      this.clampWarned.add(key);
      this.logger.warn({ rule: action.rule, action: action.action, timeoutMs: action.policy.timeoutMs, leaseMs: this.leaseMs }, `action timeout exceeds the claim lease: using ${max}ms`);
    }
    return max;
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
    // Asked as of the claim, whose skip list was made then: a circuit that
    // reopened since (a timer may fire a millisecond early, a loaded claim
    // takes longer) means claiming again now, not sleeping a whole poll.
    const reopen = this.breaker.nextReopenAt(claimNow);
    if (reopen !== null) wait = Math.min(wait, reopen - now);
    await this.sleep(wait);
  }

  private sleep(ms: number): Promise<void> {
    return this.waker.sleep(ms, this.stopping);
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

