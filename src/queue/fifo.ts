// `ordering: fifo`: a target whose deliveries go one at a time, oldest
// first. Kept out of the claim itself (lease.ts) so the claim stays one
// query with one extra condition: a delivery to a FIFO target is due only
// when no older delivery to that target is still queued. "Queued" is
// `next_at is not null`: pending, failed and waiting for a retry, or leased
// and in flight. So the head of each FIFO target is the only one claimable,
// a failing head holds the rest back until it is delivered or dead, and
// nothing in the schema records which targets are FIFO: the config says so,
// on every claim.

import { sql, type Expression, type SqlBool } from 'kysely';
import { all, raw, type Step } from './engine.js';
import type { StoreContext } from './queries.js';

/** The older-queued-delivery test, over `d` (the candidate) and `h` (an older one). */
const OLDER_QUEUED = `select 1 from deliveries h where h.target = d.target and h.next_at is not null and h.id < d.id`;

/**
 * SQLite: appended to the due query (which reads `deliveries d`); its one
 * parameter is the JSON array of FIFO targets.
 */
export const SQLITE_FIFO_CONDITION = ` and (d.target not in (select value from json_each(?)) or not exists (${OLDER_QUEUED}))`;

/** PostgreSQL: the same condition for the kysely claim query (aliased `d`). */
export function fifoCondition(targets: readonly string[]): Expression<SqlBool> {
  return sql<SqlBool>`(d.target <> all(${[...targets]}::text[]) or not exists (${sql.raw(OLDER_QUEUED)}))`;
}

/** True when the claim must apply the FIFO condition. */
export function hasFifo(targets: readonly string[] | undefined): targets is readonly string[] {
  return targets !== undefined && targets.length > 0;
}

/**
 * The head of each target's queue: its oldest queued delivery. A queued
 * delivery of a FIFO target that is not the head waits behind it; the event
 * views say so.
 */
export function* queueHeadsSteps(ctx: StoreContext, targets: readonly string[]): Step<Map<string, number>> {
  const heads = new Map<string, number>();
  for (const target of new Set(targets)) {
    const q =
      ctx.dialect === 'sqlite'
        ? raw<{ id: number }>(`select min(id) as id from deliveries where target = ? and next_at is not null`, [target])
        : raw<{ id: number }>(`select min(id) as id from deliveries where target = $1 and next_at is not null`, [target]);
    const [row] = yield* all(q);
    if (row?.id !== null && row?.id !== undefined) heads.set(target, Number(row.id));
  }
  return heads;
}

/** Migration 9: finds a target's older queued deliveries without scanning the queue. */
export const FIFO_INDEX = `create index deliveries_target_queue on deliveries (target, id) where next_at is not null`;
