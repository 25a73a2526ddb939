// State shared by several instances: circuits (both engines), and on
// PostgreSQL the rate-limit table and the prune lock.

import pg from 'pg';
import { afterEach, describe, expect, test } from 'vitest';

import { createRateLimit } from '../../src/ingest/rate-limit.js';
import { postgresLimiters } from '../../src/queue/limits.js';
import type { StorageConfig } from '../../src/queue/store.js';
import { postgresDriver, postgresUrl, storeDrivers } from '../helpers/drivers.js';
import { event, T0 } from './fixtures.js';

describe.each(await storeDrivers())('shared circuits on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('an open circuit is visible to another store until its cool-down ends; a close clears it', async () => {
    const location = await driver.location();
    const [a, b] = [await location.open(), await location.open()];
    await a.saveCircuit({ target: 'https://down.example', openUntil: T0 + 30_000, failures: 5 }, T0);
    await a.saveCircuit({ target: 'https://up.example', openUntil: null, failures: 0 }, T0);
    expect(await b.openCircuits(T0)).toEqual([{ target: 'https://down.example', openUntil: T0 + 30_000, failures: 5 }]);
    expect(await b.openCircuits(T0 + 30_000)).toEqual([]);

    // A re-open (doubled cool-down) overwrites the row; a close empties the view.
    await b.saveCircuit({ target: 'https://down.example', openUntil: T0 + 90_000, failures: 6 }, T0 + 30_000);
    expect(await a.openCircuits(T0 + 60_000)).toEqual([{ target: 'https://down.example', openUntil: T0 + 90_000, failures: 6 }]);
    await a.saveCircuit({ target: 'https://down.example', openUntil: null, failures: 0 }, T0 + 61_000);
    expect(await b.openCircuits(T0 + 61_000)).toEqual([]);
  });
});

const url = await postgresUrl();

describe.skipIf(url === undefined)('PostgreSQL shared state', () => {
  const driver = postgresDriver(url ?? '');
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
    await driver.cleanup();
  });

  async function sql(config: StorageConfig, text: string, values: unknown[] = []) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      if (config.driver === 'postgres') await client.query(`set search_path to "${config.schema}"`);
      return (await client.query(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  function limiters(config: StorageConfig) {
    if (config.driver !== 'postgres') throw new Error('postgres only');
    const l = postgresLimiters(config.url, config.schema);
    closers.push(l.close);
    return l.factory;
  }

  test('rate limits count across instances, per source, and a store failure is not "allowed"', async () => {
    const location = await driver.location();
    await location.open(); // migrates: creates the table
    const at = (source: string) => ['sources', source, 'rateLimit'];
    // Two instances: two pools, two limiters for the same source.
    const one = createRateLimit({ rate: 3, per: '1m' }, at('archivus'), limiters(location.config));
    const two = createRateLimit({ rate: 3, per: '1m' }, at('archivus'), limiters(location.config));
    const other = createRateLimit({ rate: 3, per: '1m' }, at('github'), limiters(location.config));

    const taken = [];
    for (let i = 0; i < 6; i++) taken.push(await (i % 2 === 0 ? one : two).take('source'));
    expect(taken.filter((t) => t.ok)).toHaveLength(3);
    expect(taken.slice(3)).toEqual([
      { ok: false, retryAfterSeconds: expect.any(Number) },
      { ok: false, retryAfterSeconds: expect.any(Number) },
      { ok: false, retryAfterSeconds: expect.any(Number) },
    ]);
    expect(taken.slice(3).every((t) => !t.ok && t.retryAfterSeconds > 50 && t.retryAfterSeconds <= 60)).toBe(true);
    // Another source's prefix keeps its own count.
    expect(await other.take('source')).toEqual({ ok: true });
    const keys = (await sql(location.config, 'select key from rate_limits order by key')).map((r: { key: string }) => r.key);
    expect(keys).toEqual(['relay:sources.archivus.rateLimit:source', 'relay:sources.github.rateLimit:source']);

    await sql(location.config, 'drop table rate_limits');
    await expect(one.take('source')).rejects.toThrow(/rate_limits/);
  });

  test('prune skips while another instance holds the prune lock, and clears expired counters', async () => {
    const location = await driver.location();
    const store = await location.open();
    if (location.config.driver !== 'postgres') throw new Error('postgres only');
    for (let i = 0; i < 3; i++) await store.ingest(event(), []);
    const now = Date.now();
    await sql(location.config, 'insert into rate_limits values ($1, 1, $2), ($3, 1, $4)', ['old', now - 1000, 'live', now + 60_000]);

    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select pg_advisory_xact_lock(hashtext($1))', [`relay:prune:${location.config.schema}`]);
      expect(await store.prune(T0 + 1)).toEqual({ events: 0, skipped: true });
      expect(await store.listEvents({})).toHaveLength(3);
      await holder.query('commit');
    } finally {
      await holder.end();
    }
    expect(await store.prune(T0 + 1)).toEqual({ events: 3 });
    const keys = (await sql(location.config, 'select key from rate_limits')).map((r: { key: string }) => r.key);
    expect(keys).toEqual(['live']);
  });
});
