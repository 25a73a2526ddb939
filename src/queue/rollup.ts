// SQLite's per-minute activity counts (migration 11). better-sqlite3 reads on
// the main thread: a count over a day of raw rows (100k+ events and attempts)
// froze the event loop for seconds, a sum over this table's ~1,440 minutes of
// a day takes a few ms. PostgreSQL counts the raw rows on its covering indexes
// instead: its query runs in the server, off Relay's event loop, and a hot
// counter row there would serialise (or deadlock) concurrent ingest
// transactions.
//
// Migration 11 kept the counts by triggers, one upsert per row inserted,
// which cost a quarter to a third of each ingest. Since migration 12 the two
// transactions that insert events and attempts (ingest.ts, lease.ts) count in
// JS and write one upsert per distinct minute and key (ActivityTally). Each
// also moves a mark to the last event seq or attempt id it counted, so rows
// inserted behind the store's back (a seeding script, a restore) are counted
// once when a store next opens the file (catchUpSteps).

import { exec, raw, type Step } from './engine.js';

export const ACTIVITY_TABLE = 'activity_minutes';
const MARKS_TABLE = 'activity_marks';
const MINUTE = 60_000;
const UPSERT_CLAUSE = `on conflict (kind, minute, k1, k2, k3) do update set n = n + excluded.n`;

/**
 * kind `event`: k1 the source, k2 the matched rules' JSON list as stored
 * (few distinct lists; split when read), so an event costs one upsert.
 * kind `attempt`: k1 the rule, k2 the action, k3 the outcome.
 */
export function rollupStatements(): string[] {
  return [
    `create table ${ACTIVITY_TABLE} (
      minute integer not null,
      kind text not null,
      k1 text not null,
      k2 text not null default '',
      k3 text not null default '',
      n integer not null,
      primary key (kind, minute, k1, k2, k3)
    ) without rowid`,
    `create trigger ${ACTIVITY_TABLE}_events after insert on events begin
      insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, n)
        values (new.received_at / ${MINUTE} * ${MINUTE}, 'event', new.source, new.matched, 1) ${UPSERT_CLAUSE};
    end`,
    `create trigger ${ACTIVITY_TABLE}_attempts after insert on attempts begin
      insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, k3, n)
        select new.started_at / ${MINUTE} * ${MINUTE}, 'attempt', d.rule, d.action, new.outcome, 1
        from deliveries d where d.id = new.delivery_id ${UPSERT_CLAUSE};
    end`,
    // What the store already holds, counted once.
    `insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, n)
      select received_at / ${MINUTE} * ${MINUTE}, 'event', source, matched, count(*) from events group by 1, 3, 4`,
    `insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, k3, n)
      select a.started_at / ${MINUTE} * ${MINUTE}, 'attempt', d.rule, d.action, a.outcome, count(*)
      from attempts a join deliveries d on d.id = a.delivery_id group by 1, 3, 4, 5`,
  ];
}

/** Migration 12: the triggers go; everything they counted lies at or below the marks. */
export function tallyStatements(): string[] {
  return [
    `drop trigger ${ACTIVITY_TABLE}_events`,
    `drop trigger ${ACTIVITY_TABLE}_attempts`,
    `create table ${MARKS_TABLE} (kind text primary key, last integer not null) without rowid`,
    `insert into ${MARKS_TABLE} (kind, last) values
      ('event', coalesce((select max(seq) from events), 0)),
      ('attempt', coalesce((select max(id) from attempts), 0))`,
  ];
}

// The trigger's `received_at / 60000 * 60000`: SQLite's integer division truncates toward zero.
export const minuteOf = (ms: number): number => Math.trunc(ms / MINUTE) * MINUTE;

const UPSERT = `insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, k3, n) values (?, ?, ?, ?, ?, ?) ${UPSERT_CLAUSE}`;
const MARK_EVENTS = `update ${MARKS_TABLE} set last = (select max(seq) from events) where kind = 'event'`;
const MARK_ATTEMPTS = `update ${MARKS_TABLE} set last = (select max(id) from attempts) where kind = 'attempt'`;

type Row = [minute: number, kind: 'event' | 'attempt', k1: string, k2: string, k3: string, n: number];

/** One SQLite transaction's counts, written by write() in that transaction. */
export class ActivityTally {
  private readonly rows = new Map<string, Row>();
  private events = false;
  private attempts = false;

  /** An event inserted (not a duplicate); `matched` is the JSON list as stored. */
  event(receivedAt: number, source: string, matched: string): void {
    this.events = true;
    this.add(minuteOf(receivedAt), 'event', source, matched, '');
  }

  /** An attempt inserted, with its delivery's rule and action. */
  attempt(startedAt: number, rule: string, action: string, outcome: string): void {
    this.attempts = true;
    this.add(minuteOf(startedAt), 'attempt', rule, action, outcome);
  }

  *write(): Step<void> {
    for (const row of this.rows.values()) yield* exec(raw(UPSERT, row));
    // Every row inserted so far in this transaction is this tally's: the
    // writer is alone (SQLite), and seqs and ids only grow (AUTOINCREMENT).
    if (this.events) yield* exec(raw(MARK_EVENTS));
    if (this.attempts) yield* exec(raw(MARK_ATTEMPTS));
  }

  private add(minute: number, kind: Row[1], k1: string, k2: string, k3: string): void {
    // Lengths make the key unambiguous whatever the names hold.
    const key = `${minute} ${kind} ${k1.length} ${k2.length} ${k1}${k2}${k3}`;
    const row = this.rows.get(key);
    if (row) row[5]++;
    else this.rows.set(key, [minute, kind, k1, k2, k3, 1]);
  }
}

/** Counts the rows past the marks (inserted by something other than a store) and moves the marks. */
export function* catchUpSteps(): Step<void> {
  const mark = (kind: string) => `(select last from ${MARKS_TABLE} where kind = '${kind}')`;
  yield* exec(
    raw(`insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, n)
      select received_at / ${MINUTE} * ${MINUTE}, 'event', source, matched, count(*) from events
      where seq > ${mark('event')} group by 1, 3, 4 ${UPSERT_CLAUSE}`),
  );
  yield* exec(
    raw(`insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, k3, n)
      select a.started_at / ${MINUTE} * ${MINUTE}, 'attempt', d.rule, d.action, a.outcome, count(*)
      from attempts a join deliveries d on d.id = a.delivery_id
      where a.id > ${mark('attempt')} group by 1, 3, 4, 5 ${UPSERT_CLAUSE}`),
  );
  yield* exec(raw(`update ${MARKS_TABLE} set last = max(last, coalesce((select max(seq) from events), 0)) where kind = 'event'`));
  yield* exec(raw(`update ${MARKS_TABLE} set last = max(last, coalesce((select max(id) from attempts), 0)) where kind = 'attempt'`));
}
