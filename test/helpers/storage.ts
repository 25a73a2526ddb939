// Storage sections for Relay configs in end-to-end tests, one per engine, so
// the same suite runs on SQLite and on PostgreSQL (each test on its own
// schema). PostgreSQL is included under the same rule as the store tests:
// always when RELAY_TEST_PG_URL is set, else when the local default answers.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { postgresUrl } from './drivers.js';
import { tempDir } from './config.js';

export interface StorageFixture {
  name: 'sqlite' | 'postgres';
  /** A fresh `storage:` section; each call is a new, empty database location. */
  section(dir?: string): string;
  cleanup(): Promise<void>;
}

export async function storageFixtures(): Promise<StorageFixture[]> {
  const url = await postgresUrl();
  const sqlite: StorageFixture = {
    name: 'sqlite',
    section: (dir = tempDir()) => `storage: { driver: sqlite, path: ${join(dir, 'relay.db')} }\n`,
    cleanup: async () => {},
  };
  if (!url) return [sqlite];
  const schemas: string[] = [];
  const postgres: StorageFixture = {
    name: 'postgres',
    section: () => {
      const schema = `relay_e2e_${randomBytes(5).toString('hex')}`;
      schemas.push(schema);
      return `storage: { driver: postgres, url: "${url}", schema: ${schema} }\n`;
    },
    cleanup: async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        for (const s of schemas.splice(0)) await client.query(`drop schema if exists "${s}" cascade`);
      } finally {
        await client.end();
      }
    },
  };
  return [sqlite, postgres];
}
