// Several OS processes claiming from one database: SQLite's BEGIN IMMEDIATE
// and busy_timeout, PostgreSQL's SKIP LOCKED, with real parallelism.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { afterEach, describe, expect, test } from 'vitest';

import { storeDrivers } from '../helpers/drivers.js';
import { event, plain, T0 } from './fixtures.js';

const script = fileURLToPath(new URL('./claimer-process.ts', import.meta.url));

describe.each(await storeDrivers())('claims from several processes on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('no delivery is claimed by two processes', async () => {
    const location = await driver.location();
    const store = await location.open();
    await Promise.all(Array.from({ length: 400 }, () => store.ingest(event(), [plain()])));

    const children = ['p1', 'p2', 'p3'].map((worker) => {
      const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(location.config), worker, String(T0 + 1)], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      const ready = new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => out.includes('ready\n') && resolve());
        child.once('exit', (code) => reject(new Error(`${worker} exited ${code} before ready`)));
      });
      const done = new Promise<number[]>((resolve, reject) => {
        child.once('exit', (code) =>
          code === 0 ? resolve(JSON.parse(out.split('\n')[1]!) as number[]) : reject(new Error(`${worker} exited ${code}`)),
        );
      });
      return { child, ready, done };
    });
    await Promise.all(children.map((c) => c.ready));
    for (const c of children) c.child.stdin.end('go\n');
    const perProcess = await Promise.all(children.map((c) => c.done));
    const all = perProcess.flat();
    // They really ran side by side.
    expect(perProcess.filter((ids) => ids.length > 0).length).toBeGreaterThanOrEqual(2);
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(400);
    expect(await store.backlog()).toBe(0);
    expect((await store.listEvents({ status: 'delivered', limit: 1000 })).length).toBe(400);
  }, 90_000);
});
