// Retention: deletes old events whose deliveries are all finished, with
// their deliveries and attempts, one chunk per transaction.

import { sql } from 'kysely';

import { all, exec, first, raw, type Step } from './engine.js';
import { chunks, CHUNK, type StoreContext } from './queries.js';
import { ACTIVITY_TABLE } from './rollup.js';

/** One chunk; null when another instance is pruning. `now` also clears expired rate-limit counters. */
export function* pruneSteps(ctx: StoreContext, before: number, dead: boolean, now: number | undefined): Step<number | null> {
  const db = ctx.db;
  if (ctx.dialect === 'postgres') {
    // Transaction-scoped, so a crashed pruner can never leave it held. Per
    // chunk, so a long prune does not hold one transaction open.
    const lock = yield* first(
      raw<{ locked: boolean }>(`select pg_try_advisory_xact_lock(hashtext($1)) as locked`, [
        `relay:prune:${ctx.schema ?? ''}`,
      ]),
    );
    if (lock?.locked !== true) return null;
    // The library only resets an expired counter when its key comes back; without this
    // one row per client address would stay forever.
    if (now !== undefined) yield* exec(db.deleteFrom('rate_limits').where('expire', '<', now));
  }
  // SQLite's per-minute counts (rollup.ts) outlive the events they counted,
  // until they are older than any stats window can reach.
  if (ctx.dialect === 'sqlite' && now !== undefined) yield* exec(raw(`delete from ${ACTIVITY_TABLE} where minute < ?`, [before]));
  // No delivery of the event still queued.
  const queued = sql<boolean>`not exists (select 1 from deliveries d
      where d.event_seq = events.seq and d.next_at is not null)
    and not exists (select 1 from batch_members m join deliveries d on d.id = m.delivery_id
      where m.event_seq = events.seq and d.next_at is not null)`;
  const rows = yield* all(
    db
      .selectFrom('events')
      .select('seq')
      .where('received_at', '<', before)
      .where((eb) =>
        dead
          ? eb.or([eb('status', 'in', ['delivered', 'unmatched', 'off']), eb.and([eb('status', '=', 'dead'), queued])])
          : eb('status', 'in', ['delivered', 'unmatched', 'off']),
      )
      .orderBy('seq')
      .limit(CHUNK),
  );
  const seqs = rows.map((r) => r.seq);
  if (seqs.length === 0) return 0;
  const singles = (yield* all(db.selectFrom('deliveries').select('id').where('event_seq', 'in', seqs))).map((r) => r.id);
  const batches = (yield* all(
    db.deleteFrom('batch_members').where('event_seq', 'in', seqs).returning('delivery_id'),
  )).map((r) => r.delivery_id);
  // A batch goes with its last member.
  const emptied =
    batches.length === 0
      ? []
      : (yield* all(
          db
            .selectFrom('deliveries as d')
            .select('d.id')
            .where('d.id', 'in', [...new Set(batches)])
            .where((eb) =>
              eb.not(
                eb.exists(
                  eb.selectFrom('batch_members as m').select('m.event_seq').whereRef('m.delivery_id', '=', 'd.id'),
                ),
              ),
            ),
        )).map((r) => r.id);
  const gone = [...singles, ...emptied];
  for (const chunk of chunks(gone)) {
    yield* exec(db.deleteFrom('attempts').where('delivery_id', 'in', chunk));
    yield* exec(db.deleteFrom('deliveries').where('id', 'in', chunk));
  }
  yield* exec(db.deleteFrom('events').where('seq', 'in', seqs));
  return seqs.length;
}
