// Replay: makes the selected deliveries due now with a fresh attempt budget.
// Deliveries under a live lease (being delivered right now) are left alone.
// Replaying says "the destination is back": the circuits of the targets
// replayed to are closed too, or the replay would wait out their cool-down.

import { sql } from 'kysely';

import { all, exec, type Step } from './engine.js';
import { chunks, refreshEvents, type StoreContext } from './queries.js';
import type { ReplaySelector } from './store.js';

export function* replaySteps(ctx: StoreContext, s: ReplaySelector, now: number): Step<number[]> {
  const db = ctx.db;
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
  yield* refreshEvents(db, yield* eventsOfDeliveries(ctx, ids));
  return ids;
}

/** The seqs of the events these deliveries belong to. */
function* eventsOfDeliveries(ctx: StoreContext, deliveryIds: number[]): Step<number[]> {
  const seqs = new Set<number>();
  for (const chunk of chunks(deliveryIds)) {
    const rows = yield* all(
      ctx.db
        .selectFrom('deliveries')
        .select('event_seq as seq')
        .where('id', 'in', chunk)
        .where('event_seq', 'is not', null)
        .union(ctx.db.selectFrom('batch_members').select('event_seq as seq').where('delivery_id', 'in', chunk)),
    );
    for (const r of rows) if (r.seq !== null) seqs.add(r.seq);
  }
  return [...seqs];
}

/** Closes the circuits of these deliveries' targets; returns the targets whose circuit was not closed. */
export function* closeCircuitsSteps(ctx: StoreContext, deliveryIds: number[], now: number): Step<string[]> {
  const targets = new Set<string>();
  for (const chunk of chunks(deliveryIds)) {
    const rows = yield* all(ctx.db.selectFrom('deliveries').select('target').distinct().where('id', 'in', chunk));
    for (const r of rows) targets.add(r.target);
  }
  const closed: string[] = [];
  for (const chunk of chunks([...targets])) {
    const open = yield* all(ctx.db.selectFrom('circuits').select('target').where('target', 'in', chunk).where('open_until', 'is not', null));
    if (open.length === 0) continue;
    const names = open.map((r) => r.target);
    yield* exec(ctx.db.updateTable('circuits').set({ open_until: null, failures: 0, updated_at: now }).where('target', 'in', names));
    closed.push(...names);
  }
  return closed.sort();
}
