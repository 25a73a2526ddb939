// The Store, written once for SQLite and PostgreSQL. Queries are built with
// Kysely and run as steps (see engine.ts); dialect differences are the few
// `dialect === ...` branches below.
//
// Invariants the queries rely on:
// - deliveries.next_at is non-null exactly while a delivery is queued
//   (pending or failed); claim moves it to the end of the lease, so an
//   expired lease falls due again without any sweeper.
// - events.status is the derived status of the event's deliveries, refreshed
//   in the same transaction as every change of a delivery's status.
// - A batch delivery has event_seq null and its events in batch_members.

import { all, exec, type Engine } from './engine.js';
import { GroupCommit } from './group-commit.js';
import { activitySteps } from './activity.js';
import { migrate } from './migrations.js';
import { ingestSteps, type IngestItem } from './ingest.js';
import { queueHeadsSteps } from './fifo.js';
import { claimPostgres, claimSqlite, finishSteps, recoverSteps, releaseSteps } from './lease.js';
import { CHUNK, hotQueries, type FinishParams, type StoreContext } from './queries.js';
import { backlogSteps, deadCountSteps, deliveriesOfSteps, eventDetailSteps, eventsAfterSteps, lastSeqSteps, listEventsSteps, nextDueAtSteps } from './read.js';
import { closeCircuitsSteps, replaySteps } from './replay.js';
import { pruneSteps } from './prune.js';
import { catchUpSteps } from './rollup.js';
import type {
  Activity,
  ActivityQuery,
  AttemptRecord,
  ClaimedDelivery,
  ClaimOptions,
  DeliveryDetail,
  DeliveryNext,
  EventDetail,
  EventFilter,
  EventSummary,
  FinishResult,
  IngestLease,
  IngestOutcome,
  LeaseToken,
  MigrationResult,
  NewEvent,
  PlannedDelivery,
  PruneOptions,
  ReplaySelector,
  SharedCircuit,
  Store,
  StoredEvent,
  StoreStats,
} from './store.js';

export class SqlStore implements Store {
  readonly driver: 'sqlite' | 'postgres';
  private readonly ctx: StoreContext;
  private readonly listeners = new Set<() => void>();
  private readonly counters: StoreStats = {
    ingestTransactions: 0,
    ingestedEvents: 0,
    duplicates: 0,
    finishTransactions: 0,
  };
  private readonly ingests: GroupCommit<IngestItem, IngestOutcome>;
  private readonly finishes: GroupCommit<FinishParams, FinishResult>;
  private closed = false;

  /** @param options.commitTimeoutMs how long ingest and finish wait for their group commit (none when unset). */
  constructor(
    private readonly engine: Engine,
    options: { commitTimeoutMs?: number } = {},
  ) {
    this.driver = engine.dialect;
    this.ctx = { dialect: engine.dialect, db: engine.db, q: hotQueries(engine.db), schema: engine.schema };
    const group = options.commitTimeoutMs !== undefined ? { timeoutMs: options.commitTimeoutMs } : {};
    this.ingests = new GroupCommit((items, deadline) => this.flushIngest(items, deadline), group);
    this.finishes = new GroupCommit((items, deadline) => this.flushFinish(items, deadline), group);
  }

  migrate(): Promise<MigrationResult> {
    const { dialect, schema } = this.engine;
    return this.engine.write(function* () {
      const result = yield* migrate(dialect, schema, Date.now());
      if (dialect === 'sqlite') yield* catchUpSteps();
      return result;
    });
  }

