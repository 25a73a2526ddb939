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

import { sql, type Kysely } from 'kysely';

import { all, exec, first, raw, type Engine, type Step } from './engine.js';
import { GroupCommit } from './group-commit.js';
import { activitySteps } from './activity.js';
import { migrate } from './migrations.js';
import {
  CHUNK,
  chunks,
  derivedStatus,
  finishBulk,
  hotQueries,
  insertDeliveriesBulk,
  insertEventsBulk,
  toStoredEvent,
  type EventParams,
  type EventRow,
  type FinishParams,
  type HotQueries,
  type SingleDelivery,
} from './queries.js';
import type { Database } from './schema.js';
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
  IngestOutcome,
  MigrationResult,
  NewEvent,
  PlannedDelivery,
  PruneOptions,
  ReplaySelector,
  SharedCircuit,
  Store,
  StoreStats,
  StoredEvent,
} from './store.js';

const MAX_LIST = 1000;
const DEFAULT_LIST = 50;

// SQLite's claim (see claimSqlite): fixed texts, so each is prepared once.
const SQLITE_DUE_BASE = `select id from deliveries where next_at <= ? and status in ('pending', 'failed')`;
const SQLITE_DUE = `${SQLITE_DUE_BASE} order by next_at limit ?`;
const SQLITE_DUE_SKIP = `${SQLITE_DUE_BASE} and target not in (select value from json_each(?)) order by next_at limit ?`;
const SQLITE_CLAIM_ONE = `update deliveries set claimed_by = ?, lease_until = ?, next_at = ?, batch_open = null, updated_at = ?
  where id = ? returning id, rule, action, target, attempts, event_seq`;
const EVENT_COLUMNS = 'e.seq, e.event_id, e.source, e.type, e.received_at, e.headers, e.body, e.matched';
const SQLITE_EVENT = `select ${EVENT_COLUMNS} from events e where e.seq = ?`;
const SQLITE_BATCH_EVENTS = `select ${EVENT_COLUMNS} from batch_members m join events e on e.seq = m.event_seq
  where m.delivery_id = ? order by e.seq`;

interface ClaimedRow {
  id: number;
  rule: string;
  action: string;
  target: string;
  attempts: number;
  event_seq: number | null;
}

interface IngestItem {
  event: EventParams;
  deliveries: PlannedDelivery[];
}

export class SqlStore implements Store {
  readonly driver: 'sqlite' | 'postgres';
  private readonly db: Kysely<Database>;
  private readonly q: HotQueries;
  private readonly listeners = new Set<() => void>();
  private readonly counters: StoreStats = {
    ingestTransactions: 0,
    ingestedEvents: 0,
    duplicates: 0,
    finishTransactions: 0,
  };
  private readonly ingests = new GroupCommit<IngestItem, IngestOutcome>((items) => this.flushIngest(items));
  private readonly finishes = new GroupCommit<FinishParams, void>((items) => this.flushFinish(items));
  private closed = false;

  constructor(private readonly engine: Engine) {
    this.driver = engine.dialect;
    this.db = engine.db;
    this.q = hotQueries(engine.db);
  }

  migrate(): Promise<MigrationResult> {
    return this.engine.write(() => migrate(this.engine.dialect, this.engine.schema, Date.now()));
  }

