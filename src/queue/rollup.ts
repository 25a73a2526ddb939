// SQLite's per-minute activity counts (migration 11), kept by triggers so
// every write path (ingest, group commit, finish, replay's attempts) counts
// without code of its own. better-sqlite3 reads on the main thread: a count
// over a day of raw rows (100k+ events and attempts) froze the event loop for
// seconds, a sum over this table's ~1,440 minutes of a day takes a few ms.
// PostgreSQL counts the raw rows on its covering indexes instead: its query
// runs in the server, off Relay's event loop, and a hot counter row there
// would serialise (or deadlock) concurrent ingest transactions.

export const ACTIVITY_TABLE = 'activity_minutes';
const MINUTE = 60_000;

/**
 * kind `event`: k1 the source, k2 the matched rules' JSON list as stored
 * (few distinct lists; split when read), so an event costs one upsert.
 * kind `attempt`: k1 the rule, k2 the action, k3 the outcome.
 */
export function rollupStatements(): string[] {
  const upsert = `on conflict (kind, minute, k1, k2, k3) do update set n = n + excluded.n`;
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
        values (new.received_at / ${MINUTE} * ${MINUTE}, 'event', new.source, new.matched, 1) ${upsert};
    end`,
    `create trigger ${ACTIVITY_TABLE}_attempts after insert on attempts begin
      insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, k3, n)
        select new.started_at / ${MINUTE} * ${MINUTE}, 'attempt', d.rule, d.action, new.outcome, 1
        from deliveries d where d.id = new.delivery_id ${upsert};
    end`,
    // What the store already holds, counted once.
    `insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, n)
      select received_at / ${MINUTE} * ${MINUTE}, 'event', source, matched, count(*) from events group by 1, 3, 4`,
    `insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, k3, n)
      select a.started_at / ${MINUTE} * ${MINUTE}, 'attempt', d.rule, d.action, a.outcome, count(*)
      from attempts a join deliveries d on d.id = a.delivery_id group by 1, 3, 4, 5`,
  ];
}
