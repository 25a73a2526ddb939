import { loadConfig } from '../config/load.js';
import { openStore } from '../queue/index.js';

/** `relay migrate`: brings the store's schema up to date without serving, for deploys that migrate first. */
export async function migrate(file: string): Promise<void> {
  const config = await loadConfig(file, { secrets: 'optional' });
  const store = await openStore(config.storage, { migrate: false });
  try {
    const { version, applied } = await store.migrate();
    console.log(
      applied.length
        ? `migrated ${config.storage.driver} store to version ${version} (applied: ${applied.join(', ')})`
        : `${config.storage.driver} store is up to date (version ${version})`,
    );
  } finally {
    await store.close();
  }
}
