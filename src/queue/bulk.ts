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
      columnsOf(e, 9, (x) => [x.source, x.id, x.type, x.receivedAt, x.headers, x.body, x.matched, x.status, x.trace]),
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
      columnsOf(rows, 7, (r) => [r.seq, r.rule, r.action, r.target, r.now, r.worker ?? null, r.leaseUntil ?? null]),
      statementName(PG_INSERT_DELIVERIES),
    ),
  );
  return inserted.filter((r) => r.claimed_by !== null);
}

/** unnest()'s parameters: one array per column (`count` of them), from each row's values in column order. */
export function columnsOf<T>(rows: readonly T[], count: number, values: (row: T) => unknown[]): unknown[][] {
  const columns: unknown[][] = Array.from({ length: count }, () => []);
  for (const row of rows) values(row).forEach((v, i) => columns[i]!.push(v));
  return columns;
}
