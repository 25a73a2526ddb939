// What the admin API, the CLI and the dashboard read: event lists, one
// event with its deliveries and attempts, and the queue's counters.

import { sql } from 'kysely';

import { isGlob, isMatchAll, globRegExpSource } from '../match/glob.js';
import { all, first, type Step } from './engine.js';
import { chunks, toStoredEvent, type StoreContext } from './queries.js';
import type { AttemptRecord, DeliveryDetail, EventDetail, EventFilter, EventSummary, StoredEvent } from './store.js';

const MAX_LIST = 1000;
const DEFAULT_LIST = 50;

export function* listEventsSteps(ctx: StoreContext, filter: EventFilter): Step<EventSummary[]> {
  const limit = Math.min(Math.max(1, Math.floor(filter.limit ?? DEFAULT_LIST)), MAX_LIST);
  let query = ctx.db
    .selectFrom('events')
    .select([
      'seq',
      'event_id',
      'source',
      'type',
      'received_at',
      'status',
      'matched',
      sql<number>`(select count(*) from deliveries d where d.event_seq = events.seq)
        + (select count(*) from batch_members m where m.event_seq = events.seq)`.as('deliveries'),
    ])
    .orderBy('seq', 'desc')
    .limit(limit);
  if (filter.status !== undefined) query = query.where('status', '=', filter.status);
  if (filter.source !== undefined) query = query.where('source', '=', filter.source);
  if (filter.type !== undefined && !isGlob(filter.type)) query = query.where('type', '=', filter.type);
  else if (filter.type !== undefined && !isMatchAll(filter.type)) {
    // A glob, with the semantics of a rule's `on:`: its literal prefix as a
    // LIKE (cheap, and index-friendly), then the exact pattern as a regex.
    const prefix = filter.type.slice(0, filter.type.indexOf('*'));
    if (prefix !== '') query = query.where(sql<boolean>`type like ${`${prefix.replace(/[\\%_]/g, '\\$&')}%`} escape '\\'`);
    const pattern = `^(?:${globRegExpSource(filter.type)})$`;
    query = query.where(ctx.dialect === 'postgres' ? sql<boolean>`type ~ ${pattern}` : sql<boolean>`type regexp ${pattern}`);
  }
  if (filter.since !== undefined) query = query.where('received_at', '>=', filter.since);
  if (filter.until !== undefined) query = query.where('received_at', '<', filter.until);
  if (filter.before !== undefined) query = query.where('seq', '<', filter.before);
  const rows = yield* all(query);
  return rows.map((r) => ({
    seq: r.seq,
    id: r.event_id,
    source: r.source,
    type: r.type,
    receivedAt: r.received_at,
    status: r.status,
    matched: JSON.parse(r.matched) as string[],
    deliveries: Number(r.deliveries),
  }));
}

/** Oldest first from a seq, on the primary key: cheap however long the log is. */
export function* eventsAfterSteps(ctx: StoreContext, after: number, limit: number): Step<StoredEvent[]> {
  const rows = yield* all(
    ctx.db
      .selectFrom('events')
      .select(['seq', 'event_id', 'source', 'type', 'received_at', 'headers', 'body', 'matched', 'trace'])
      .where('seq', '>', after)
      .orderBy('seq', 'asc')
      .limit(Math.min(Math.max(1, Math.floor(limit)), MAX_LIST)),
  );
  return rows.map(toStoredEvent);
}

export function* lastSeqSteps(ctx: StoreContext): Step<number> {
  const query = ctx.db.selectFrom('events').select((eb) => eb.fn.max('seq').as('seq'));
  return Number((yield* first(query))?.seq ?? 0);
}

export function* eventDetailSteps(ctx: StoreContext, idOrSeq: string): Step<EventDetail | null> {
  const row = yield* findEvent(eventRows(ctx), idOrSeq);
  if (row === undefined) return null;

  const deliveries = (yield* deliveriesOfSteps(ctx, [row.seq])).get(row.seq) ?? [];
  return { ...toStoredEvent(row), status: row.status, deliveries };
}

/**
 * The deliveries (with their attempts) of these events, by seq: three
 * queries on the deliveries_event, batch_members_event and attempts_delivery
 * indexes however many events, so a page of dead letters is not a lookup per
 * event. A batch delivery is listed under each of its member events.
 */
