// Ingest's writes: each event of a group (duplicates insert nothing), then
// its deliveries, plain or joined to an open batch, in the caller's
// transaction.

import { exec, first, type Step } from './engine.js';
import { insertDeliveriesBulk, insertEventsBulk, type EventParams, type SingleDelivery, type StoreContext } from './queries.js';
import type { IngestOutcome, PlannedDelivery } from './store.js';

export interface IngestItem {
  event: EventParams;
  deliveries: PlannedDelivery[];
}

export function* ingestSteps(ctx: StoreContext, items: IngestItem[]): Step<IngestOutcome[]> {
  const seqs =
    ctx.dialect === 'postgres'
      ? yield* insertEventsBulk(items.map((i) => i.event))
      : yield* insertEventsEach(ctx, items);
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
      else yield* joinBatch(ctx, seq, d, d.batch, now);
    }
    outcomes.push({ status: 'accepted', id: event.id });
  }
  if (ctx.dialect === 'postgres') yield* insertDeliveriesBulk(singles);
  else for (const d of singles) yield* exec(ctx.q.insertDelivery.bind(d));
  return outcomes;
}

/** The seq of each inserted event; undefined for a duplicate. */
function* insertEventsEach(ctx: StoreContext, items: IngestItem[]): Step<Array<number | undefined>> {
  const seqs: Array<number | undefined> = [];
  // A conflict on (source, event_id), also with an earlier item of this
  // very group, inserts nothing and returns no row.
  for (const { event } of items) seqs.push((yield* first(ctx.q.insertEvent.bind(event)))?.seq);
  return seqs;
}

function* joinBatch(
  ctx: StoreContext,
  seq: number,
  d: PlannedDelivery,
  batch: NonNullable<PlannedDelivery['batch']>,
  now: number,
): Step<void> {
  const q = ctx.q;
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
