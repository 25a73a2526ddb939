// Store drivers for parameterised suites: `describe.each(await storeDrivers())`.
// SQLite always runs. PostgreSQL runs when RELAY_TEST_PG_URL is set (and then
// must connect, or the tests fail) or when the local default answers; each
// location is a schema of its own, dropped on cleanup.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pg from 'pg';

import { openStore } from '../../src/queue/index.js';
import type { StorageConfig, Store } from '../../src/queue/store.js';

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** One empty database location; open it as many times as a test needs. */
export interface StoreLocation {
  readonly config: StorageConfig;
  /** Opens (and migrates) another store on this location: another connection. */
  open(): Promise<Store>;
}

export interface StoreDriver {
  readonly name: 'sqlite' | 'postgres';
  /** A fresh, empty location. */
  location(): Promise<StoreLocation>;
  /** A store on a fresh location. */
  open(): Promise<Store>;
  /** Closes every store this driver opened and removes their locations. */
  cleanup(): Promise<void>;
}

function tracker() {
  const stores: Store[] = [];
  const removers: Array<() => Promise<void> | void> = [];
  return {
    async open(config: StorageConfig) {
      const store = await openStore(config);
      stores.push(store);
      return store;
    },
    onCleanup(fn: () => Promise<void> | void) {
      removers.push(fn);
    },
    async cleanup() {
      const open = stores.splice(0);
      await Promise.allSettled(open.map((s) => s.close()));
      for (const fn of removers.splice(0)) await fn();
    },
  };
}

export function sqliteDriver(sync: 'normal' | 'full' = 'normal'): StoreDriver {
  const t = tracker();
  const driver: StoreDriver = {
    name: 'sqlite',
    async location() {
      const dir = mkdtempSync(join(tmpdir(), 'relay-store-'));
      t.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
      const config: StorageConfig = { driver: 'sqlite', path: join(dir, 'relay.db'), sync };
      return { config, open: () => t.open(config) };
    },
    async open() {
      return (await driver.location()).open();
    },
    cleanup: () => t.cleanup(),
  };
  return driver;
}

export function postgresDriver(url: string): StoreDriver {
  const t = tracker();
  const driver: StoreDriver = {
    name: 'postgres',
    async location() {
      const schema = `relay_test_${randomBytes(6).toString('hex')}`;
      t.onCleanup(async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`drop schema if exists "${schema}" cascade`);
        } finally {
          await client.end();
        }
      });
      const config: StorageConfig = { driver: 'postgres', url, schema };
      return { config, open: () => t.open(config) };
    },
    async open() {
      return (await driver.location()).open();
    },
    cleanup: () => t.cleanup(),
  };
  return driver;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

let probe: Promise<string | undefined> | undefined;

/** The PostgreSQL URL to test against, or undefined to skip PostgreSQL. */
export function postgresUrl(): Promise<string | undefined> {
  probe ??= (async () => {
    const configured = process.env.RELAY_TEST_PG_URL;
    if (configured !== undefined && configured !== '') return configured;
    if (await answers(DEFAULT_PG_URL)) return DEFAULT_PG_URL;
    console.warn(
      `PostgreSQL does not answer at ${DEFAULT_PG_URL} and RELAY_TEST_PG_URL is not set: skipping the PostgreSQL store tests`,
    );
    return undefined;
  })();
  return probe;
}

export async function storeDrivers(): Promise<StoreDriver[]> {
  const url = await postgresUrl();
  return url === undefined ? [sqliteDriver()] : [sqliteDriver(), postgresDriver(url)];
}
