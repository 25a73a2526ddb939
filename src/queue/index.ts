// Opens the configured store and brings its schema up to date.

import type { Engine } from './engine.js';
import { openPostgres } from './postgres.js';
import { SqlStore } from './sql-store.js';
import { openSqlite } from './sqlite.js';
import type { StorageConfig, Store } from './store.js';

export type * from './store.js';

/** Opens the store; `migrate: false` leaves the schema to the caller (`relay migrate` reports what it applied). */
export async function openStore(config: StorageConfig, options: { migrate?: boolean } = {}): Promise<Store> {
  const engine: Engine =
    config.driver === 'sqlite'
      ? openSqlite({ path: config.path, sync: config.sync })
      : openPostgres(config.schema !== undefined ? { url: config.url, schema: config.schema } : { url: config.url });
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
