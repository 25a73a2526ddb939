// Store#activity: what flowed recently, counted in time buckets for the
// dashboard's charts and the rules page. On SQLite, sums of the per-minute
// counts kept per transaction (rollup.ts): a day is ~1,440 rows per series, not
// a day of events. On PostgreSQL each count is a range on an index holding
// every column it reads (migration 11): events on events_received_cover
// (received_at, source, matched), attempts on attempts_started (started_at,
// delivery_id, outcome) with their delivery's rule and action by primary key.

import { sql, type Kysely } from 'kysely';

import { all, type Dialect, type Step } from './engine.js';
import { ACTIVITY_TABLE, minuteOf } from './rollup.js';
import type { Database } from './schema.js';
import type { Activity, ActivityQuery, AttemptRecord } from './store.js';

// Bucket numbers are cast: SQLite binds JS numbers as REAL, so its division
// would not truncate; on PostgreSQL bigint / bigint already does. Grouping by
// the bucket first keeps SQLite on the received_at range: grouped by source
// first, it walks all of events_source_id to save a sort
// (test/queue/activity.test.ts pins the plans).
export function* activitySteps(db: Kysely<Database>, q: ActivityQuery, dialect: Dialect = 'postgres'): Step<Activity> {
  const width = Math.max(1, Math.floor(q.bucketMs));
  if (dialect === 'sqlite') return yield* rollupSteps(db, q, width);

  const events = yield* all<{ source: string; b: number | string; n: number | string }>(
    sql<{ source: string; b: number; n: number }>`
      select source, cast(received_at / ${width} as bigint) as b, count(*) as n
      from events where received_at >= ${q.since}
      group by 2, 1`.compile(db),
  );

  // Grouped by the stored JSON list (few distinct combinations), split below.
  const matched = yield* all<{ matched: string; b: number | string; n: number | string }>(
    sql<never>`
      select matched, cast(received_at / ${width} as bigint) as b, count(*) as n
      from events where received_at >= ${q.since} and matched <> '[]'
      group by 2, 1`.compile(db),
  );

  // Every attempt started in the window, whenever its event arrived (a retry
  // of an older event included).
  const attempts = yield* all<{ rule: string; action: string; outcome: AttemptRecord['outcome']; b: number | string; n: number | string }>(
    sql<never>`
      select d.rule, d.action, a.outcome, cast(a.started_at / ${width} as bigint) as b, count(*) as n
      from attempts a join deliveries d on d.id = a.delivery_id
      where a.started_at >= ${q.since}
      group by 4, 1, 2, 3`.compile(db),
  );

  return shape(width, events, matched, attempts);
}

type Counted = { b: number | string; n: number | string };

/** SQLite: sums of the per-minute counts (rollup.ts); `since` is taken to its minute. */
function* rollupSteps(db: Kysely<Database>, q: ActivityQuery, width: number): Step<Activity> {
  const minute = minuteOf(q.since);
  const sums = (kind: string, keys: 'k1' | 'k2' | 'k1, k2, k3') =>
    sql<never>`
      select ${sql.raw(keys)}, cast(minute / ${width} as bigint) as b, sum(n) as n
      from ${sql.table(ACTIVITY_TABLE)} where kind = ${kind} and minute >= ${minute}
      group by b, ${sql.raw(keys)}`.compile(db);
  type Row = Counted & { k1: string; k2: string; k3: string };
  const events = (yield* all<Row>(sums('event', 'k1'))).map((r) => ({ source: r.k1, b: r.b, n: r.n }));
  const matched = (yield* all<Row>(sums('event', 'k2'))).map((r) => ({ matched: r.k2, b: r.b, n: r.n }));
  const attempts = (yield* all<Row>(sums('attempt', 'k1, k2, k3'))).map((r) => ({ rule: r.k1, action: r.k2, outcome: r.k3 as AttemptRecord['outcome'], b: r.b, n: r.n }));
  return shape(width, events, matched, attempts);
}

function shape(
  width: number,
  events: Array<Counted & { source: string }>,
  matched: Array<Counted & { matched: string }>,
  attempts: Array<Counted & { rule: string; action: string; outcome: AttemptRecord['outcome'] }>,
): Activity {
  const matches = new Map<string, { rule: string; bucket: number; count: number }>();
  for (const row of matched) {
    const bucket = Number(row.b) * width;
    for (const rule of JSON.parse(row.matched) as string[]) {
      const key = `${bucket} ${rule}`;
      const m = matches.get(key) ?? { rule, bucket, count: 0 };
      m.count += Number(row.n);
      matches.set(key, m);
    }
  }
  return {
    events: events.map((r) => ({ source: r.source, bucket: Number(r.b) * width, count: Number(r.n) })),
    attempts: attempts.map((r) => ({ rule: r.rule, action: r.action, outcome: r.outcome, bucket: Number(r.b) * width, count: Number(r.n) })),
    matches: [...matches.values()],
  };
}
