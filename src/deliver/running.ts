// A delivery this process has started, and what the claim loop derives from
// the running set: which targets to leave queued, and how much of a lease an
// attempt may use.

import type { ClaimedDelivery } from '../queue/store.js';

export interface Running {
  delivery: ClaimedDelivery;
  /** Per-action slot held, if any (none for an unconfigured delivery). */
  key?: string;
  limit?: number;
  controller: AbortController;
  /** The attempt is being recorded: shutdown lets it finish rather than release it. */
  finishing: boolean;
  /** Shutdown took it back: record nothing. */
  released: boolean;
  /** It holds one of the process's slots (and its action's): until its action returns (freeSlot). */
  slotHeld: boolean;
  /**
   * Its attempt was recorded as delivered or dead without closing a circuit:
   * nothing new became claimable, so its end wakes the claim loop only if
   * that loop left work queued for lack of slots (see starved).
   */
  final: boolean;
  done: Promise<void>;
}

/** An action's slots and waiting places are counted under its rule and name. */
export function actionKey(d: { rule: string; action: string }): string {
  return `${d.rule}\u0000${d.action}`;
}

/** What a lease keeps beyond its attempt's timeout, for recording the attempt. */
export function leaseMargin(leaseMs: number): number {
  return Math.min(5_000, Math.floor(leaseMs / 10));
}

/**
 * Targets a claim should leave queued: circuit blocked, held back for a full
 * action, or of an action whose slots are all running. `slotBound`: some are
 * skipped only because their action's slots are full.
 */
export function skipTargets(
  blocked: readonly string[],
  held: ReadonlyMap<string, ReadonlySet<string>>,
  running: Iterable<Running>,
  perAction: ReadonlyMap<string, number>,
): { targets: string[]; slotBound: boolean } {
  const skip = new Set(blocked);
  let slotBound = held.size > 0;
  for (const targets of held.values()) for (const t of targets) skip.add(t);
  for (const r of running) {
    if (r.key && r.limit !== undefined && (perAction.get(r.key) ?? 0) >= r.limit) {
      skip.add(r.delivery.target);
      slotBound = true;
    }
  }
  return { targets: [...skip], slotBound };
}
