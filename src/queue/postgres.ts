// The PostgreSQL engine: a pg Pool whose connections use the configured
// schema, transactions retried on deadlock/serialisation failure, and
// LISTEN/NOTIFY so idle workers in every instance wake when work arrives.

import { randomUUID } from 'node:crypto';

import pg from 'pg';

import { compiler, driveAsync, type Engine, type Query, type QueryResult, type Step } from './engine.js';
import { assertSchemaName } from './migrations.js';

export interface PostgresOptions {
  url: string;
  schema?: string;
  /** Pool size; default 10. */
  max?: number;
}

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
  const connection = {
    connectionString: options.url,
    types,
    ...(options.schema !== undefined ? { options: `-c search_path=${options.schema}` } : {}),
  };
  const pool = new pg.Pool({ ...connection, max: options.max ?? 10 });
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
  const onClient = (client: pg.PoolClient) => (q: Query) => {
    const values = q.parameters as unknown[];
    return client
      .query(q.name !== undefined ? { name: q.name, text: q.sql, values } : { text: q.sql, values })
      .then(toResult);
  };

  async function transaction<T>(body: () => Step<T>, begin: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query(begin);
        const result = await driveAsync(body(), onClient(client));
        await client.query('commit');
        return result;
      } catch (err) {
        try {
          await client.query('rollback');
        } catch (rollbackErr) {
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
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
    write: (body) => transaction(body, 'begin'),
    // Each statement sees committed data; the store's reads need no snapshot
    // across statements, so they skip BEGIN/COMMIT round trips.
    async read(body) {
      const client = await pool.connect();
      try {
        return await driveAsync(body(), onClient(client));
      } finally {
        client.release();
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
    async ping() {
      await pool.query('select 1');
    },
    async close() {
      if (closed) return;
      closed = true;
      if (reconnect !== undefined) clearTimeout(reconnect);
      const l = listener;
      listener = undefined;
      await Promise.all([l?.end().catch(() => {}), pool.end()]);
    },
  };
}
