// Ingest's writes: each event of a group (duplicates insert nothing), then
// its deliveries, plain or joined to an open batch, and on SQLite the
// group's activity counts (rollup.ts), in the caller's transaction.

import { exec, first, type Step } from './engine.js';
import { insertDeliveriesBulk, insertEventsBulk, type LeasedRow, type SingleDelivery } from './bulk.js';
import type { EventParams, StoreContext } from './queries.js';
import { ActivityTally } from './rollup.js';
import type { ClaimedDelivery, IngestLease, IngestOutcome, NewEvent, PlannedDelivery, StoredEvent } from './store.js';

export interface IngestItem {
  event: EventParams;
  deliveries: PlannedDelivery[];
  /** The event as given: what a delivery inserted leased is handed back with. */
  original: NewEvent;
  /** Set when some deliveries are to be inserted leased (PlannedDelivery.lease). */
  lease?: IngestLease;
}

/** `now`: when the leases taken here start (their end is now + leaseMs). */
export function* ingestSteps(ctx: StoreContext, items: IngestItem[], now: number): Step<IngestOutcome[]> {
  const seqs =
    ctx.dialect === 'postgres'
      ? yield* insertEventsBulk(items.map((i) => i.event))
      : yield* insertEventsEach(ctx, items);
  const singles: SingleDelivery[] = [];
  const outcomes: IngestOutcome[] = [];
  const leasedBy = new Map<number, { item: IngestItem; outcome: IngestOutcome }>();
  const tally = ctx.dialect === 'sqlite' ? new ActivityTally() : undefined;
  for (const [i, item] of items.entries()) {
    const { event, deliveries, lease } = item;
    const seq = seqs[i];
    if (seq === undefined) {
      outcomes.push({ status: 'duplicate', id: event.id });
      continue;
    }
    tally?.event(event.receivedAt, event.source, event.matched);
    const at = event.receivedAt;
    const outcome: IngestOutcome = { status: 'accepted', id: event.id };
    for (const d of deliveries) {
      if (d.batch !== undefined) yield* joinBatch(ctx, seq, d, d.batch, at);
      else if (d.lease === true && lease !== undefined) {
        singles.push({ seq, rule: d.rule, action: d.action, target: d.target, now: at, worker: lease.worker, leaseUntil: now + lease.leaseMs });
        leasedBy.set(seq, { item, outcome });
      } else singles.push({ seq, rule: d.rule, action: d.action, target: d.target, now: at });
    }
    outcomes.push(outcome);
  }
  const leased: LeasedRow[] = [];
  if (ctx.dialect === 'postgres') leased.push(...(yield* insertDeliveriesBulk(singles)));
  else {
    for (const d of singles) {
      if (d.worker === undefined) {
        yield* exec(ctx.q.insertDelivery.bind(d));
        continue;
      }
      const row = yield* first(ctx.q.insertLeasedDelivery.bind({ ...d, worker: d.worker, leaseUntil: d.leaseUntil ?? now }));
      if (row) leased.push({ ...row, event_seq: d.seq, rule: d.rule, action: d.action });
    }
  }
  if (tally) yield* tally.write();
  for (const row of leased) {
    const owner = leasedBy.get(row.event_seq);
    const planned = owner?.item.deliveries.find((d) => d.rule === row.rule && d.action === row.action);
    if (!owner || !planned || !owner.item.lease) continue;
    (owner.outcome.leased ??= []).push(claimedOf(row, planned, owner.item.lease.worker, { ...owner.item.original, seq: row.event_seq }));
  }
  return outcomes;
}

function claimedOf(row: LeasedRow, d: PlannedDelivery, worker: string, event: StoredEvent): ClaimedDelivery {
  return { id: row.id, claimedBy: worker, generation: row.lease_generation, rule: d.rule, action: d.action, target: d.target, attempts: 0, events: [event] };
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
