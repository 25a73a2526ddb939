// TEST DOUBLE: an in-memory Store for fast unit tests of the delivery
// workers. It implements the queue half (claim/finish/release/nextDueAt/
// backlog) simply and faithfully; the event-log half is minimal. Not for
// production: no durability, no retention, no group commit.

import type {
  Activity,
  ActivityQuery,
  AttemptRecord,
  ClaimOptions,
  ClaimedDelivery,
  DeliveryDetail,
  DeliveryNext,
  DeliveryStatus,
  EventDetail,
  EventFilter,
  EventSummary,
  FinishResult,
  IngestOutcome,
  LeaseToken,
  MigrationResult,
  NewEvent,
  PlannedDelivery,
  PruneOptions,
  ReplaySelector,
  SharedCircuit,
  Store,
  StoreStats,
  StoredEvent,
} from '../../src/queue/store.js';

export interface MemoryDelivery {
  id: number;
  rule: string;
  action: string;
  target: string;
  status: DeliveryStatus;
  nextAt: number;
  attempts: AttemptRecord[];
  leasedBy: string | null;
  leaseUntil: number;
  /** Bumped by every claim, like the SQL stores' lease_generation. */
  generation: number;
  events: StoredEvent[];
}

export interface AddDelivery {
  rule: string;
  action: string;
  target?: string;
  nextAt?: number;
  events?: StoredEvent[];
}

export class MemoryStore implements Store {
  readonly driver = 'sqlite' as const;
  readonly deliveries = new Map<number, MemoryDelivery>();
  /** Every claim's options, so tests can check what was skipped. */
  readonly claims: ClaimOptions[] = [];
  readonly released: number[] = [];
  /** Makes claim() take this long, as a database round trip would. */
  claimDelayMs = 0;
  private readonly events: StoredEvent[] = [];
  private readonly wakers = new Set<() => void>();
  private nextId = 1;
  private nextSeq = 1;

  /** Queues a delivery directly (no rule matching); returns its id. */
  add(input: AddDelivery): number {
    const id = this.nextId++;
    const events = input.events ?? [storedEvent(`evt-${id}`, this.nextSeq++)];
    this.deliveries.set(id, {
      id,
      rule: input.rule,
      action: input.action,
      target: input.target ?? input.action,
      status: 'pending',
      nextAt: input.nextAt ?? 0,
      attempts: [],
      leasedBy: null,
      leaseUntil: 0,
      generation: 0,
      events,
    });
    return id;
  }

  get(id: number): MemoryDelivery {
    const d = this.deliveries.get(id);
    if (!d) throw new Error(`no delivery ${id}`);
    return d;
  }

  onWake(callback: () => void): () => void {
    this.wakers.add(callback);
    return () => this.wakers.delete(callback);
  }

  notify(): void {
    for (const wake of this.wakers) wake();
  }

  async migrate(): Promise<MigrationResult> {
    return { version: 1, applied: [] };
  }

  async ingest(event: NewEvent, planned: PlannedDelivery[]): Promise<IngestOutcome> {
    if (this.events.some((e) => e.source === event.source && e.id === event.id)) return { status: 'duplicate', id: event.id };
    const stored: StoredEvent = { ...event, seq: this.nextSeq++ };
    this.events.push(stored);
    for (const p of planned) this.add({ rule: p.rule, action: p.action, target: p.target, events: [stored] });
    this.notify();
    return { status: 'accepted', id: event.id };
  }

  async claim(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    this.claims.push({ ...options, skipTargets: [...(options.skipTargets ?? [])] });
    // Always yield to the timer queue like real I/O, so a claim loop that spins shows up as a count, not a hung event loop.
    await new Promise<void>((resolve) => (this.claimDelayMs > 0 ? setTimeout(resolve, this.claimDelayMs) : setImmediate(resolve)));
    const skip = new Set(options.skipTargets ?? []);
    const due = [...this.deliveries.values()]
      .filter((d) => this.queued(d, options.now) && d.nextAt <= options.now && !skip.has(d.target))
      .sort((a, b) => a.nextAt - b.nextAt || a.id - b.id)
      .slice(0, Math.max(0, options.limit));
    return due.map((d) => {
      d.leasedBy = options.worker;
      d.leaseUntil = options.now + options.leaseMs;
      d.generation++;
      return { id: d.id, claimedBy: d.leasedBy, generation: d.generation, rule: d.rule, action: d.action, target: d.target, attempts: d.attempts.length, events: d.events };
    });
  }

  async finish(lease: LeaseToken, attempt: AttemptRecord, next: DeliveryNext): Promise<FinishResult> {
    const d = this.get(lease.id);
    if (!this.holds(d, lease)) return 'stale';
    d.attempts.push(attempt);
    d.status = next.status;
    if (next.status === 'failed') d.nextAt = next.nextAt;
    d.leasedBy = null;
    d.leaseUntil = 0;
    return 'recorded';
  }

  async release(leases: readonly LeaseToken[]): Promise<number[]> {
    const stale: number[] = [];
    for (const lease of leases) {
      const d = this.get(lease.id);
      if (!this.holds(d, lease)) {
        stale.push(lease.id);
        continue;
      }
      d.leasedBy = null;
      d.leaseUntil = 0;
      this.released.push(lease.id);
    }
    // Like the real stores: released work may be due, so listeners re-check.
    if (stale.length < leases.length) this.notify();
    return stale;
  }