  ingest(event: NewEvent, deliveries: PlannedDelivery[], lease?: IngestLease): Promise<IngestOutcome> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return this.ingests.submit({
      event: {
        source: event.source,
        id: event.id,
        type: event.type,
        receivedAt: event.receivedAt,
        headers: JSON.stringify(event.headers),
        body: event.rawBody,
        matched: JSON.stringify(event.matched),
        status: deliveries.length > 0 ? 'pending' : event.matched.length > 0 ? 'off' : 'unmatched',
        trace: event.trace ?? null,
      },
      deliveries,
      original: event,
      ...(lease && { lease }),
    });
  }

  private async flushIngest(items: IngestItem[], deadline: number | undefined): Promise<IngestOutcome[]> {
    const outcomes = await this.engine.write(() => ingestSteps(this.ctx, items, Date.now()), { deadline });
    this.counters.ingestTransactions++;
    let queued = false;
    outcomes.forEach((o, i) => {
      if (o.status === 'duplicate') this.counters.duplicates++;
      else {
        this.counters.ingestedEvents++;
        // Deliveries taken leased are already their worker's: only the others need waking anyone.
        if ((items[i]?.deliveries.length ?? 0) > (o.leased?.length ?? 0)) queued = true;
      }
    });
    if (queued) this.notify();
    return outcomes;
  }

  async claim(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (options.limit <= 0) return [];
    if (this.engine.dialect === 'sqlite') return this.engine.write(() => claimSqlite(options));
    return claimPostgres(this.engine, this.ctx, options);
  }

  finish(lease: LeaseToken, attempt: AttemptRecord, next: DeliveryNext): Promise<FinishResult> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return this.finishes.submit({
      id: lease.id,
      claimedBy: lease.claimedBy,
      generation: lease.generation,
      status: next.status,
      nextAt: next.status === 'failed' ? next.nextAt : null,
      error: attempt.error ?? null,
      now: Date.now(),
      startedAt: attempt.startedAt,
      durationMs: Math.round(attempt.durationMs),
      outcome: attempt.outcome,
      httpStatus: attempt.status ?? null,
      response: attempt.response ? JSON.stringify(attempt.response) : null,
      request: attempt.request ? JSON.stringify(attempt.request) : null,
    });
  }

  private async flushFinish(items: FinishParams[], deadline: number | undefined): Promise<FinishResult[]> {
    const recorded = await this.engine.write(() => finishSteps(this.ctx, items), { deadline });
    this.counters.finishTransactions++;
    return recorded.map((ok) => (ok ? 'recorded' : 'stale'));
  }

  async release(leases: readonly LeaseToken[]): Promise<number[]> {
    if (leases.length === 0) return [];
    const released = new Set(await this.engine.write(() => releaseSteps(this.ctx, leases, Date.now())));
    if (released.size > 0) this.notify();
    return leases.filter((l) => !released.has(l.id)).map((l) => l.id);
  }

  async recover(workerPrefix: string): Promise<number> {
    const changed = await this.engine.write(() => recoverSteps(this.ctx, workerPrefix, Date.now()));
    if (changed > 0) this.notify();
    return changed;
  }

  backlog(): Promise<number> {
    return this.engine.read(() => backlogSteps(this.ctx));
  }

  deadCount(): Promise<number> {
    return this.engine.read(() => deadCountSteps(this.ctx));
  }

  nextDueAt(): Promise<number | null> {
    return this.engine.read(() => nextDueAtSteps(this.ctx));
  }

  queueHeads(targets: readonly string[]): Promise<Map<string, number>> {
    return this.engine.read(() => queueHeadsSteps(this.ctx, targets));
  }

  listEvents(filter: EventFilter): Promise<EventSummary[]> {
    return this.engine.read(() => listEventsSteps(this.ctx, filter));
  }

  eventsAfter(after: number, limit: number): Promise<StoredEvent[]> {
    return this.engine.read(() => eventsAfterSteps(this.ctx, after, limit));
  }

  lastSeq(): Promise<number> {
    return this.engine.read(() => lastSeqSteps(this.ctx));
  }

  getEvent(idOrSeq: string): Promise<EventDetail | null> {
    return this.engine.read(() => eventDetailSteps(this.ctx, idOrSeq));
  }

  eventDeliveries(seqs: readonly number[]): Promise<Map<number, DeliveryDetail[]>> {
    return this.engine.read(() => deliveriesOfSteps(this.ctx, seqs));
  }

  async replay(selector: ReplaySelector): Promise<number[]> {
    const byEvent = (selector.ids !== undefined && selector.ids.length > 0) || selector.since !== undefined;
    if (!byEvent && selector.dead !== true) {
      // Never "replay everything" by accident.
      throw new RangeError('replay needs ids, dead or since');
    }
    const now = Date.now();
    const ids = await this.engine.write(() => replaySteps(this.ctx, selector, now));
    if (ids.length > 0) this.notify();
    return ids;
  }

  async prune(before: number, options: PruneOptions = {}): Promise<{ events: number; skipped?: boolean }> {
    let total = 0;
    for (let chunk = 0; ; chunk++) {
      const now = chunk === 0 ? Date.now() : undefined;
      const n = await this.engine.write(() => pruneSteps(this.ctx, before, options.dead === true, now));
      // Another instance holds the prune lock: it is doing (or finishing) this work.
      if (n === null) return chunk === 0 ? { events: 0, skipped: true } : { events: total };
      total += n;
      if (n < CHUNK) return { events: total };
    }
  }

  async closeCircuits(deliveryIds: number[], now: number): Promise<string[]> {
    if (deliveryIds.length === 0) return [];
    return this.engine.write(() => closeCircuitsSteps(this.ctx, deliveryIds, now));
  }

  async saveCircuit(c: SharedCircuit, now: number): Promise<void> {
    const row = { target: c.target, open_until: c.openUntil, failures: c.failures, updated_at: now };
    const query = this.ctx.db
      .insertInto('circuits')
      .values(row)
      .onConflict((oc) => oc.column('target').doUpdateSet({ open_until: row.open_until, failures: row.failures, updated_at: now }));
    await this.engine.write(function* () {
      yield* exec(query);
    });
  }

  activity(query: ActivityQuery): Promise<Activity> {
    return this.engine.read(() => activitySteps(this.ctx.db, query, this.ctx.dialect));
  }

  openCircuits(now: number): Promise<SharedCircuit[]> {
    const query = this.ctx.db.selectFrom('circuits').select(['target', 'open_until', 'failures']).where('open_until', '>', now);
    return this.engine.read(function* () {
      const rows = yield* all(query);
      return rows.map((r) => ({ target: r.target, openUntil: r.open_until, failures: r.failures }));
    });
  }

  onWake(listener: () => void): () => void {
    this.listeners.add(listener);
    const stop = this.engine.listen(listener);
    return () => {
      this.listeners.delete(listener);
      stop();
    };
  }

  notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // A listener's failure is its own; the commit stands.
      }
    }
    this.engine.broadcast();
  }

  stats(): StoreStats {
    return { ...this.counters };
  }

  async ping(timeoutMs?: number): Promise<void> {
    await this.engine.ping(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.ingests.idle(), this.finishes.idle()]);
    this.listeners.clear();
    await this.engine.close();
  }
}
