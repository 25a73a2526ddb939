// The SQL shared by the store's operations: the derived event status, the
// hot-path statements compiled once, and PostgreSQL's bulk inserts.

import { sql, type Kysely } from 'kysely';

import type { Headers } from '../event.js';
import { all, exec, Prepared, raw, statementName, type Dialect, type Step } from './engine.js';
import { columnsOf } from './bulk.js';
import type { Database } from './schema.js';
import type { AttemptRecord, DeliveryStatus, EventStatus, StoredEvent } from './store.js';

// Keeps IN lists and transactions bounded (SQLite and pg parameter limits,
// lock hold times).
export const CHUNK = 500;

export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

// Worst delivery status wins; no deliveries at all means unmatched, or off
// when rules matched but all their actions were disabled.
const rank = sql`case d.status when 'dead' then 3 when 'failed' then 2 when 'pending' then 1 else 0 end`;
export const derivedStatus = sql<EventStatus>`coalesce((
  select case max(r) when 3 then 'dead' when 2 then 'failed' when 1 then 'pending' when 0 then 'delivered' end
  from (
    select ${rank} as r from deliveries d where d.event_seq = events.seq
    union all
    select ${rank} as r from batch_members m join deliveries d on d.id = m.delivery_id where m.event_seq = events.seq
  ) ranks
), case when events.matched = '[]' then 'unmatched' else 'off' end)`;

export interface EventParams {
  source: string;
  id: string;
  type: string;
  receivedAt: number;
  headers: string;
  body: Buffer;
  matched: string;
  status: EventStatus;
  trace: string | null;
}



export interface EventRow {
  seq: number;
  event_id: string;
  source: string;
  type: string;
  received_at: number;
  headers: string;
  body: Buffer;
  matched: string;
  /** Absent where a read does not select it (the event list). */
  trace?: string | null;
}

export function toStoredEvent(row: EventRow): StoredEvent {
  return {
    seq: row.seq,
    id: row.event_id,
    source: row.source,
    type: row.type,
    receivedAt: row.received_at,
    headers: JSON.parse(row.headers) as Headers,
    rawBody: Buffer.isBuffer(row.body) ? row.body : Buffer.from(row.body),
    matched: JSON.parse(row.matched) as string[],
    ...(row.trace != null && { trace: row.trace }),
  };
}

