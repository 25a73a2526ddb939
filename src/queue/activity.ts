// Store#activity: what flowed recently, counted in time buckets for the
// dashboard's charts and the rules page. Each count is a range on one index
// that holds every column it reads (migration 11): events on
// events_received_cover (received_at, source, matched), attempts on
// attempts_started (started_at, delivery_id, outcome) with their delivery's
// rule and action by primary key. So the cost follows the window's traffic,
// never the table's size, and no table row of events or attempts is read.

import { sql, type Kysely } from 'kysely';

import { all, type Step } from './engine.js';
import type { Database } from './schema.js';
import type { Activity, ActivityQuery, AttemptRecord } from './store.js';

// Bucket numbers are cast: SQLite binds JS numbers as REAL, so its division
// would not truncate; on PostgreSQL bigint / bigint already does. Grouping by
// the bucket first keeps SQLite on the received_at range: grouped by source
// first, it walks all of events_source_id to save a sort
// (test/queue/activity.test.ts pins the plans).
export function* activitySteps(db: Kysely<Database>, q: ActivityQuery): Step<Activity> {
  const width = Math.max(1, Math.floor(q.bucketMs));

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