  ingest(event: NewEvent, deliveries: PlannedDelivery[]): Promise<IngestOutcome> {
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
        status: deliveries.length > 0 ? 'pending' : 'unmatched',
      },
      deliveries,
    });
  }

  private async flushIngest(items: IngestItem[]): Promise<IngestOutcome[]> {
    const outcomes = await this.engine.write(() => this.ingestSteps(items));
    this.counters.ingestTransactions++;
    let queued = false;
    outcomes.forEach((o, i) => {
      if (o.status === 'duplicate') this.counters.duplicates++;
      else {
        this.counters.ingestedEvents++;
        if ((items[i]?.deliveries.length ?? 0) > 0) queued = true;
      }
    });
    if (queued) this.notify();
    return outcomes;
  }

  private *ingestSteps(items: IngestItem[]): Step<IngestOutcome[]> {
    const seqs =
      this.engine.dialect === 'postgres'
        ? yield* insertEventsBulk(items.map((i) => i.event))
        : yield* this.insertEventsEach(items);
    const singles: SingleDelivery[] = [];
    const outcomes: IngestOutcome[] = [];
    for (const [i, { event, deliveries }] of items.entries()) {
      const seq = seqs[i];
      if (seq === undefined) {
        outcomes.push({ status: 'duplicate', id: event.id });
        continue;
      }
      const now = event.receivedAt;
      for (const d of deliveries) {
        if (d.batch === undefined) singles.push({ seq, rule: d.rule, action: d.action, target: d.target, now });
        else yield* this.joinBatch(seq, d, d.batch, now);
      }
      outcomes.push({ status: 'accepted', id: event.id });
    }
    if (this.engine.dialect === 'postgres') yield* insertDeliveriesBulk(singles);
    else for (const d of singles) yield* exec(this.q.insertDelivery.bind(d));
    return outcomes;
  }

  /** The seq of each inserted event; undefined for a duplicate. */
  private *insertEventsEach(items: IngestItem[]): Step<Array<number | undefined>> {
    const seqs: Array<number | undefined> = [];
    // A conflict on (source, event_id), also with an earlier item of this
    // very group, inserts nothing and returns no row.
    for (const { event } of items) seqs.push((yield* first(this.q.insertEvent.bind(event)))?.seq);
    return seqs;
  }

  private *joinBatch(
    seq: number,
    d: PlannedDelivery,
    batch: NonNullable<PlannedDelivery['batch']>,
    now: number,
  ): Step<void> {
    const q = this.q;
    const max = Math.max(1, Math.floor(batch.max));
    const key = { rule: d.rule, action: d.action, key: batch.key, now };
    // Bounded: each lost race means another instance opened a batch we can join.
    for (let tries = 0; tries < 3; tries++) {
      let id = (yield* first(q.joinBatch.bind({ ...key, lastSlot: max - 1 })))?.id;
      if (id === undefined) {
        yield* exec(q.closeStaleBatch.bind(key));
        const full = max === 1;
        id = (yield* first(
          q.openBatch.bind({
            ...key,
            target: d.target,
            open: full ? null : 1,
            dueAt: full ? now : now + batch.windowMs,
            closesAt: now + batch.windowMs,
          }),
        ))?.id;
      }
      if (id !== undefined) {
        yield* exec(q.addMember.bind({ id, seq }));
        return;
      }
    }
    throw new Error(`could not form a batch for ${d.rule}/${d.action} key ${batch.key}`);
  }

  async claim(options: ClaimOptions): Promise<ClaimedDelivery[]> {
    if (options.limit <= 0) return [];
    if (this.engine.dialect === 'sqlite') return this.engine.write(() => this.claimSqlite(options));
    const rows = await this.engine.write(() => this.claimSteps(options));
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    // Read after commit: events never change, and a leased delivery's events
    // are not pruned, so this need not hold the write lock.
    const eventRows = await this.engine.read(() => this.eventsOf(ids));
    const byDelivery = new Map<number, StoredEvent[]>();
    for (const row of eventRows) {
      const list = byDelivery.get(row.delivery_id) ?? [];
      list.push(toStoredEvent(row));
      byDelivery.set(row.delivery_id, list);
    }
    return rows.map((r) => ({
      id: r.id,
      rule: r.rule,
      action: r.action,
      target: r.target,
      attempts: r.attempts,
      events: byDelivery.get(r.id) ?? [],
    }));
  }

  /**
   * SQLite: one transaction and fixed statement texts (prepared once). The
   * events are read in the claiming transaction, which on SQLite costs less
   * than a second transaction; nothing else runs while it does (see engine.ts).
   */
  private *claimSqlite(o: ClaimOptions): Step<ClaimedDelivery[]> {
    const skip = o.skipTargets !== undefined && o.skipTargets.length > 0 ? JSON.stringify(o.skipTargets) : null;
    const due = yield* all(
      skip === null
        ? raw<{ id: number }>(SQLITE_DUE, [o.now, o.limit])
        : raw<{ id: number }>(SQLITE_DUE_SKIP, [o.now, skip, o.limit]),
    );
    if (due.length === 0) return [];
    const leaseEnd = o.now + o.leaseMs;
    const out: ClaimedDelivery[] = [];
    for (const { id } of due) {
      const row = yield* first(raw<ClaimedRow>(SQLITE_CLAIM_ONE, [o.worker, leaseEnd, leaseEnd, o.now, id]));
      if (row === undefined) continue;
      const events =
        row.event_seq !== null
          ? yield* all(raw<EventRow>(SQLITE_EVENT, [row.event_seq]))
          : yield* all(raw<EventRow>(SQLITE_BATCH_EVENTS, [row.id]));
      out.push({
        id: row.id,
        rule: row.rule,
        action: row.action,
        target: row.target,
        attempts: row.attempts,
        events: events.map(toStoredEvent),
      });
    }
    return out;
  }

  private *claimSteps(o: ClaimOptions) {
    const db = this.db;
    let due = db
      .selectFrom('deliveries')
      .select('id')
      .where('next_at', '<=', o.now)
      .where('status', 'in', ['pending', 'failed'])
      .orderBy('next_at')
      .limit(o.limit);
    if (o.skipTargets !== undefined && o.skipTargets.length > 0) {
      due = due.where('target', 'not in', [...o.skipTargets]);
    }
    // SQLite needs nothing more: BEGIN IMMEDIATE already excludes every
    // other writer, in this process or another.
    if (this.engine.dialect === 'postgres') due = due.forUpdate().skipLocked();
    const ids = (yield* all(due)).map((r) => r.id);
    if (ids.length === 0) return [];
    const leaseEnd = o.now + o.leaseMs;
    const claimed = yield* all(
      db
        .updateTable('deliveries')
        .set({ claimed_by: o.worker, lease_until: leaseEnd, next_at: leaseEnd, batch_open: null, updated_at: o.now })
        .where('id', 'in', ids)
        .returning(['id', 'rule', 'action', 'target', 'attempts']),
    );
    const order = new Map(ids.map((id, i) => [id, i]));
    return claimed.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  }

  private *eventsOf(ids: number[]) {
    const db = this.db;
    const columns = [
      'e.seq',
      'e.event_id',
      'e.source',
      'e.type',
      'e.received_at',
      'e.headers',
      'e.body',
      'e.matched',
    ] as const;
    const out: Array<EventRow & { delivery_id: number }> = [];
    for (const chunk of chunks(ids)) {
      const single = db
        .selectFrom('deliveries as d')
        .innerJoin('events as e', 'e.seq', 'd.event_seq')
        .select(['d.id as delivery_id', ...columns])
        .where('d.id', 'in', chunk);
      const batched = db
        .selectFrom('batch_members as m')
        .innerJoin('events as e', 'e.seq', 'm.event_seq')
        .select(['m.delivery_id', ...columns])
        .where('m.delivery_id', 'in', chunk);
      out.push(...(yield* all(single.unionAll(batched).orderBy('delivery_id').orderBy('seq'))));
    }
    return out;
  }

  finish(deliveryId: number, attempt: AttemptRecord, next: DeliveryNext): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    return this.finishes.submit({
      id: deliveryId,
      status: next.status,
      nextAt: next.status === 'failed' ? next.nextAt : null,
      error: attempt.error ?? null,
      now: Date.now(),
      startedAt: attempt.startedAt,
      durationMs: Math.round(attempt.durationMs),
      outcome: attempt.outcome,
      httpStatus: attempt.status ?? null,
    });
  }

  private async flushFinish(items: FinishParams[]): Promise<void[]> {
    await this.engine.write(() => this.finishSteps(items));
    this.counters.finishTransactions++;
    return items.map(() => undefined);
  }

  private *finishSteps(items: FinishParams[]): Step<void> {
    if (this.engine.dialect === 'postgres') {
      yield* this.refreshEvents(yield* finishBulk(items));
      return;
    }
    const q = this.q;
    for (const f of items) {
      const row = yield* first(q.finish.bind(f));
      // An unknown id (its event pruned by an operator meanwhile): nothing to record.
      if (row === undefined) continue;
      yield* exec(q.addAttempt.bind({ ...f, n: row.attempts }));
      if (row.event_seq !== null) yield* exec(q.refreshSeq.bind({ seq: row.event_seq }));
      else yield* exec(q.refreshOne.bind(f));
    }
  }

  async release(deliveryIds: readonly number[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    const changed = await this.engine.write(() => this.releaseSteps(deliveryIds, Date.now()));
    if (changed > 0) this.notify();
  }

  async recover(workerPrefix: string): Promise<number> {
    const changed = await this.engine.write(() => this.recoverSteps(workerPrefix, Date.now()));
    if (changed > 0) this.notify();
    return changed;
  }

  private *recoverSteps(workerPrefix: string, now: number): Step<number> {
    return yield* exec(
      this.db
        .updateTable('deliveries')
        .set({ lease_until: null, claimed_by: null, next_at: now, updated_at: now })
        .where('lease_until', 'is not', null)
        .where('claimed_by', 'like', `${workerPrefix.replace(/[%_\\]/g, '')}%`),
    );
  }

  private *releaseSteps(deliveryIds: readonly number[], now: number): Step<number> {
    let changed = 0;
    for (const chunk of chunks(deliveryIds)) {
      changed += yield* exec(
        this.db
          .updateTable('deliveries')
          .set({ lease_until: null, claimed_by: null, next_at: now, updated_at: now })
          .where('id', 'in', chunk)
          .where('lease_until', 'is not', null)
          .where('next_at', 'is not', null),
      );
    }
    return changed;
  }

  backlog(): Promise<number> {
    const query = this.db
      .selectFrom('deliveries')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('next_at', 'is not', null);
    return this.engine.read(function* () {
      return Number((yield* first(query))?.n ?? 0);
    });
  }

  deadCount(): Promise<number> {
    const query = this.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', 'dead');
    return this.engine.read(function* () {
      return Number((yield* first(query))?.n ?? 0);
    });
  }

  nextDueAt(): Promise<number | null> {
    const query = this.db.selectFrom('deliveries').select((eb) => eb.fn.min('next_at').as('t'));
    return this.engine.read(function* () {
      return (yield* first(query))?.t ?? null;
    });
  }

  listEvents(filter: EventFilter): Promise<EventSummary[]> {
    const limit = Math.min(Math.max(1, Math.floor(filter.limit ?? DEFAULT_LIST)), MAX_LIST);
    let query = this.db
      .selectFrom('events')
      .select([
        'seq',
        'event_id',
        'source',
        'type',
        'received_at',
        'status',
        sql<number>`(select count(*) from deliveries d where d.event_seq = events.seq)
          + (select count(*) from batch_members m where m.event_seq = events.seq)`.as('deliveries'),
      ])
      .orderBy('seq', 'desc')
      .limit(limit);
    if (filter.status !== undefined) query = query.where('status', '=', filter.status);
    if (filter.source !== undefined) query = query.where('source', '=', filter.source);
    if (filter.type !== undefined) query = query.where('type', '=', filter.type);
    if (filter.since !== undefined) query = query.where('received_at', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('received_at', '<', filter.until);
    if (filter.before !== undefined) query = query.where('seq', '<', filter.before);
    return this.engine.read(function* () {
      const rows = yield* all(query);
      return rows.map((r) => ({
        seq: r.seq,
        id: r.event_id,
        source: r.source,
        type: r.type,
        receivedAt: r.received_at,
        status: r.status,
        deliveries: Number(r.deliveries),
      }));
    });
  }

  getEvent(idOrSeq: string): Promise<EventDetail | null> {
    return this.engine.read(() => this.eventDetail(idOrSeq));
  }

  private *eventDetail(idOrSeq: string): Step<EventDetail | null> {
    const db = this.db;
    const events = db
      .selectFrom('events')
      .select(['seq', 'event_id', 'source', 'type', 'received_at', 'headers', 'body', 'matched', 'status']);
    let row = yield* first(events.where('event_id', '=', idOrSeq).orderBy('seq', 'desc').limit(1));
    const seq = /^\d+$/.test(idOrSeq) ? Number(idOrSeq) : NaN;
    if (row === undefined && Number.isSafeInteger(seq)) row = yield* first(events.where('seq', '=', seq));
    if (row === undefined) return null;

    const columns = ['d.id', 'd.rule', 'd.action', 'd.target', 'd.status', 'd.next_at', 'd.last_error'] as const;
    const deliveries = yield* all(
      db
        .selectFrom('deliveries as d')
        .select(columns)
        .where('d.event_seq', '=', row.seq)
        .unionAll(
          db
            .selectFrom('batch_members as m')
            .innerJoin('deliveries as d', 'd.id', 'm.delivery_id')
            .select(columns)
            .where('m.event_seq', '=', row.seq),
        )
        .orderBy('id'),
    );
    const attempts = new Map<number, AttemptRecord[]>();
    for (const chunk of chunks(deliveries.map((d) => d.id))) {
      const rows = yield* all(
        db.selectFrom('attempts').selectAll().where('delivery_id', 'in', chunk).orderBy('id'),
      );
      for (const a of rows) {
        const list = attempts.get(a.delivery_id) ?? [];
        const record: AttemptRecord = { startedAt: a.started_at, durationMs: a.duration_ms, outcome: a.outcome };
        if (a.status !== null) record.status = a.status;
        if (a.error !== null) record.error = a.error;
        list.push(record);
        attempts.set(a.delivery_id, list);
      }
    }
    return {
      ...toStoredEvent(row),
      status: row.status,
      deliveries: deliveries.map(
        (d): DeliveryDetail => ({
          id: d.id,
          rule: d.rule,
          action: d.action,
          target: d.target,
          status: d.status,
          attempts: attempts.get(d.id) ?? [],
          nextAt: d.next_at,
          lastError: d.last_error,
        }),
      ),
    };
  }

  async replay(selector: ReplaySelector): Promise<number[]> {
    const byEvent = (selector.ids !== undefined && selector.ids.length > 0) || selector.since !== undefined;
    if (!byEvent && selector.dead !== true) {
      // Never "replay everything" by accident.
      throw new RangeError('replay needs ids, dead or since');
    }
    const now = Date.now();
    const ids = await this.engine.write(() => this.replaySteps(selector, now));
    if (ids.length > 0) this.notify();
    return ids;
  }

  private *replaySteps(s: ReplaySelector, now: number): Step<number[]> {
    const db = this.db;
    const hasIds = s.ids !== undefined && s.ids.length > 0;
    let providerIds: string[] = [];
    let seqs: number[] = [];
    if (s.ids !== undefined && hasIds) {
      const known = new Set<string>();
      for (const chunk of chunks(s.ids)) {
        const rows = yield* all(db.selectFrom('events').select('event_id').where('event_id', 'in', chunk));
        for (const r of rows) known.add(r.event_id);
      }
      providerIds = s.ids.filter((id) => known.has(id));
      seqs = s.ids
        .filter((id) => !known.has(id) && /^\d+$/.test(id))
        .map(Number)
        .filter(Number.isSafeInteger);
      if (providerIds.length === 0 && seqs.length === 0) return [];
    }

    const conditions = [sql`(d.lease_until is null or d.lease_until <= ${now})`];
    if (s.dead === true) conditions.push(sql`d.status = 'dead'`);
    if (s.rule !== undefined) conditions.push(sql`d.rule = ${s.rule}`);
    if (s.action !== undefined) conditions.push(sql`d.action = ${s.action}`);
    const filter = sql<boolean>`${sql.join(conditions, sql` and `)}`;

    let candidates;
    if (hasIds || s.since !== undefined) {
      const events = db
        .selectFrom('events')
        .select('seq')
        .where((eb) => {
          const terms = [];
          if (hasIds) {
            const byId = [];
            if (providerIds.length > 0) byId.push(eb('event_id', 'in', providerIds));
            if (seqs.length > 0) byId.push(eb('seq', 'in', seqs));
            terms.push(eb.or(byId));
          }
          if (s.since !== undefined) terms.push(eb('received_at', '>=', s.since));
          return eb.and(terms);
        });
      candidates = db
        .selectFrom('deliveries as d')
        .select('d.id')
        .where('d.event_seq', 'in', events)
        .where(filter)
        .union(
          db
            .selectFrom('batch_members as m')
            .innerJoin('deliveries as d', 'd.id', 'm.delivery_id')
            .select('d.id')
            .where('m.event_seq', 'in', events)
            .where(filter),
        );
    } else {
      candidates = db.selectFrom('deliveries as d').select('d.id').where(filter);
    }
    const ids = [...new Set((yield* all(candidates)).map((r) => r.id))].sort((a, b) => a - b);
    for (const chunk of chunks(ids)) {
      yield* exec(
        db
          .updateTable('deliveries')
          .set({
            status: 'pending',
            attempts: 0,
            next_at: now,
            lease_until: null,
            claimed_by: null,
            batch_open: null,
            updated_at: now,
          })
          .where('id', 'in', chunk),
      );
    }
    yield* this.refreshEvents(yield* this.eventsOfDeliveries(ids));
    return ids;
  }

  /** The seqs of the events these deliveries belong to. */
  private *eventsOfDeliveries(deliveryIds: number[]): Step<number[]> {
    const seqs = new Set<number>();
    for (const chunk of chunks(deliveryIds)) {
      const rows = yield* all(
        this.db
          .selectFrom('deliveries')
          .select('event_seq as seq')
          .where('id', 'in', chunk)
          .where('event_seq', 'is not', null)
          .union(this.db.selectFrom('batch_members').select('event_seq as seq').where('delivery_id', 'in', chunk)),
      );
      for (const r of rows) if (r.seq !== null) seqs.add(r.seq);
    }
    return [...seqs];
  }

  private *refreshEvents(seqs: number[]): Step<void> {
    for (const chunk of chunks(seqs)) {
      yield* exec(this.db.updateTable('events').set({ status: derivedStatus }).where('seq', 'in', chunk));
    }
  }

  async prune(before: number, options: PruneOptions = {}): Promise<{ events: number; skipped?: boolean }> {
    let total = 0;
    for (let chunk = 0; ; chunk++) {
      const n = await this.engine.write(() => this.pruneSteps(before, options.dead === true, chunk === 0 ? Date.now() : undefined));
      // Another instance holds the prune lock: it is doing (or finishing) this work.
      if (n === null) return chunk === 0 ? { events: 0, skipped: true } : { events: total };
      total += n;
      if (n < CHUNK) return { events: total };
    }
  }

  /** One chunk; null when another instance is pruning. `now` also clears expired rate-limit counters. */
  private *pruneSteps(before: number, dead: boolean, now: number | undefined): Step<number | null> {
    const db = this.db;
    if (this.engine.dialect === 'postgres') {
      // Transaction-scoped, so a crashed pruner can never leave it held. Per
      // chunk, so a long prune does not hold one transaction open.
      const lock = yield* first(
        raw<{ locked: boolean }>(`select pg_try_advisory_xact_lock(hashtext($1)) as locked`, [
          `relay:prune:${this.engine.schema ?? ''}`,
        ]),
      );
      if (lock?.locked !== true) return null;
      // The library only resets an expired counter when its key comes back; without this
      // one row per client address would stay forever.
      if (now !== undefined) yield* exec(db.deleteFrom('rate_limits').where('expire', '<', now));
    }
    // No delivery of the event still queued.
    const queued = sql<boolean>`not exists (select 1 from deliveries d
        where d.event_seq = events.seq and d.next_at is not null)
      and not exists (select 1 from batch_members m join deliveries d on d.id = m.delivery_id
        where m.event_seq = events.seq and d.next_at is not null)`;
    const rows = yield* all(
      db
        .selectFrom('events')
        .select('seq')
        .where('received_at', '<', before)
        .where((eb) =>
          dead
            ? eb.or([eb('status', 'in', ['delivered', 'unmatched']), eb.and([eb('status', '=', 'dead'), queued])])
            : eb('status', 'in', ['delivered', 'unmatched']),
        )
        .orderBy('seq')
        .limit(CHUNK),
    );
    const seqs = rows.map((r) => r.seq);
    if (seqs.length === 0) return 0;
    const singles = (yield* all(db.selectFrom('deliveries').select('id').where('event_seq', 'in', seqs))).map((r) => r.id);
    const batches = (yield* all(
      db.deleteFrom('batch_members').where('event_seq', 'in', seqs).returning('delivery_id'),
    )).map((r) => r.delivery_id);
    // A batch goes with its last member.
    const emptied =
      batches.length === 0
        ? []
        : (yield* all(
            db
              .selectFrom('deliveries as d')
              .select('d.id')
              .where('d.id', 'in', [...new Set(batches)])
              .where((eb) =>
                eb.not(
                  eb.exists(
                    eb.selectFrom('batch_members as m').select('m.event_seq').whereRef('m.delivery_id', '=', 'd.id'),
                  ),
                ),
              ),
          )).map((r) => r.id);
    const gone = [...singles, ...emptied];
    for (const chunk of chunks(gone)) {
      yield* exec(db.deleteFrom('attempts').where('delivery_id', 'in', chunk));
      yield* exec(db.deleteFrom('deliveries').where('id', 'in', chunk));
    }
    yield* exec(db.deleteFrom('events').where('seq', 'in', seqs));
    return seqs.length;
  }

  async saveCircuit(c: SharedCircuit, now: number): Promise<void> {
    const row = { target: c.target, open_until: c.openUntil, failures: c.failures, updated_at: now };
    const query = this.db
      .insertInto('circuits')
      .values(row)
      .onConflict((oc) => oc.column('target').doUpdateSet({ open_until: row.open_until, failures: row.failures, updated_at: now }));
    await this.engine.write(function* () {
      yield* exec(query);
    });
  }

  activity(query: ActivityQuery): Promise<Activity> {
    return this.engine.read(() => activitySteps(this.db, query));
  }

  openCircuits(now: number): Promise<SharedCircuit[]> {
    const query = this.db.selectFrom('circuits').select(['target', 'open_until', 'failures']).where('open_until', '>', now);
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

  async ping(): Promise<void> {
    await this.engine.ping();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.ingests.idle(), this.finishes.idle()]);
    this.listeners.clear();
    await this.engine.close();
  }
}
