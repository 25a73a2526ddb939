// Opens the configured store and brings its schema up to date.

import type { Engine } from './engine.js';
import { SqlStore } from './sql-store.js';
import type { StorageConfig, Store } from './store.js';

export type * from './store.js';

/** Default of `storage.commitTimeout`: under common webhook senders' own timeouts (GitHub: 10 s). */
export const DEFAULT_COMMIT_TIMEOUT_MS = 5_000;

/** Opens the store; `migrate: false` leaves the schema to the caller (`relay migrate` reports what it applied). */
export async function openStore(config: StorageConfig, options: { migrate?: boolean } = {}): Promise<Store> {
  const { commitTimeoutMs, ...engineConfig } = config;
  // Only the configured driver is loaded: pg is never read on SQLite, nor
  // better-sqlite3's native module on PostgreSQL.
  const engine: Engine =
    engineConfig.driver === 'sqlite'
      ? (await import('./sqlite.js')).openSqlite({ path: engineConfig.path, sync: engineConfig.sync })
      : (await import('./postgres.js')).openPostgres(engineConfig);
  const store = new SqlStore(engine, { commitTimeoutMs: commitTimeoutMs ?? DEFAULT_COMMIT_TIMEOUT_MS });
  if (options.migrate === false) return store;
  try {
    await store.migrate();
  } catch (err) {
    await engine.close().catch(() => {});
    throw err;
  }
  return store;
}
