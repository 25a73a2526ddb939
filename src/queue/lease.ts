// A delivery's lease: claim takes due deliveries for one worker until the
// lease ends; finish records an attempt and moves the delivery on; release
// and recover put leased deliveries back without an attempt.
//
// Fencing: every claim bumps the row's lease_generation and hands out
// (claimed_by, generation) as the lease token. finish and release change a row
// only while it still carries that token, so a worker whose lease lapsed (it
// stalled, and another worker claimed and finished the delivery) cannot
// overwrite the newer result or free the newer claimer's lease.

import { all, exec, first, raw, type Engine, type Step } from './engine.js';
import {
  chunks,
  finishBulk,
  refreshEvents,
  toStoredEvent,
  type EventRow,
  type FinishParams,
  type StoreContext,
} from './queries.js';
import type { ClaimedDelivery, ClaimOptions, LeaseToken, StoredEvent } from './store.js';
import { fifoCondition, hasFifo, SQLITE_FIFO_CONDITION } from './fifo.js';
import { ActivityTally } from './rollup.js';

// SQLite's claim (see claimSqlite): fixed texts, so each is prepared once.
const SQLITE_DUE_BASE = `select id from deliveries d where next_at <= ? and status in ('pending', 'failed')`;
const SQLITE_SKIP = ` and target not in (select value from json_each(?))`;
const SQLITE_DUE = `${SQLITE_DUE_BASE} order by next_at limit ?`;
const SQLITE_DUE_SKIP = `${SQLITE_DUE_BASE}${SQLITE_SKIP} order by next_at limit ?`;
const SQLITE_DUE_FIFO = `${SQLITE_DUE_BASE}${SQLITE_FIFO_CONDITION} order by next_at limit ?`;
const SQLITE_DUE_SKIP_FIFO = `${SQLITE_DUE_BASE}${SQLITE_SKIP}${SQLITE_FIFO_CONDITION} order by next_at limit ?`;
const SQLITE_CLAIM_ONE = `update deliveries set claimed_by = ?, lease_generation = lease_generation + 1, lease_until = ?,
  next_at = ?, batch_open = null, updated_at = ? where id = ? returning id, rule, action, target, attempts, event_seq, lease_generation`;
const EVENT_COLUMNS = 'e.seq, e.event_id, e.source, e.type, e.received_at, e.headers, e.body, e.matched, e.trace';
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
  lease_generation: number;
}

/**
 * SQLite: one transaction and fixed statement texts (prepared once). The
 * events are read in the claiming transaction, which on SQLite costs less
 * than a second transaction; nothing else runs while it does (see engine.ts).
 */
export function* claimSqlite(o: ClaimOptions): Step<ClaimedDelivery[]> {
  const skip = o.skipTargets !== undefined && o.skipTargets.length > 0 ? JSON.stringify(o.skipTargets) : null;
  const fifo = hasFifo(o.fifoTargets) ? JSON.stringify(o.fifoTargets) : null;
  const text = fifo === null ? (skip === null ? SQLITE_DUE : SQLITE_DUE_SKIP) : skip === null ? SQLITE_DUE_FIFO : SQLITE_DUE_SKIP_FIFO;
  const params = [o.now, ...(skip === null ? [] : [skip]), ...(fifo === null ? [] : [fifo]), o.limit];
  const due = yield* all(raw<{ id: number }>(text, params));
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
      claimedBy: o.worker,
      generation: row.lease_generation,
      rule: row.rule,
      action: row.action,
      target: row.target,
      attempts: row.attempts,
      events: events.map(toStoredEvent),
    });
  }
  return out;
}

/**
 * PostgreSQL: SKIP LOCKED claims in one short transaction, then the events
 * are read after the commit: events never change, and a leased delivery's
 * events are not pruned, so the read need not hold the row locks.
 */
export async function claimPostgres(engine: Engine, ctx: StoreContext, o: ClaimOptions): Promise<ClaimedDelivery[]> {
  const rows = await engine.write(() => claimSteps(ctx, o));
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const eventRows = await engine.read(() => eventsOf(ctx, ids));
  const byDelivery = new Map<number, StoredEvent[]>();
  for (const row of eventRows) {
    const list = byDelivery.get(row.delivery_id) ?? [];
    list.push(toStoredEvent(row));
    byDelivery.set(row.delivery_id, list);
  }
  return rows.map((r) => ({
    id: r.id,
    claimedBy: o.worker,
    generation: r.lease_generation,
    rule: r.rule,
    action: r.action,
    target: r.target,
    attempts: r.attempts,
    events: byDelivery.get(r.id) ?? [],
  }));
}