// The hot path (ingest, finish) runs these compiled once per store.
export function hotQueries(db: Kysely<Database>) {
  return {
    insertEvent: new Prepared<EventParams, { seq: number }>((p) =>
      db
        .insertInto('events')
        .values({
          source: p('source'),
          event_id: p('id'),
          type: p('type'),
          received_at: p('receivedAt'),
          headers: p('headers'),
          body: p('body'),
          matched: p('matched'),
          status: p('status'),
          trace: p('trace'),
        })
        .onConflict((oc) => oc.columns(['source', 'event_id']).doNothing())
        .returning('seq'),
    ),
    insertDelivery: new Prepared<{ seq: number; rule: string; action: string; target: string; now: number }, never>(
      (p) =>
        db.insertInto('deliveries').values({
          event_seq: p('seq'),
          rule: p('rule'),
          action: p('action'),
          target: p('target'),
          status: 'pending',
          next_at: p('now'),
          created_at: p('now'),
          updated_at: p('now'),
        }),
    ),
    // Planned at ingest for this process: inserted claimed, as claimSqlite
    // would leave it (generation 1: the first claim's), so no claim follows.
    insertLeasedDelivery: new Prepared<
      { seq: number; rule: string; action: string; target: string; now: number; worker: string; leaseUntil: number },
      { id: number; lease_generation: number }
    >((p) =>
      db
        .insertInto('deliveries')
        .values({
          event_seq: p('seq'),
          rule: p('rule'),
          action: p('action'),
          target: p('target'),
          status: 'pending',
          next_at: p('leaseUntil'),
          claimed_by: p('worker'),
          lease_until: p('leaseUntil'),
          lease_generation: 1,
          created_at: p('now'),
          updated_at: p('now'),
        })
        .returning(['id', 'lease_generation']),
    ),
    // Joins the open batch unless it is full or its window has passed. On
    // PostgreSQL the row lock serialises joiners and claimers, and the WHERE
    // is re-checked on the locked row, so a batch never exceeds max nor
    // gains members once claimed. `batch_open = 1` is a literal so that the
    // partial index applies.
    joinBatch: new Prepared<
      { rule: string; action: string; key: string; now: number; lastSlot: number },
      { id: number }
    >((p) =>
      db
        .updateTable('deliveries')
        .set((eb) => ({
          batch_size: eb('batch_size', '+', 1),
          batch_open: sql<number | null>`case when batch_size >= ${p('lastSlot')} then null else 1 end`,
          next_at: sql<number | null>`case when batch_size >= ${p('lastSlot')} then ${p('now')} else next_at end`,
          updated_at: p('now'),
        }))
        .where('rule', '=', p('rule'))
        .where('action', '=', p('action'))
        .where('batch_key', '=', p('key'))
        .where(sql<boolean>`batch_open = 1`)
        .where('batch_closes_at', '>', p('now'))
        .returning('id'),
    ),
    // A batch whose window passed unclaimed (no worker running) stops taking
    // members, so the next event opens a new one.
    closeStaleBatch: new Prepared<{ rule: string; action: string; key: string; now: number }, never>((p) =>
      db
        .updateTable('deliveries')
        .set({ batch_open: null })
        .where('rule', '=', p('rule'))
        .where('action', '=', p('action'))
        .where('batch_key', '=', p('key'))
        .where(sql<boolean>`batch_open = 1`)
        .where('batch_closes_at', '<=', p('now')),
    ),
    // Loses to a batch another instance opened at the same moment: the
    // caller then joins that one.
    openBatch: new Prepared<
      {
        rule: string;
        action: string;
        target: string;
        key: string;
        now: number;
        open: number | null;
        dueAt: number;
        closesAt: number;
      },
      { id: number }
    >((p) =>
      db
        .insertInto('deliveries')
        .values({
          event_seq: null,
          rule: p('rule'),
          action: p('action'),
          target: p('target'),
          status: 'pending',
          next_at: p('dueAt'),
          batch_key: p('key'),
          batch_open: p('open'),
          batch_size: 1,
          batch_closes_at: p('closesAt'),
          created_at: p('now'),
          updated_at: p('now'),
        })
        .onConflict((oc) =>
          oc
            .columns(['rule', 'action', 'batch_key'])
            .where(sql<boolean>`batch_open = 1`)
            .doNothing(),
        )
        .returning('id'),
    ),
    addMember: new Prepared<{ id: number; seq: number }, never>((p) =>
      db.insertInto('batch_members').values({ delivery_id: p('id'), event_seq: p('seq') }),
    ),
    // Changes the row only while the claim's token (claimed_by, generation) holds.
    finish: new Prepared<
      Pick<FinishParams, 'id' | 'claimedBy' | 'generation' | 'status' | 'nextAt' | 'error' | 'now'>,
      { attempts: number; event_seq: number | null; rule: string; action: string }
    >((p) =>
      db
        .updateTable('deliveries')
        .set((eb) => ({
          attempts: eb('attempts', '+', 1),
          status: p('status'),
          next_at: p('nextAt'),
          lease_until: null,
          claimed_by: null,
          last_error: p('error'),
          updated_at: p('now'),
        }))
        .where('id', '=', p('id'))
        .where('claimed_by', '=', p('claimedBy'))
        .where('lease_generation', '=', p('generation'))
        // rule and action: what the attempt is counted under (rollup.ts).
        .returning(['attempts', 'event_seq', 'rule', 'action']),
    ),
    addAttempt: new Prepared<
      {
        id: number;
        n: number;
        startedAt: number;
        durationMs: number;
        outcome: AttemptRecord['outcome'];
        httpStatus: number | null;
        error: string | null;
        response: string | null;
        request: string | null;
      },
      never
    >((p) =>
      db.insertInto('attempts').values({
        delivery_id: p('id'),
        n: p('n'),
        started_at: p('startedAt'),
        duration_ms: p('durationMs'),
        outcome: p('outcome'),
        status: p('httpStatus'),
        error: p('error'),
        response: p('response'),
        request: p('request'),
      }),
    ),
    // A single delivery's event, by its seq (the primary key).
    refreshSeq: new Prepared<{ seq: number }, never>((p) =>
      db.updateTable('events').set({ status: derivedStatus }).where('seq', '=', p('seq')),
    ),
    // A batch delivery's events.
    refreshOne: new Prepared<{ id: number }, never>((p) =>
      db
        .updateTable('events')
        .set({ status: derivedStatus })
        .where(
          sql<boolean>`seq in (
            select event_seq from deliveries where id = ${p('id')}
            union all
            select event_seq from batch_members where delivery_id = ${p('id')}
          )`,
        ),
    ),
  };
}

