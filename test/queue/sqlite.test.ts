import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { afterEach, describe, expect, test } from 'vitest';

import { all, raw } from '../../src/queue/engine.js';
import { openStore } from '../../src/queue/index.js';
import { openSqlite } from '../../src/queue/sqlite.js';
import { migrations } from '../../src/queue/migrations.js';
import type { Store } from '../../src/queue/store.js';
import { event, plain } from './fixtures.js';

describe('sqlite store files', () => {
  const dirs: string[] = [];
  const stores: Store[] = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function tempDir() {
    const dir = mkdtempSync(join(tmpdir(), 'relay-sqlite-'));
    dirs.push(dir);
    return dir;
  }

  test.each(['normal', 'full'] as const)('creates the directory and a WAL database (sync %s)', async (sync) => {
    const path = join(tempDir(), 'nested', 'deeper', 'relay.db');
    const store = await openStore({ driver: 'sqlite', path, sync });
    stores.push(store);
    expect(existsSync(path)).toBe(true);
    await store.ingest(event(), [plain()]);
    expect(existsSync(`${path}-wal`)).toBe(true);

    const peek = new Database(path, { readonly: true });
    try {
      expect(peek.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(peek.prepare('select count(*) as n from events').get()).toEqual({ n: 1 });
      expect(peek.prepare('select version from relay_migrations order by version').all()).toEqual(migrations.map((m) => ({ version: m.version })).sort((x, y) => x.version - y.version));
    } finally {
      peek.close();
    }
  });

  test('commits never checkpoint; a worker thread folds the WAL into the database file', async () => {
    const path = join(tempDir(), 'relay.db');
    const engine = openSqlite({ path, sync: 'normal' });
    try {
      // SQLite's automatic checkpoint would run inside a commit (a request's).
      expect(await engine.read(() => all(raw('pragma wal_autocheckpoint')))).toEqual([{ wal_autocheckpoint: 0 }]);
      await engine.write(() => all(raw('create table t (x blob)')));
      const before = statSync(path).size;
      await engine.write(() => all(raw('insert into t values (randomblob(200000))')));
      // The checkpointer's tick copies the committed pages into the main file.
      const deadline = Date.now() + 20_000;
      while (statSync(path).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(statSync(path).size).toBeGreaterThan(before);
    } finally {
      await engine.close();
    }
  });

  test('a grown WAL is cut back by the checkpointer once the store is quiet, never by a commit', async () => {
    const path = join(tempDir(), 'relay.db');
    const engine = openSqlite({ path, sync: 'normal', walTruncateOver: 1024 * 1024 });
    try {
      // Truncating a large WAL in the commit that restarts it stalled every request for ~250 ms.
      expect(await engine.read(() => all(raw('pragma journal_size_limit')))).toEqual([{ journal_size_limit: -1 }]);
      await engine.write(() => all(raw('create table t (x blob)')));
      for (let i = 0; i < 12; i++) await engine.write(() => all(raw('insert into t values (randomblob(250000))')));
      const wal = () => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);
      expect(wal()).toBeGreaterThan(1024 * 1024);
      const deadline = Date.now() + 30_000;
      while (wal() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(wal()).toBe(0);
      expect(await engine.read(() => all(raw('select count(*) as n from t')))).toEqual([{ n: 12 }]);
    } finally {
      await engine.close();
    }
  });

  test('close checkpoints the WAL into the database file', async () => {
    const path = join(tempDir(), 'relay.db');
    const store = await openStore({ driver: 'sqlite', path, sync: 'normal' });
    const e = event();
    await store.ingest(e, [plain()]);
    await store.close();
    // A WAL truncated to nothing: the main file alone holds the data.
    expect(!existsSync(`${path}-wal`) || (await import('node:fs')).statSync(`${path}-wal`).size === 0).toBe(true);
    const peek = new Database(path, { readonly: true });
    try {
      expect(peek.prepare('select event_id from events').all()).toEqual([{ event_id: e.id }]);
    } finally {
      peek.close();
    }
  });

  test('close commits ingests still waiting for their group', async () => {
    const path = join(tempDir(), 'relay.db');
    const store = await openStore({ driver: 'sqlite', path, sync: 'full' });
    const pending = Array.from({ length: 20 }, () => store.ingest(event(), [plain()]));
    await store.close();
    expect((await Promise.all(pending)).every((o) => o.status === 'accepted')).toBe(true);
    const reopened = await openStore({ driver: 'sqlite', path, sync: 'full' });
    stores.push(reopened);
    expect(await reopened.backlog()).toBe(20);
  });

  test('refuses a database from a newer Relay', async () => {
    const path = join(tempDir(), 'relay.db');
    stores.push(await openStore({ driver: 'sqlite', path, sync: 'normal' }));
    const db = new Database(path);
    db.prepare('insert into relay_migrations (version, name, applied_at) values (99, ?, 0)').run('future');
    db.close();
    await expect(openStore({ driver: 'sqlite', path, sync: 'normal' })).rejects.toThrow(/newer than this Relay/);
  });
});