export function* deliveriesOfSteps(ctx: StoreContext, seqs: readonly number[]): Step<Map<number, DeliveryDetail[]>> {
  const db = ctx.db;
  const out = new Map<number, DeliveryDetail[]>();
  const columns = ['d.id', 'd.rule', 'd.action', 'd.target', 'd.status', 'd.next_at', 'd.last_error'] as const;
  const rows: Array<{ seq: number; id: number; rule: string; action: string; target: string; status: DeliveryDetail['status']; next_at: number | null; last_error: string | null }> = [];
  for (const chunk of chunks([...new Set(seqs)])) {
    const part = yield* all(
      db
        .selectFrom('deliveries as d')
        .select([...columns, sql<number>`d.event_seq`.as('seq')])
        .where('d.event_seq', 'in', chunk)
        .unionAll(
          db
            .selectFrom('batch_members as m')
            .innerJoin('deliveries as d', 'd.id', 'm.delivery_id')
            .select([...columns, sql<number>`m.event_seq`.as('seq')])
            .where('m.event_seq', 'in', chunk),
        )
        .orderBy('id'),
    );
    rows.push(...part.map((r) => ({ ...r, seq: Number(r.seq) })));
  }
  const attempts = new Map<number, AttemptRecord[]>();
  for (const chunk of chunks([...new Set(rows.map((d) => d.id))])) {
    const found = yield* all(db.selectFrom('attempts').selectAll().where('delivery_id', 'in', chunk).orderBy('id'));
    for (const a of found) {
      const list = attempts.get(a.delivery_id) ?? [];
      const record: AttemptRecord = { startedAt: a.started_at, durationMs: a.duration_ms, outcome: a.outcome };
      if (a.status !== null) record.status = a.status;
      if (a.error !== null) record.error = a.error;
      if (a.response !== null) record.response = JSON.parse(a.response) as AttemptRecord['response'];
      if (a.request !== null) record.request = JSON.parse(a.request) as AttemptRecord['request'];
      list.push(record);
      attempts.set(a.delivery_id, list);
    }
  }
  // Ordered by delivery id within each event, as the union's chunks are.
  rows.sort((a, b) => a.id - b.id);
  for (const d of rows) {
    const list = out.get(d.seq) ?? [];
    list.push({ id: d.id, rule: d.rule, action: d.action, target: d.target, status: d.status, attempts: attempts.get(d.id) ?? [], nextAt: d.next_at, lastError: d.last_error });
    out.set(d.seq, list);
  }
  return out;
}

/** Deliveries not yet delivered or dead. */
export function* backlogSteps(ctx: StoreContext): Step<number> {
  const query = ctx.db
    .selectFrom('deliveries')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('next_at', 'is not', null);
  return Number((yield* first(query))?.n ?? 0);
}

/** Events holding a dead delivery, counted on the events status index. */
export function* deadCountSteps(ctx: StoreContext): Step<number> {
  const query = ctx.db
    .selectFrom('events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('status', '=', 'dead');
  return Number((yield* first(query))?.n ?? 0);
}

export function* nextDueAtSteps(ctx: StoreContext): Step<number | null> {
  const query = ctx.db.selectFrom('deliveries').select((eb) => eb.fn.min('next_at').as('t'));
  return (yield* first(query))?.t ?? null;
}

const eventRows = (ctx: StoreContext) =>
  ctx.db.selectFrom('events').select(['seq', 'event_id', 'source', 'type', 'received_at', 'headers', 'body', 'matched', 'status']);
type EventRows = ReturnType<typeof eventRows>;
type EventRow = Awaited<ReturnType<EventRows['executeTakeFirstOrThrow']>>;

/**
 * How an event is addressed (each form on an index):
 * - `#N`: the event with seq N, whatever ids look like numbers;
 * - `SOURCE/ID`: that source's event ID, so one id in two sources is not confused;
 * - `ID`: the newest event with that provider id; then, for digits, seq N;
 *   then the one event whose id starts with it (a prefix, as git takes one).
 */
function* findEvent(events: EventRows, ref: string): Step<EventRow | undefined> {
  const seqRef = /^#(\d+)$/.exec(ref);
  if (seqRef) return yield* first(events.where('seq', '=', Number(seqRef[1])));
  const slash = ref.indexOf('/');
  if (slash > 0) {
    const pair = yield* first(events.where('source', '=', ref.slice(0, slash)).where('event_id', '=', ref.slice(slash + 1)).orderBy('seq', 'desc').limit(1));
    if (pair !== undefined) return pair;
  }
  const exact = yield* first(events.where('event_id', '=', ref).orderBy('seq', 'desc').limit(1));
  if (exact !== undefined) return exact;
  if (/^\d+$/.test(ref) && Number.isSafeInteger(Number(ref))) {
    const bySeq = yield* first(events.where('seq', '=', Number(ref)));
    if (bySeq !== undefined) return bySeq;
  }
  if (ref.length < 4) return undefined;
  // A range on the (event_id, seq) index; '\uffff' sorts after any character an id holds.
  const prefixed = yield* all(events.where('event_id', '>=', ref).where('event_id', '<', `${ref}\uffff`).orderBy('event_id').limit(2));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}