/** One finish() call, flattened for the statements below. */
export interface FinishParams {
  id: number;
  /** The lease token the caller holds (see LeaseToken). */
  claimedBy: string;
  generation: number;
  status: DeliveryStatus;
  nextAt: number | null;
  error: string | null;
  now: number;
  startedAt: number;
  durationMs: number;
  outcome: AttemptRecord['outcome'];
  httpStatus: number | null;
  /** JSON of the attempt's response and request (see AttemptsTable). */
  response: string | null;
  request: string | null;
}

// The attempt number is the delivery's new attempt count, taken from the
// UPDATE in the same statement, which returns the seqs of the events whose
// status must be refreshed. That refresh is a second statement: a
// data-modifying CTE's changes are invisible to the rest of its statement.
// `d.id = any($1)` keeps the pkey index in use even when the planner's
// statistics are stale (a freshly filled table). A row changes only while its
// lease token matches; `i` (the item's ordinal) says which items did.
const PG_FINISH = `with f (id, status, next_at, error, now, started_at, duration_ms, outcome, http_status, response, request,
      claimed_by, generation, i) as (
    select * from unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[],
      $7::integer[], $8::text[], $9::integer[], $10::text[], $11::text[], $12::text[], $13::integer[]) with ordinality
  ), u as (
    update deliveries d
    set attempts = d.attempts + 1, status = f.status, next_at = f.next_at, lease_until = null,
      claimed_by = null, last_error = f.error, updated_at = f.now
    from f where d.id = f.id and d.id = any($1::bigint[])
      and d.claimed_by = f.claimed_by and d.lease_generation = f.generation
    returning d.id, d.attempts, d.event_seq, f.i
  ), a as (
    insert into attempts (delivery_id, n, started_at, duration_ms, outcome, status, error, response, request)
    select u.id, u.attempts, f.started_at, f.duration_ms, f.outcome, f.http_status, f.error, f.response, f.request
    from u join f on f.i = u.i
  )
  select u.i, u.event_seq as seq from u
  union all
  select u.i, m.event_seq from u join batch_members m on m.delivery_id = u.id`;

/**
 * Finishes a group of deliveries in one statement; returns which items (by
 * index) still held their lease, and the seqs of the events to refresh.
 */
export function* finishBulk(items: FinishParams[]): Step<{ recorded: Set<number>; seqs: number[] }> {
  const rows = yield* all(
    raw<{ i: number; seq: number | null }>(
      PG_FINISH,
      columnsOf(items, 13, (f) => [f.id, f.status, f.nextAt, f.error, f.now, f.startedAt, f.durationMs, f.outcome, f.httpStatus, f.response, f.request, f.claimedBy, f.generation]),
      statementName(PG_FINISH),
    ),
  );
  const seqs = new Set<number>();
  for (const r of rows) if (r.seq !== null) seqs.add(r.seq);
  return { recorded: new Set(rows.map((r) => Number(r.i) - 1)), seqs: [...seqs] };
}

export type HotQueries = ReturnType<typeof hotQueries>;

/** What the store's step functions (ingest.ts, lease.ts, read.ts, replay.ts, prune.ts) share. */
export interface StoreContext {
  readonly dialect: Dialect;
  /** Compiles queries only (see engine.ts). */
  readonly db: Kysely<Database>;
  readonly q: HotQueries;
  /** PostgreSQL schema, when configured. */
  readonly schema: string | undefined;
}

/** Refreshes the derived status of these events (see derivedStatus). */
export function* refreshEvents(db: Kysely<Database>, seqs: number[]): Step<void> {
  for (const chunk of chunks(seqs)) {
    yield* exec(db.updateTable('events').set({ status: derivedStatus }).where('seq', 'in', chunk));
  }
}
