// SQLite's per-minute activity counts, written once per group commit
// (rollup.ts): a group of events or attempts costs one upsert per distinct
// minute and key, and the counts equal what the raw rows say, however one
// group mixes sources, minutes, duplicates, outcomes and stale finishes.
// The raw count is the PostgreSQL query (activity.ts) run on the same file.

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';

import { activitySteps } from '../../src/queue/activity.js';
import type { Engine, Step } from '../../src/queue/engine.js';
import { rollupStatements } from '../../src/queue/rollup.js';
import { SqlStore } from '../../src/queue/sql-store.js';
import { openSqlite } from '../../src/queue/sqlite.js';
import type { Activity, ActivityQuery, AttemptRecord } from '../../src/queue/store.js';
import { tempDir } from '../helpers/config.js';
import { claimAll, event, plain } from './fixtures.js';

const MIN = 60_000;
const BASE = Math.floor((Date.now() - 3_600_000) / MIN) * MIN;
const WINDOW: ActivityQuery = { since: BASE - 10 * MIN, bucketMs: MIN };

interface Opened {
  store: SqlStore;
  engine: Engine;
  /** The statements of each write transaction, in order. */
  writes: string[][];
}

const opened: Opened[] = [];
afterEach(async () => {
  await Promise.allSettled(opened.splice(0).map((o) => o.store.close()));
});

/** A real store on a real file, whose engine records what each write transaction ran. */
async function open(path: string): Promise<Opened> {
  const inner = openSqlite({ path, sync: 'normal' });
  const writes: string[][] = [];
  const engine: Engine = {
    ...inner,
    write<T>(body: () => Step<T>, options?: { deadline?: number | undefined }) {
      return inner.write(function* (): Step<T> {
        const seen: string[] = [];
        writes.push(seen);
        const steps = body();
        let next = steps.next();
        while (!next.done) {
          seen.push(next.value.sql);
          next = steps.next(yield next.value);
        }
        return next.value;
      }, options);
    },
  };
  const store = new SqlStore(engine);
  await store.migrate();
  const o = { store, engine, writes };
  opened.push(o);
  return o;
}

const upserts = (statements: string[] | undefined) => (statements ?? []).filter((s) => /^insert into activity_minutes\b/.test(s)).length;

const sorted = (a: Activity) => ({
  events: [...a.events].sort((x, y) => x.bucket - y.bucket || x.source.localeCompare(y.source)),
  attempts: [...a.attempts].sort((x, y) => x.bucket - y.bucket || `${x.rule}/${x.action}/${x.outcome}`.localeCompare(`${y.rule}/${y.action}/${y.outcome}`)),
  matches: [...a.matches].sort((x, y) => x.bucket - y.bucket || x.rule.localeCompare(y.rule)),
});

/** The per-minute counts, checked against a count of the raw rows. */
async function counted(o: Opened): Promise<ReturnType<typeof sorted>> {
  const rollup = sorted(await o.store.activity(WINDOW));
  const rows = sorted(await o.engine.read(() => activitySteps(o.engine.db, WINDOW, 'postgres')));
  expect(rollup).toEqual(rows);
  return rollup;
}