  async recover(workerPrefix: string): Promise<number> {
    const leased = [...this.deliveries.values()].filter((d) => d.leasedBy !== null && d.leasedBy.startsWith(workerPrefix));
    await this.release(leased.map((d) => ({ id: d.id, claimedBy: d.leasedBy ?? '', generation: d.generation })));
    return leased.length;
  }

  private holds(d: MemoryDelivery, lease: LeaseToken): boolean {
    return d.leasedBy === lease.claimedBy && d.generation === lease.generation;
  }

  async deadCount(): Promise<number> {
    return [...this.deliveries.values()].filter((d) => d.status === 'dead').length;
  }

  async backlog(): Promise<number> {
    return [...this.deliveries.values()].filter((d) => d.status === 'pending' || d.status === 'failed').length;
  }

  async nextDueAt(): Promise<number | null> {
    let next: number | null = null;
    for (const d of this.deliveries.values()) {
      if (d.status !== 'pending' && d.status !== 'failed') continue;
      if (d.leasedBy !== null) continue;
      if (next === null || d.nextAt < next) next = d.nextAt;
    }
    return next;
  }

  async queueHeads(targets: readonly string[]): Promise<Map<string, number>> {
    const heads = new Map<string, number>();
    for (const d of this.deliveries.values()) {
      if (!targets.includes(d.target) || (d.status !== 'pending' && d.status !== 'failed')) continue;
      if (!heads.has(d.target) || d.id < heads.get(d.target)!) heads.set(d.target, d.id);
    }
    return heads;
  }

  async listEvents(_filter: EventFilter): Promise<EventSummary[]> {
    return [];
  }

  async eventsAfter(after: number, limit: number): Promise<StoredEvent[]> {
    return this.events.filter((e) => e.seq > after).slice(0, limit);
  }

  async lastSeq(): Promise<number> {
    return Math.max(0, ...this.events.map((e) => e.seq));
  }

  async getEvent(_idOrSeq: string): Promise<EventDetail | null> {
    return null;
  }

  async eventDeliveries(_seqs: readonly number[]): Promise<Map<number, DeliveryDetail[]>> {
    return new Map();
  }

  async replay(_selector: ReplaySelector): Promise<number[]> {
    return [];
  }

  async prune(_before: number, _options?: PruneOptions): Promise<{ events: number }> {
    return { events: 0 };
  }

  /** Shared circuits, by target (the SharedBreaker's table). */
  readonly circuitRows = new Map<string, SharedCircuit>();

  async saveCircuit(circuit: SharedCircuit): Promise<void> {
    this.circuitRows.set(circuit.target, { ...circuit });
  }

  async closeCircuits(deliveryIds: number[]): Promise<string[]> {
    const targets = new Set(deliveryIds.map((id) => this.get(id).target));
    const closed = [...targets].filter((t) => this.circuitRows.get(t)?.openUntil != null).sort();
    for (const t of closed) this.circuitRows.set(t, { target: t, openUntil: null, failures: 0 });
    return closed;
  }

  async openCircuits(now: number): Promise<SharedCircuit[]> {
    return [...this.circuitRows.values()].filter((c) => c.openUntil !== null && c.openUntil > now);
  }

  /** Same counts as the SQL stores, by brute force. */
  async activity(q: ActivityQuery): Promise<Activity> {
    const width = Math.max(1, Math.floor(q.bucketMs));
    const at = (t: number) => Math.floor(t / width) * width;
    const tally = <K>(keys: K[], name: (k: K) => string) => {
      const out = new Map<string, { key: K; count: number }>();
      for (const k of keys) out.set(name(k), { key: k, count: (out.get(name(k))?.count ?? 0) + 1 });
      return [...out.values()];
    };
    const recent = this.events.filter((e) => e.receivedAt >= q.since);
    const attempts = [...this.deliveries.values()].flatMap((d) => d.attempts.filter((a) => a.startedAt >= q.since).map((a) => ({ rule: d.rule, action: d.action, outcome: a.outcome, bucket: at(a.startedAt) })));
    return {
      events: tally(recent.map((e) => ({ source: e.source, bucket: at(e.receivedAt) })), JSON.stringify).map(({ key, count }) => ({ ...key, count })),
      attempts: tally(attempts, JSON.stringify).map(({ key, count }) => ({ ...key, count })),
      matches: tally(recent.flatMap((e) => e.matched.map((rule) => ({ rule, bucket: at(e.receivedAt) }))), JSON.stringify).map(({ key, count }) => ({ ...key, count })),
    };
  }

  stats(): StoreStats {
    return { ingestTransactions: this.events.length, ingestedEvents: this.events.length, duplicates: 0, finishTransactions: 0 };
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  /** As `relay events show` would see it. */
  detail(id: number): DeliveryDetail {
    const d = this.get(id);
    const last = d.attempts.at(-1);
    return {
      id,
      rule: d.rule,
      action: d.action,
      target: d.target,
      status: d.status,
      attempts: d.attempts,
      nextAt: d.status === 'failed' || d.status === 'pending' ? d.nextAt : null,
      lastError: last?.error ?? null,
    };
  }

  private queued(d: MemoryDelivery, now: number): boolean {
    return (d.status === 'pending' || d.status === 'failed') && (d.leasedBy === null || d.leaseUntil <= now);
  }
}

export function storedEvent(id: string, seq = 1, payload: unknown = { id }): StoredEvent {
  return {
    seq,
    id,
    source: 'test',
    type: 'test.event',
    receivedAt: 0,
    headers: { 'content-type': 'application/json' },
    rawBody: Buffer.from(JSON.stringify(payload)),
    matched: [],
  };
}
