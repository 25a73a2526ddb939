// Inbound rate limits kept in PostgreSQL, so every instance counts against one
// limit. rate-limiter-flexible runs the queries; the table is created by the
// store's migrations (so instances starting together do not race to create
// it) and its expired rows are deleted by prune (so no per-limiter timers
// outlive a reload).

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';

import type pg from 'pg';
import type { RateLimiterPostgres as PostgresLimiter } from 'rate-limiter-flexible';

import { reloadSafeMemoryLimiters, type LimiterFactory } from '../ingest/rate-limit.js';
import { assertSchemaName, RATE_LIMITS_TABLE } from './migrations.js';
import { connectionSettings, type PostgresTimeouts } from './pg-settings.js';
import type { StorageConfig } from './store.js';

/** One consume is one short query; a few connections serve a busy instance. */
const POOL_SIZE = 4;
/** The library's key column is varchar(255): prefix + ':' + an address must fit. */
const MAX_PREFIX = 160;

export interface LimiterStores {
  /**
   * The limiter store for a config's storage, chosen at the first call and
   * kept by later ones (reloads), like the store itself: memory on SQLite
   * (counters kept across reloads), the shared table on PostgreSQL.
   */
  pick(storage: StorageConfig): LimiterFactory | undefined;
  close(): Promise<void>;
}

export function limiterStores(): LimiterStores {
  let chosen: { factory: LimiterFactory; close(): Promise<void> } | undefined;
  return {
    pick(storage) {
      chosen ??=
        storage.driver === 'postgres'
          ? postgresLimiters(storage.url, storage.schema, storage)
          : { factory: reloadSafeMemoryLimiters(), close: async () => {} };
      return chosen.factory;
    },
    close: async () => chosen?.close(),
  };
}

export function postgresLimiters(
  url: string,
  schema?: string,
  timeouts: PostgresTimeouts = {},
): { factory: LimiterFactory; close(): Promise<void> } {
  if (schema !== undefined) assertSchemaName(schema);
  // Opened at the first limiter: a config without rate limits holds no connections.
  let pool: pg.Pool | undefined;
  // pg is loaded here, synchronously (it is CommonJS), so a SQLite server
  // never loads it; the factory must stay synchronous for config loading.
  const require = createRequire(import.meta.url);
  const factory: LimiterFactory = (options) => {
    const { Pool } = require('pg') as typeof pg;
    const { RateLimiterPostgres } = require('rate-limiter-flexible') as { RateLimiterPostgres: typeof PostgresLimiter };
    if (pool === undefined) {
      // The store's timeouts: a frozen database answers the request with 503, never leaves it hanging.
      pool = new Pool({ ...connectionSettings(timeouts), connectionString: url, max: POOL_SIZE });
      // An idle client losing its server must not crash the process; the next query reconnects.
      pool.on('error', () => {});
    }
    const keyPrefix =
      options.keyPrefix.length <= MAX_PREFIX
        ? options.keyPrefix
        : `relay:${createHash('sha256').update(options.keyPrefix).digest('hex').slice(0, 32)}`;
    // No insuranceLimiter: a database failure rejects, and the server answers
    // 503 rather than letting requests through unlimited.
    return new RateLimiterPostgres({
      ...options,
      keyPrefix,
      storeClient: pool,
      storeType: 'pool',
      tableName: RATE_LIMITS_TABLE,
      ...(schema !== undefined && { schemaName: schema }),
      tableCreated: true,
      clearExpiredByTimeout: false,
    });
  };
  return {
    factory,
    close: async () => {
      await pool?.end();
      pool = undefined;
    },
  };
}
