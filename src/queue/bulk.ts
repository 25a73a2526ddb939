// PostgreSQL's bulk inserts for ingest: a statement per row would cost a
// round trip per row, so a group's events and plain deliveries go in one
// statement each, as arrays. (On SQLite a prepared per-row insert is cheaper
// than any bulk form: see hotQueries.)

import { all, raw, statementName, type Step } from './engine.js';
import type { EventParams } from './queries.js';

export interface SingleDelivery {
  seq: number;
  rule: string;
  action: string;
  target: string;
  now: number;
  /** Set when inserted leased (PlannedDelivery.lease): the lease's holder and end. */
  worker?: string;
  leaseUntil?: number;
}

/** A delivery inserted leased, as its row came back. */
export interface LeasedRow {
  id: number;
  event_seq: number;
  rule: string;
  action: string;
  lease_generation: number;
}

// PostgreSQL: a statement per row would cost a round trip per row, so a
// group's events and plain deliveries go in one statement each, as arrays.
// (On SQLite a prepared per-row insert is cheaper than any bulk form.)
const PG_INSERT_EVENTS = `insert into events (source, event_id, type, received_at, headers, body, matched, status, trace)
  select * from unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bytea[], $7::text[], $8::text[], $9::text[])
  on conflict (source, event_id) do nothing
  returning seq, source, event_id`;
// A leased row (c not null) is inserted claimed, as a claim would leave it.
const PG_INSERT_DELIVERIES = `insert into deliveries (event_seq, rule, action, target, status, next_at, claimed_by, lease_until,
    lease_generation, created_at, updated_at)
  select s, r, a, t, 'pending', coalesce(l, n), c, l, case when c is null then 0 else 1 end, n, n
  from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::bigint[]) as x (s, r, a, t, n, c, l)
  returning id, event_seq, rule, action, lease_generation, claimed_by`;

export function* insertEventsBulk(e: EventParams[]): Step<Array<number | undefined>> {
  const rows = yield* all(
    raw<{ seq: number; source: string; event_id: string }>(
      PG_INSERT_EVENTS,
      [
        e.map((x) => x.source),
        e.map((x) => x.id),
        e.map((x) => x.type),
        e.map((x) => x.receivedAt),
        e.map((x) => x.headers),
        e.map((x) => x.body),
        e.map((x) => x.matched),
        e.map((x) => x.status),
        e.map((x) => x.trace),
      ],
      statementName(PG_INSERT_EVENTS),
    ),
  );
  const inserted = new Map(rows.map((r) => [`${r.source}\u0000${r.event_id}`, r.seq]));
  return e.map((x) => {
    const key = `${x.source}\u0000${x.id}`;
    const seq = inserted.get(key);
    // Two items of one group with the same key: the first was inserted.
    inserted.delete(key);
    return seq;
  });
}

/** Returns the rows inserted leased. */
export function* insertDeliveriesBulk(rows: SingleDelivery[]): Step<LeasedRow[]> {
  if (rows.length === 0) return [];
  const inserted = yield* all(
    raw<LeasedRow & { claimed_by: string | null }>(
      PG_INSERT_DELIVERIES,
      [
        rows.map((r) => r.seq),
        rows.map((r) => r.rule),
        rows.map((r) => r.action),
        rows.map((r) => r.target),
        rows.map((r) => r.now),
        rows.map((r) => r.worker ?? null),
        rows.map((r) => r.leaseUntil ?? null),
      ],
      statementName(PG_INSERT_DELIVERIES),
    ),
  );
  return inserted.filter((r) => r.claimed_by !== null);
}
