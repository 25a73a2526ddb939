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

/** kind: event (key = source), match (key = rule), attempt (key = rule, action, outcome). */
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
      insert into ${ACTIVITY_TABLE} (minute, kind, k1, n)
        values (new.received_at / ${MINUTE} * ${MINUTE}, 'event', new.source, 1) ${upsert};
      insert into ${ACTIVITY_TABLE} (minute, kind, k1, n)
        select new.received_at / ${MINUTE} * ${MINUTE}, 'match', j.value, 1 from json_each(new.matched) j where true ${upsert};
    end`,
    `create trigger ${ACTIVITY_TABLE}_attempts after insert on attempts begin
      insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, k3, n)
        select new.started_at / ${MINUTE} * ${MINUTE}, 'attempt', d.rule, d.action, new.outcome, 1
        from deliveries d where d.id = new.delivery_id ${upsert};
    end`,
    // What the store already holds, counted once.
    `insert into ${ACTIVITY_TABLE} (minute, kind, k1, n)
      select received_at / ${MINUTE} * ${MINUTE}, 'event', source, count(*) from events group by 1, 3`,
    `insert into ${ACTIVITY_TABLE} (minute, kind, k1, n)
      select received_at / ${MINUTE} * ${MINUTE}, 'match', j.value, count(*) from events, json_each(events.matched) j group by 1, 3`,
    `insert into ${ACTIVITY_TABLE} (minute, kind, k1, k2, k3, n)
      select a.started_at / ${MINUTE} * ${MINUTE}, 'attempt', d.rule, d.action, a.outcome, count(*)
      from attempts a join deliveries d on d.id = a.delivery_id group by 1, 3, 4, 5`,
  ];
}
