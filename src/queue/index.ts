// Opens the configured store and brings its schema up to date.

import type { Engine } from './engine.js';
import { SqlStore } from './sql-store.js';
import type { StorageConfig, Store } from './store.js';

export type * from './store.js';

/** Opens the store; `migrate: false` leaves the schema to the caller (`relay migrate` reports what it applied). */
export async function openStore(config: StorageConfig, options: { migrate?: boolean } = {}): Promise<Store> {
  // Only the configured driver is loaded: pg is never read on SQLite, nor
  // better-sqlite3's native module on PostgreSQL.
  const engine: Engine =
    config.driver === 'sqlite'
      ? (await import('./sqlite.js')).openSqlite({ path: config.path, sync: config.sync })
      : (await import('./postgres.js')).openPostgres(config.schema !== undefined ? { url: config.url, schema: config.schema } : { url: config.url });
  const store = new SqlStore(engine);
  if (options.migrate === false) return store;
  try {
    await store.migrate();
  } catch (err) {
    await engine.close().catch(() => {});
    throw err;
  }
  return store;
}
