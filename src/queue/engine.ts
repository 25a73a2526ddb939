// What the SQL store needs from an engine, and the step protocol that lets
// one store implementation run on both.
//
// Store operations are generator functions that yield compiled queries and
// receive their results. The SQLite engine answers each yield synchronously
// inside one better-sqlite3 transaction, so a SQLite transaction never spans
// an event-loop turn: nothing else in the process interleaves with it, and a
// second connection to the same file (another store in this process) never
// waits on a lock held across an await, which would block the event loop
// until busy_timeout. The PostgreSQL engine awaits each yield on one pooled
// client between BEGIN and COMMIT.

import { createHash } from 'node:crypto';

import {
  DummyDriver,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type Compilable,
} from 'kysely';

import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Query {
  readonly sql: string;
  readonly parameters: readonly unknown[];
  /** Set on hot queries: PostgreSQL prepares them once per connection under this name. */
  readonly name?: string;
}

/** A query whose rows have type R (phantom). */
export interface TypedQuery<R> extends Query {
  readonly __rows?: R;
}

export interface QueryResult {
  readonly rows: readonly unknown[];
  /** Rows changed (or, for a query that returns rows, returned). */
  readonly changes: number;
}

export type Step<T> = Generator<Query, T, QueryResult>;

type Runnable<R> = Compilable<R> | TypedQuery<R>;

function toQuery(q: Runnable<unknown>): Query {
  return 'compile' in q ? q.compile() : q;
}

export function* all<R>(q: Runnable<R>): Step<R[]> {
  const result = yield toQuery(q);
  return result.rows as R[];
}

export function* first<R>(q: Runnable<R>): Step<R | undefined> {
  const rows = yield* all(q);
  return rows[0];
}

/** Runs a statement; returns how many rows it changed. */
export function* exec(q: Runnable<unknown>): Step<number> {
  const result = yield toQuery(q);
  return result.changes;
}

export function raw<R = unknown>(sql: string, parameters: readonly unknown[] = [], name?: string): TypedQuery<R> {
  return name === undefined ? { sql, parameters } : { sql, parameters, name };
}

export function statementName(sql: string): string {
  return `relay_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
}

/** Drives a step body to completion with a synchronous executor. */
export function driveSync<T>(body: Step<T>, run: (q: Query) => QueryResult): T {
  let next = body.next();
  while (!next.done) next = body.next(run(next.value));
  return next.value;
}

export async function driveAsync<T>(body: Step<T>, run: (q: Query) => Promise<QueryResult>): Promise<T> {
  let next = body.next();
  while (!next.done) next = body.next(await run(next.value));
  return next.value;
}

// Hot-path queries are built and compiled by Kysely once, with named
// placeholders, then bound per call: building a Kysely query costs more than
// executing a prepared insert on SQLite.
const SLOT = '\u0000relay-param:';

export type Placeholder<P> = <K extends keyof P & string>(name: K) => P[K];

export class Prepared<P, R> {
  readonly sql: string;
  readonly name: string;
  private readonly slots: ReadonlyArray<{ name: keyof P } | { value: unknown }>;

  constructor(build: (p: Placeholder<P>) => Compilable<R>) {
    const compiled = build(((name: string) => SLOT + name) as unknown as Placeholder<P>).compile();
    this.sql = compiled.sql;
    this.name = statementName(compiled.sql);
    this.slots = compiled.parameters.map((v) =>
      typeof v === 'string' && v.startsWith(SLOT)
        ? { name: v.slice(SLOT.length) as keyof P }
        : { value: v },
    );
  }

  bind(params: P): TypedQuery<R> {
    const parameters = this.slots.map((s) => ('name' in s ? (params[s.name] ?? null) : s.value));
    return { sql: this.sql, parameters, name: this.name };
  }
}

export interface Engine {
  readonly dialect: Dialect;
  /** Builds and compiles queries only; execution goes through write/read. */
  readonly db: Kysely<Database>;
  /** PostgreSQL schema holding the tables, when configured. */
  readonly schema: string | undefined;
  /**
   * Runs the body in one write transaction (SQLite: BEGIN IMMEDIATE, so it
   * is serialised with other processes up front instead of failing on lock
   * upgrade). Bodies may be run again on a transient conflict, so they must
   * not have side effects outside the database.
   */
  write<T>(body: () => Step<T>, options?: WriteOptions): Promise<T>;
  /**
   * Runs a body that only reads: on SQLite in one snapshot, on PostgreSQL
   * statement by statement (each sees what was committed when it started).
   */
  read<T>(body: () => Step<T>): Promise<T>;
  /** Tells other instances sharing the database that work may be due. */
  broadcast(): void;
  /** Hears other instances' broadcasts; returns an unsubscribe. */
  listen(listener: () => void): () => void;
  /** Within timeoutMs, or rejects, discarding a connection that did not answer. */
  ping(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface WriteOptions {
  /**
   * When the caller stops waiting (ms since the epoch). PostgreSQL: each
   * statement may run only until then, and a connection that did not answer
   * in time is discarded (its transaction dies with it), so a frozen network
   * costs one connection, not every later commit. SQLite runs a transaction
   * synchronously and never waits on a network: it ignores the deadline.
   */
  deadline?: number;
}

/** A Kysely that compiles for the dialect and can execute nothing. */
export function compiler(dialect: Dialect): Kysely<Database> {
  return new Kysely<Database>({
    dialect:
      dialect === 'sqlite'
        ? {
            createAdapter: () => new SqliteAdapter(),
            createDriver: () => new DummyDriver(),
            createIntrospector: (db) => new SqliteIntrospector(db),
            createQueryCompiler: () => new SqliteQueryCompiler(),
          }
        : {
            createAdapter: () => new PostgresAdapter(),
            createDriver: () => new DummyDriver(),
            createIntrospector: (db) => new PostgresIntrospector(db),
            createQueryCompiler: () => new PostgresQueryCompiler(),
          },
  });
}
