// The hot path's hand-off: deliveries planned at ingest that this process's
// workers can start at once are inserted already leased to it by the ingest
// transaction and passed to the Deliverer in memory with their lease tokens,
// so they need no claim transaction. The rest stay queued for the claim loop
// (retries, recovery, other instances, and whatever could not start here).

import type { Breaker, BreakerOptions } from './breaker.js';
import type { ClaimedDelivery, IngestLease, PlannedDelivery } from '../queue/store.js';
import type { ActionCatalog } from './types.js';
import { actionKey } from './running.js';

/** What the Deliverer's slots look like to one ingest. */
export interface SlotView {
  /** Deliveries the process can still take: its slots and waiting room (ready.ts), less those running, waiting or promised. */
  free: number;
  /** Deliveries of an action (rule and action key) running, waiting or promised. */
  taken(key: string): number;
  /** How many deliveries an action may have taken per slot of its `concurrency` (running plus waiting). */
  depth: number;
  /** Deliveries of the action were handed back for lack of a slot and wait for one. */
  held(key: string): boolean;
  /** Targets whose circuit keeps their deliveries queued. */
  blocked(): readonly string[];
}

/**
 * Marks `lease: true` the planned deliveries this process can take: room in
 * the process and in their action (a slot, or a place in the waiting room),
 * circuit not blocking, not batched,
 * not to an `ordering: fifo` target (those keep the claim path's ordering).
 * Returns the action key of each marked one.
 */
export function leasable(planned: readonly PlannedDelivery[], catalog: ActionCatalog, slots: SlotView): { deliveries: PlannedDelivery[]; keys: string[] } {
  const keys: string[] = [];
  if (slots.free <= 0) return { deliveries: [...planned], keys };
  const fifo = catalog.fifoTargets?.() ?? [];
  let blocked: Set<string> | undefined;
  const deliveries = planned.map((d) => {
    if (d.batch !== undefined || keys.length >= slots.free) return d;
    const action = catalog.get(d.rule, d.action);
    if (!action || fifo.includes(d.target)) return d;
    const key = actionKey(d);
    const taken = slots.taken(key) + keys.filter((k) => k === key).length;
    if (taken >= Math.max(1, action.policy.concurrency) * slots.depth || slots.held(key)) return d;
    if (action.policy.circuit !== false) {
      blocked ??= new Set(slots.blocked());
      if (blocked.has(d.target)) return d;
    }
    keys.push(key);
    return { ...d, lease: true };
  });
  return { deliveries, keys };
}

/** One ingest's reservation: pass `deliveries` and `lease` to Store#ingest, then settle it exactly once. */
export interface Handoff {
  /** The planned deliveries, those reserved here marked `lease: true`. */
  deliveries: PlannedDelivery[];
  lease: IngestLease;
  /** The ingest committed: start what the store returned leased (IngestOutcome.leased). */
  accept(leased: readonly ClaimedDelivery[] | undefined): void;
  /** The ingest failed or was a duplicate: give the reserved slots back. */
  cancel(): void;
}

/**
 * Slots promised to ingests in flight, in total and per action, so that the
 * claim loop and later ingests do not promise them again.
 */
export class Reservations {
  total = 0;
  private readonly perAction = new Map<string, number>();
  private waiters: Array<() => void> = [];

  of(key: string): number {
    return this.perAction.get(key) ?? 0;
  }

  /** Reserves a slot of each key; the returned function (idempotent) gives them back. */
  take(keys: readonly string[]): () => void {
    this.total += keys.length;
    for (const k of keys) this.perAction.set(k, this.of(k) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.total -= keys.length;
      for (const k of keys) {
        const left = this.of(k) - 1;
        if (left > 0) this.perAction.set(k, left);
        else this.perAction.delete(k);
      }
      if (this.total === 0) {
        const waiters = this.waiters;
        this.waiters = [];
        for (const resolve of waiters) resolve();
      }
    };
  }

  /** Resolves once no reservation is outstanding (shutdown waits for ingests in flight). */
  settled(): Promise<void> {
    if (this.total === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }
}

export function isBreaker(value: Breaker | BreakerOptions | undefined): value is Breaker {
  return typeof (value as Breaker | undefined)?.admit === 'function';
}

export function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  const set = map.get(key) ?? new Set<string>();
  set.add(value);
  map.set(key, set);
}

export async function withDeadline(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
  });
  try {
    await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
