// The PostgreSQL engine: a pg Pool whose connections use the configured
// schema, transactions retried on deadlock/serialisation failure, and
// LISTEN/NOTIFY so idle workers in every instance wake when work arrives.
//
// Nothing waits on the network without a bound: connecting, checking a
// connection out of the pool and every statement have timeouts, TCP
// keepalive finds dead peers, and a connection that failed without a SQL
// error (a timeout, a reset) is discarded, never reused.

import { randomUUID } from 'node:crypto';

import pg from 'pg';

import { compiler, driveAsync, type Engine, type Query, type QueryResult, type Step, type WriteOptions } from './engine.js';
import { assertSchemaName } from './migrations.js';
import { connectionSettings, PG_DEFAULTS, type PostgresTimeouts } from './pg-settings.js';
import { beforeDeadline, StoreTimeoutError } from './timeout.js';

export { connectionSettings, PG_DEFAULTS, type PostgresTimeouts } from './pg-settings.js';

export interface PostgresOptions extends PostgresTimeouts {
  url: string;
  schema?: string;
  /** Pool size; default 10. */
  max?: number;
}

type TimedQuery = pg.QueryConfig & { query_timeout?: number };

const CHANNEL = 'relay_deliveries';
const INT8 = 20;
// deadlock_detected (two instances joining batches in opposite orders) and
// serialization_failure: the transaction did nothing, run it again.
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_TRIES = 5;

// Times and ids are bigint columns; every value Relay stores fits in a double.
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function sqlState(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string'
    ? err.code
    : undefined;
}

export function openPostgres(options: PostgresOptions): Engine {
  if (options.schema !== undefined) assertSchemaName(options.schema);
  const queryTimeoutMs = options.queryTimeoutMs ?? PG_DEFAULTS.queryTimeoutMs;
  const connection: pg.ClientConfig = {
    connectionString: options.url,
    types,
    ...connectionSettings(options),
    ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
  };
  const pool = new pg.Pool({ ...connection, max: options.max ?? 10, idleTimeoutMillis: options.idleTimeoutMs ?? PG_DEFAULTS.idleTimeoutMs });
  // An idle client that loses its server emits here; unhandled, it would
  // crash the process. The next checkout simply opens a new connection.
  pool.on('error', () => {});

  const instance = randomUUID();
  const scope = options.schema ?? '';
  const listeners = new Set<() => void>();
  let listener: pg.Client | undefined;
  let reconnect: NodeJS.Timeout | undefined;
  let closed = false;

  const toResult = (res: pg.QueryResult): QueryResult => ({ rows: res.rows, changes: res.rowCount ?? 0 });

  /** Runs one statement, answered by the deadline (if any) or it fails with StoreTimeoutError. */
  async function run(client: pg.PoolClient, q: Query, deadline: number | undefined): Promise<QueryResult> {
    const left = deadline === undefined ? queryTimeoutMs : Math.min(queryTimeoutMs, deadline - Date.now());
    if (left <= 0) throw new StoreTimeoutError('answer before the deadline');
    const config: TimedQuery = { text: q.sql, values: q.parameters as unknown[], query_timeout: left };
    if (q.name !== undefined) config.name = q.name;
    return toResult(await client.query(config));
  }

  /** A pooled connection by the deadline; one that arrives later goes back to the pool. */
  async function checkout(deadline: number | undefined): Promise<pg.PoolClient> {
    const pending = pool.connect();
    if (deadline === undefined) return pending;
    let abandoned = false;
    pending.then(
      (late) => {
        if (abandoned) late.release();
      },
      () => {},
    );
    return beforeDeadline(pending, deadline, () => {
      abandoned = true;
      return new StoreTimeoutError('provide a connection before the deadline');
    });
  }

  async function transaction<T>(body: () => Step<T>, begin: string, deadline?: number): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await checkout(deadline);
      let broken: Error | undefined;
      try {
        await run(client, { sql: begin, parameters: [] }, deadline);
        const result = await driveAsync(body(), (q) => run(client, q, deadline));
        await run(client, { sql: 'commit', parameters: [] }, deadline);
        return result;
      } catch (err) {
        if (sqlState(err) === undefined) {
          // No SQL error: a timeout or a broken connection. Its state is
          // unknown (a statement may still be running, an answer may arrive
          // late), so it is discarded rather than rolled back and reused.
          broken = err instanceof Error ? err : new Error(String(err));
        } else {
          try {
            await run(client, { sql: 'rollback', parameters: [] }, undefined);
          } catch (rollbackErr) {
            broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
          }
        }
        if (attempt < MAX_TRIES && RETRYABLE.has(sqlState(err) ?? '')) continue;
        throw err;
      } finally {
        client.release(broken);
      }
    }
  }

  function startListening(): void {
    if (closed || listener !== undefined) return;
    const client = new pg.Client(connection);
    listener = client;
    const retry = () => {
      if (listener !== client) return;
      listener = undefined;
      client.end().catch(() => {});
      if (!closed && listeners.size > 0 && reconnect === undefined) {
        reconnect = setTimeout(() => {
          reconnect = undefined;
          startListening();
          // Work may have arrived while deaf.
          for (const cb of listeners) cb();
        }, 1000);
        reconnect.unref();
      }
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (msg) => {
      if (msg.channel !== CHANNEL || msg.payload === undefined) return;
      const sep = msg.payload.lastIndexOf('|');
      if (msg.payload.slice(0, sep) !== scope || msg.payload.slice(sep + 1) === instance) return;
      for (const cb of listeners) cb();
    });
    client
      .connect()
      .then(() => client.query(`listen ${CHANNEL}`))
      .catch(retry);
  }

  return {
    dialect: 'postgres',
    db: compiler('postgres'),
    schema: options.schema,
    write: (body, o?: WriteOptions) => transaction(body, 'begin', o?.deadline),
    // Each statement sees committed data; the store's reads need no snapshot
    // across statements, so they skip BEGIN/COMMIT round trips.
    async read(body) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        return await driveAsync(body(), (q) => run(client, q, undefined));
      } catch (err) {
        if (sqlState(err) === undefined) broken = err instanceof Error ? err : new Error(String(err));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    broadcast() {
      if (closed) return;
      pool.query('select pg_notify($1, $2)', [CHANNEL, `${scope}|${instance}`]).catch(() => {});
    },
    listen(cb) {
      listeners.add(cb);
      startListening();
      return () => {
        listeners.delete(cb);
      };
    },
    async ping(timeoutMs?: number) {
      const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
      const client = await checkout(deadline);
      let broken: Error | undefined;
      try {
        await run(client, { sql: 'select 1', parameters: [] }, deadline);
      } catch (err) {
        broken = err instanceof Error ? err : new Error(String(err));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (reconnect !== undefined) clearTimeout(reconnect);
      const l = listener;
      listener = undefined;
      // A connection whose server went silent never says goodbye: bounded (by
      // the connect timeout), so a shutdown with a frozen database still ends.
      const bound = options.connectTimeoutMs ?? PG_DEFAULTS.connectTimeoutMs;
      const ended = Promise.all([l?.end().catch(() => {}), pool.end()]);
      await beforeDeadline(ended, Date.now() + bound, () => new StoreTimeoutError(`close within ${bound}ms`)).catch(() => {});
    },
  };
}