function* claimSteps(ctx: StoreContext, o: ClaimOptions) {
  const db = ctx.db;
  let due = db
    .selectFrom('deliveries as d')
    .select('id')
    .where('next_at', '<=', o.now)
    .where('status', 'in', ['pending', 'failed'])
    .orderBy('next_at')
    .limit(o.limit);
  if (o.skipTargets !== undefined && o.skipTargets.length > 0) {
    due = due.where('target', 'not in', [...o.skipTargets]);
  }
  if (hasFifo(o.fifoTargets)) due = due.where(fifoCondition(o.fifoTargets));
  due = due.forUpdate().skipLocked();
  const ids = (yield* all(due)).map((r) => r.id);
  if (ids.length === 0) return [];
  const leaseEnd = o.now + o.leaseMs;
  const claimed = yield* all(
    db
      .updateTable('deliveries')
      .set((eb) => ({
        claimed_by: o.worker,
        lease_generation: eb('lease_generation', '+', 1),
        lease_until: leaseEnd,
        next_at: leaseEnd,
        batch_open: null,
        updated_at: o.now,
      }))
      .where('id', 'in', ids)
      .returning(['id', 'rule', 'action', 'target', 'attempts', 'lease_generation']),
  );
  const order = new Map(ids.map((id, i) => [id, i]));
  return claimed.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

function* eventsOf(ctx: StoreContext, ids: number[]) {
  const db = ctx.db;
  const columns = [
    'e.seq',
    'e.event_id',
    'e.source',
    'e.type',
    'e.received_at',
    'e.headers',
    'e.body',
    'e.matched',
    'e.trace',
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

/** Returns, per item, whether its lease token still matched (and so the attempt was recorded). */
export function* finishSteps(ctx: StoreContext, items: FinishParams[]): Step<boolean[]> {
  if (ctx.dialect === 'postgres') {
    const { recorded, seqs } = yield* finishBulk(items);
    yield* refreshEvents(ctx.db, seqs);
    return items.map((_, i) => recorded.has(i));
  }
  const q = ctx.q;
  const out: boolean[] = [];
  const tally = new ActivityTally();
  for (const f of items) {
    const row = yield* first(q.finish.bind(f));
    out.push(row !== undefined);
    // Stale token, or an unknown id (its event pruned meanwhile): nothing to record.
    if (row === undefined) continue;
    yield* exec(q.addAttempt.bind({ ...f, n: row.attempts }));
    tally.attempt(f.startedAt, row.rule, row.action, f.outcome);
    if (row.event_seq !== null) yield* exec(q.refreshSeq.bind({ seq: row.event_seq }));
    else yield* exec(q.refreshOne.bind(f));
  }
  yield* tally.write();
  return out;
}

/** Returns the ids it released: those whose lease token still matched. */
export function* releaseSteps(ctx: StoreContext, leases: readonly LeaseToken[], now: number): Step<number[]> {
  const released: number[] = [];
  // A third of CHUNK: three parameters per lease.
  for (const chunk of chunks(leases, 150)) {
    const rows = yield* all(
      ctx.db
        .updateTable('deliveries')
        .set({ lease_until: null, claimed_by: null, next_at: now, updated_at: now })
        .where((eb) =>
          eb.or(
            chunk.map((l) =>
              eb.and([eb('id', '=', l.id), eb('claimed_by', '=', l.claimedBy), eb('lease_generation', '=', l.generation)]),
            ),
          ),
        )
        .returning('id'),
    );
    for (const r of rows) released.push(r.id);
  }
  return released;
}

export function* recoverSteps(ctx: StoreContext, workerPrefix: string, now: number): Step<number> {
  return yield* exec(
    ctx.db
      .updateTable('deliveries')
      .set({ lease_until: null, claimed_by: null, next_at: now, updated_at: now })
      .where('lease_until', 'is not', null)
      .where('claimed_by', 'like', `${workerPrefix.replace(/[%_\\]/g, '')}%`),
  );
}
