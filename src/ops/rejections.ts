// Requests turned away at a source (bad signature, unreadable body, rate
// limited, not on the allowlist…), kept in a small ring in memory so an
// operator can see who is being refused and why. Never stored: a rejected
// request is not an event, and its body is never kept. Per instance, like
// the metrics that count the same refusals.

export type RejectionReason = 'signature' | 'body' | 'type' | 'id' | 'too_large' | 'allowlist' | 'rate_limit' | 'backlog';

export interface RejectedRequest {
  /** ms since the epoch. */
  at: number;
  source: string;
  /** The HTTP status answered. */
  status: number;
  reason: RejectionReason;
  /** What the sender was told, e.g. `signature mismatch`. */
  message: string;
  /** The client address, as the allowlist sees it. */
  ip: string;
}

export const REJECTIONS_KEPT = 200;

export class RejectionLog {
  private readonly ring: RejectedRequest[] = [];
  private next = 0;
  private readonly counts = new Map<RejectionReason, number>();
  readonly since = Date.now();

  constructor(readonly capacity = REJECTIONS_KEPT) {}

  record(r: RejectedRequest): void {
    this.counts.set(r.reason, (this.counts.get(r.reason) ?? 0) + 1);
    if (this.ring.length < this.capacity) this.ring.push(r);
    else this.ring[this.next] = r;
    this.next = (this.next + 1) % this.capacity;
  }

  /** Newest first. */
  recent(limit = this.capacity): RejectedRequest[] {
    const ordered = this.ring.length < this.capacity ? [...this.ring] : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.reverse().slice(0, Math.max(0, limit));
  }

  /** Every rejection since start, by reason (the ring forgets; these do not). */
  totals(): Partial<Record<RejectionReason, number>> {
    return Object.fromEntries(this.counts);
  }
}
