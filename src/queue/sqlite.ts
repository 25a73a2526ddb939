// The SQLite engine: one better-sqlite3 connection per store, WAL mode.
// synchronous=NORMAL survives a killed process (the WAL is in the OS);
// FULL also fsyncs the WAL on every commit, so it survives a machine crash.

import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import Database, { type Statement } from 'better-sqlite3';

import { startCheckpointer, type Checkpointer } from './checkpointer.js';
import { compiler, driveSync, type Engine, type Query, type QueryResult, type Step } from './engine.js';

export interface SqliteOptions {
  path: string;
  sync: 'normal' | 'full';
  /** How long a write waits for another process's transaction; default 5 s. */
  busyTimeoutMs?: number;
  /** WAL size the checkpointer cuts back to nothing once the store is quiet (default 64 MB; checkpointer.ts). */
  walTruncateOver?: number;
}

// Dynamic queries (IN lists) produce new SQL text; bound the cache.
const STATEMENT_CACHE = 256;

export function openSqlite(options: SqliteOptions): Engine {
  const memory = options.path === ':memory:' || options.path === '';
  if (!memory) mkdirSync(dirname(resolve(options.path)), { recursive: true });
  const conn = new Database(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
  try {
    conn.pragma('journal_mode = WAL');
    conn.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`);
    // Checkpoints run in a worker thread (checkpointer.ts), not in a commit.
    if (!memory) conn.pragma('wal_autocheckpoint = 0');
    // No journal_size_limit: the checkpointer cuts a grown WAL back when the
    // store is quiet, not in the commit that restarts it (checkpointer.ts).
    // SQLite's REGEXP operator calls this; type globs in event lists use it (read.ts).
    const patterns = new Map<string, RegExp>();
    conn.function('regexp', { deterministic: true }, (pattern, value) => {
      if (typeof pattern !== 'string' || typeof value !== 'string') return 0;
      let re = patterns.get(pattern);
      if (re === undefined) {
        if (patterns.size >= STATEMENT_CACHE) patterns.clear();
        patterns.set(pattern, (re = new RegExp(pattern, 'su')));
      }
      return re.test(value) ? 1 : 0;
    });
  } catch (err) {
    conn.close();
    throw err;
  }

  const checkpointer: Checkpointer | undefined = memory ? undefined : startCheckpointer(resolve(options.path), 1000, options.busyTimeoutMs ?? 5000, options.walTruncateOver);

  const statements = new Map<string, Statement>();
  const prepare = (sql: string): Statement => {
    let stmt = statements.get(sql);
    if (stmt === undefined) {
      stmt = conn.prepare(sql);
      if (statements.size >= STATEMENT_CACHE) {
        const oldest = statements.keys().next().value;
        if (oldest !== undefined) statements.delete(oldest);
      }
      statements.set(sql, stmt);
    }
    return stmt;
  };
  const run = (q: Query): QueryResult => {
    const stmt = prepare(q.sql);
    if (stmt.reader) {
      const rows = stmt.all(q.parameters);
      return { rows, changes: rows.length };
    }
    return { rows: [], changes: stmt.run(q.parameters).changes };
  };
  const transaction = conn.transaction((body: Step<unknown>) => driveSync(body, run));

  const engine: Engine = {
    dialect: 'sqlite',
    db: compiler('sqlite'),
    schema: undefined,
    write<T>(body: () => Step<T>): Promise<T> {
      try {
        return Promise.resolve(transaction.immediate(body()) as T);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    read<T>(body: () => Step<T>): Promise<T> {
      try {
        return Promise.resolve(transaction.deferred(body()) as T);
      } catch (err) {
        return Promise.reject(err);
      }
    },
    // Other processes on the same file poll; there is no cross-process signal.
    broadcast() {},
    listen() {
      return () => {};
    },
    async ping() {
      conn.prepare('select 1').get();
    },
    async close() {
      if (!conn.open) return;
      await checkpointer?.stop();
      statements.clear();
      try {
        // Folds the WAL into the database so the file is complete on its own.
        conn.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        conn.close();
      }
    },
  };
  return engine;
}
