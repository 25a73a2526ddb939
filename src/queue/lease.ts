// A delivery's lease: claim takes due deliveries for one worker until the
// lease ends; finish records an attempt and moves the delivery on; release
// and recover put leased deliveries back without an attempt.

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
import type { ClaimedDelivery, ClaimOptions, StoredEvent } from './store.js';

// SQLite's claim (see claimSqlite): fixed texts, so each is prepared once.
const SQLITE_DUE_BASE = `select id from deliveries where next_at <= ? and status in ('pending', 'failed')`;
const SQLITE_DUE = `${SQLITE_DUE_BASE} order by next_at limit ?`;
const SQLITE_DUE_SKIP = `${SQLITE_DUE_BASE} and target not in (select value from json_each(?)) order by next_at limit ?`;
const SQLITE_CLAIM_ONE = `update deliveries set claimed_by = ?, lease_until = ?, next_at = ?, batch_open = null, updated_at = ?
  where id = ? returning id, rule, action, target, attempts, event_seq`;
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
}

/**
 * SQLite: one transaction and fixed statement texts (prepared once). The
 * events are read in the claiming transaction, which on SQLite costs less
 * than a second transaction; nothing else runs while it does (see engine.ts).
 */
export function* claimSqlite(o: ClaimOptions): Step<ClaimedDelivery[]> {
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
    .selectFrom('deliveries')
    .select('id')
    .where('next_at', '<=', o.now)
    .where('status', 'in', ['pending', 'failed'])
    .orderBy('next_at')
    .limit(o.limit);
  if (o.skipTargets !== undefined && o.skipTargets.length > 0) {
    due = due.where('target', 'not in', [...o.skipTargets]);
  }
  due = due.forUpdate().skipLocked();
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

export function* finishSteps(ctx: StoreContext, items: FinishParams[]): Step<void> {
  if (ctx.dialect === 'postgres') {
    yield* refreshEvents(ctx.db, yield* finishBulk(items));
    return;
  }
  const q = ctx.q;
  for (const f of items) {
    const row = yield* first(q.finish.bind(f));
    // An unknown id (its event pruned by an operator meanwhile): nothing to record.
    if (row === undefined) continue;
    yield* exec(q.addAttempt.bind({ ...f, n: row.attempts }));
    if (row.event_seq !== null) yield* exec(q.refreshSeq.bind({ seq: row.event_seq }));
    else yield* exec(q.refreshOne.bind(f));
  }
}

export function* releaseSteps(ctx: StoreContext, deliveryIds: readonly number[], now: number): Step<number> {
  let changed = 0;
  for (const chunk of chunks(deliveryIds)) {
    changed += yield* exec(
      ctx.db
        .updateTable('deliveries')
        .set({ lease_until: null, claimed_by: null, next_at: now, updated_at: now })
        .where('id', 'in', chunk)
        .where('lease_until', 'is not', null)
        .where('next_at', 'is not', null),
    );
  }
  return changed;
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