describe('SQLite activity counts per group commit', () => {
  test('one group of events: one upsert per minute, source and matched list; duplicates uncounted', async () => {
    const o = await open(join(tempDir('relay-tally-'), 'relay.db'));
    await o.store.ingest(event({ id: 'dup-1', receivedAt: BASE + 1000 }), [plain()]);
    const before = o.store.stats();
    const group = [
      ...Array.from({ length: 20 }, (_, i) => o.store.ingest(event({ receivedAt: BASE + i * 100 }), [plain()])),
      ...Array.from({ length: 5 }, (_, i) => o.store.ingest(event({ receivedAt: BASE + MIN + i, matched: ['r1', 'r2'] }), [plain()])),
      ...Array.from({ length: 7 }, () => o.store.ingest(event({ source: 'stripe', receivedAt: BASE + MIN + 10, matched: [] }), [])),
      // Already stored; then twice in this very group; then the same id from another source (no duplicate).
      o.store.ingest(event({ id: 'dup-1', receivedAt: BASE + 2000 }), [plain()]),
      o.store.ingest(event({ id: 'twice', receivedAt: BASE + 5 }), [plain()]),
      o.store.ingest(event({ id: 'twice', receivedAt: BASE + MIN + 5 }), [plain()]),
      o.store.ingest(event({ id: 'dup-1', source: 'stripe', receivedAt: BASE + 3000 }), [plain()]),
    ];
    const outcomes = await Promise.all(group);
    expect(outcomes.filter((r) => r.status === 'duplicate')).toHaveLength(2);
    expect(o.store.stats().ingestTransactions - before.ingestTransactions).toBe(1);
    // (github, minute 0, ["r1"]), (github, minute 1, ["r1","r2"]), (stripe, minute 1, []), (stripe, minute 0, ["r1"]).
    expect(upserts(o.writes.at(-1))).toBe(4);
    expect(await counted(o)).toEqual({
      events: [
        { source: 'github', bucket: BASE, count: 22 },
        { source: 'stripe', bucket: BASE, count: 1 },
        { source: 'github', bucket: BASE + MIN, count: 5 },
        { source: 'stripe', bucket: BASE + MIN, count: 7 },
      ],
      attempts: [],
      matches: [
        { rule: 'r1', bucket: BASE, count: 23 },
        { rule: 'r1', bucket: BASE + MIN, count: 5 },
        { rule: 'r2', bucket: BASE + MIN, count: 5 },
      ],
    });
  });

  test('one group of finishes: attempts per minute, rule, action and outcome; stale finishes uncounted', async () => {
    const o = await open(join(tempDir('relay-tally-'), 'relay.db'));
    for (let i = 0; i < 3; i++) await o.store.ingest(event({ receivedAt: BASE }), [plain()]);
    for (let i = 0; i < 2; i++) await o.store.ingest(event({ receivedAt: BASE }), [plain({ rule: 'r2', action: 'b' })]);
    const claimed = await o.store.claim({ ...claimAll, now: BASE + MIN });
    const a = claimed.filter((d) => d.rule === 'r1');
    const b = claimed.filter((d) => d.rule === 'r2');
    const [a0, a1, a2, b0, b1] = [a[0], a[1], a[2], b[0], b[1]];
    if (!a0 || !a1 || !a2 || !b0 || !b1) throw new Error('expected 3 r1 and 2 r2 deliveries claimed');
    const at = (minute: number, outcome: AttemptRecord['outcome']): AttemptRecord => ({ startedAt: BASE + minute * MIN + 1, durationMs: 3, outcome });
    const before = o.store.stats();
    const results = await Promise.all([
      o.store.finish(a0, at(2, 'delivered'), { status: 'delivered' }),
      o.store.finish(a1, at(2, 'delivered'), { status: 'delivered' }),
      o.store.finish(a2, at(2, 'retry'), { status: 'failed', nextAt: BASE + 20 * MIN }),
      o.store.finish(b0, at(3, 'dead'), { status: 'dead' }),
      // Its lease was just finished above: stale.
      o.store.finish(a0, at(2, 'delivered'), { status: 'delivered' }),
      // A token of a claim that never was: stale.
      o.store.finish({ ...b1, generation: b1.generation + 1 }, at(3, 'delivered'), { status: 'delivered' }),
    ]);
    expect(results).toEqual(['recorded', 'recorded', 'recorded', 'recorded', 'stale', 'stale']);
    expect(o.store.stats().finishTransactions - before.finishTransactions).toBe(1);
    expect(upserts(o.writes.at(-1))).toBe(3);
    expect((await counted(o)).attempts).toEqual([
      { rule: 'r1', action: 'a', outcome: 'delivered', bucket: BASE + 2 * MIN, count: 2 },
      { rule: 'r1', action: 'a', outcome: 'retry', bucket: BASE + 2 * MIN, count: 1 },
      { rule: 'r2', action: 'b', outcome: 'dead', bucket: BASE + 3 * MIN, count: 1 },
    ]);
  });

  test('rows inserted outside a store are counted once, when a store next opens the file', async () => {
    const path = join(tempDir('relay-tally-'), 'relay.db');
    let o = await open(path);
    await o.store.ingest(event({ receivedAt: BASE }), [plain()]);
    const [d] = await o.store.claim({ ...claimAll, now: BASE + MIN });
    if (!d) throw new Error('expected a claim');
    await o.store.finish(d, { startedAt: BASE + MIN, durationMs: 1, outcome: 'delivered' }, { status: 'delivered' });
    await o.store.close();
    insertBehind(path, 2);
    o = await open(path);
    const once = await counted(o);
    expect(once.events).toEqual([{ source: 'github', bucket: BASE, count: 3 }]);
    expect(once.attempts).toEqual([{ rule: 'r1', action: 'a', outcome: 'delivered', bucket: BASE + MIN, count: 3 }]);
    await o.store.close();
    o = await open(path);
    expect(await counted(o)).toEqual(once);
  });

  test('a store counted by the triggers of migration 11 keeps its counts, and counts each new row once', async () => {
    const path = join(tempDir('relay-tally-'), 'relay.db');
    await (await open(path)).store.close();
    // Back to schema version 11: the triggers, no marks.
    const db = new Database(path);
    db.exec(`delete from relay_migrations where version = 12; drop table activity_marks;`);
    for (const trigger of rollupStatements().filter((s) => s.startsWith('create trigger'))) db.exec(trigger);
    db.close();
    insertBehind(path, 2); // counted by the triggers
    const o = await open(path);
    const peek = new Database(path, { readonly: true });
    expect(peek.prepare(`select name from sqlite_master where type = 'trigger'`).all()).toEqual([]);
    peek.close();
    expect((await counted(o)).events).toEqual([{ source: 'github', bucket: BASE, count: 2 }]);
    await Promise.all([o.store.ingest(event({ receivedAt: BASE }), [plain()]), o.store.ingest(event({ receivedAt: BASE + MIN }), [])]);
    expect((await counted(o)).events).toEqual([
      { source: 'github', bucket: BASE, count: 3 },
      { source: 'github', bucket: BASE + MIN, count: 1 },
    ]);
  });
});

/** n events in minute 0, each with a delivery and a delivered attempt in minute 1, written with plain SQL. */
function insertBehind(path: string, n: number): void {
  const db = new Database(path);
  try {
    for (let i = 0; i < n; i++) {
      const seq = db
        .prepare(`insert into events (source, event_id, type, received_at, headers, body, matched, status) values ('github', ?, 'push', ?, '{}', x'7b7d', '["r1"]', 'delivered')`)
        .run(`behind-${i}`, BASE + i).lastInsertRowid;
      const id = db
        .prepare(`insert into deliveries (event_seq, rule, action, target, status, attempts, created_at, updated_at) values (?, 'r1', 'a', 't', 'delivered', 1, ?, ?)`)
        .run(seq, BASE, BASE).lastInsertRowid;
      db.prepare(`insert into attempts (delivery_id, n, started_at, duration_ms, outcome) values (?, 1, ?, 1, 'delivered')`).run(id, BASE + MIN + i);
    }
  } finally {
    db.close();
  }
}
