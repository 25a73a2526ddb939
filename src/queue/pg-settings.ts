// PostgreSQL connection settings, apart from the driver: the rate-limit pool
// (limits.ts) shares them without loading pg before a config needs it.

import type pg from 'pg';

/** Timeouts of the pool's connections, in ms (`storage.*Timeout` in the config). */
export interface PostgresTimeouts {
  /** Opening a connection, and waiting for a free one in the pool; default 5 s. */
  connectTimeoutMs?: number;
  /**
   * Longest wait for a statement's answer (client side), and PostgreSQL's
   * statement_timeout and idle_in_transaction_session_timeout (server side,
   * so the server also gives up on work the client abandoned); default 30 s.
   */
  queryTimeoutMs?: number;
  /** An idle pooled connection is closed after this long; default 10 s. */
  idleTimeoutMs?: number;
  /** TCP keepalive's idle time before the first probe, or false for none; default 10 s. */
  keepAliveMs?: number | false;
}

export const PG_DEFAULTS = { connectTimeoutMs: 5_000, queryTimeoutMs: 30_000, idleTimeoutMs: 10_000, keepAliveMs: 10_000 } as const;

/** pg's client settings for these timeouts (shared with the rate-limit pool, src/queue/limits.ts). */
export function connectionSettings(o: PostgresTimeouts): pg.ClientConfig {
  const query = o.queryTimeoutMs ?? PG_DEFAULTS.queryTimeoutMs;
  const keepAlive = o.keepAliveMs ?? PG_DEFAULTS.keepAliveMs;
  return {
    connectionTimeoutMillis: o.connectTimeoutMs ?? PG_DEFAULTS.connectTimeoutMs,
    query_timeout: query,
    statement_timeout: query,
    idle_in_transaction_session_timeout: query,
    ...(keepAlive === false ? { keepAlive: false } : { keepAlive: true, keepAliveInitialDelayMillis: keepAlive }),
  };
}
