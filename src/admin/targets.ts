// Which targets are failing right now (`relay events`, GET /admin/targets),
// judged from the stored attempts of recent and still-retrying events.

import type { CircuitState } from '../deliver/breaker.js';
import { storedCircuits } from '../deliver/shared-breaker.js';
import type { AttemptRecord, Store } from '../queue/store.js';
import { iso, MAX_LIMIT } from './operations.js';


export interface TargetHealth {
  target: string;
  /** Retryable failures in a row, newest first, among the scanned attempts. */
  failures: number;
  /** The target's circuit as the store has it (the serving instances write it there). */
  circuit: CircuitState;
  lastAttemptAt: string;
  lastError: string | null;
  /** Scanned deliveries still queued for this target. */
  queued: number;
}

/** Mirrors the worker: 408, 429, 5xx and network errors are the destination's fault; other 4xx are not. */
function unhealthy(a: AttemptRecord): boolean {
  if (a.outcome === 'delivered') return false;
  if (a.outcome === 'retry') return true;
  const s = a.status;
  return !(s !== undefined && s >= 400 && s < 500 && s !== 408 && s !== 429);
}

/**
 * Targets failing right now, judged from stored attempts, with their circuit
 * as the store has it (listed while it is not closed, even after a success). Scans the newest `scan` events plus the newest `scan`
 * still-retrying ones (an open circuit holds new deliveries back, so their
 * failures are in older events).
 */
export async function targetHealth(store: Store, options: { scan?: number } = {}): Promise<TargetHealth[]> {
  const scan = Math.min(options.scan ?? 100, MAX_LIMIT);
  const circuits = new Map((await storedCircuits(store)).map((c) => [c.target, c]));
  const [recent, failing] = await Promise.all([store.listEvents({ limit: scan }), store.listEvents({ status: 'failed', limit: scan })]);
  const rows = new Map([...recent, ...failing].filter((e) => e.deliveries > 0).map((e) => [e.seq, e]));
  // Every listed event's deliveries in one read, not a lookup per event.
  const deliveries = await store.eventDeliveries([...rows.keys()]);
  const byTarget = new Map<string, { attempts: AttemptRecord[]; queued: Set<number> }>();
  const seen = new Set<number>(); // a batched delivery shows in each of its events
  for (const row of rows.values()) {
    for (const d of deliveries.get(row.seq) ?? []) {
      if (seen.has(d.id)) continue;
      seen.add(d.id);
      const t = byTarget.get(d.target) ?? { attempts: [], queued: new Set<number>() };
      byTarget.set(d.target, t);
      if (d.status === 'pending' || d.status === 'failed') t.queued.add(d.id);
      t.attempts.push(...d.attempts);
    }
  }
  const out: TargetHealth[] = [];
  for (const [target, t] of byTarget) {
    const attempts = t.attempts.sort((a, b) => b.startedAt - a.startedAt);
    let failures = 0;
    while (failures < attempts.length && unhealthy(attempts[failures]!)) failures += 1;
    const last = attempts[0];
    const circuit = circuits.get(target)?.state ?? 'closed';
    if ((failures === 0 && circuit === 'closed') || last === undefined) continue;
    out.push({ target, failures, circuit, lastAttemptAt: iso(last.startedAt), lastError: last.error ?? (last.status !== undefined ? `HTTP ${last.status}` : null), queued: t.queued.size });
  }
  return out.sort((a, b) => b.failures - a.failures || a.target.localeCompare(b.target));
}
