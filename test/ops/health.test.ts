// /healthz and /readyz, mounted in the ingest app over a real SQLite store:
// readiness follows the store, the config and shutdown.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type Koa from 'koa';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LoadedConfig } from '../../src/config/load.js';
import { createApp } from '../../src/ingest/server.js';
import { healthRoutes, type HealthDeps } from '../../src/ops/health.js';
import { openStore } from '../../src/queue/index.js';
import type { Store } from '../../src/queue/store.js';
import { loadYaml, minimal, tempDir } from '../helpers/config.js';

let store: Store;
let config: LoadedConfig | undefined;
let draining: boolean;
let url: string;
let closeServer: () => Promise<void>;

async function start(overrides: Partial<HealthDeps> = {}): Promise<void> {
  const loaded = await loadYaml(minimal);
  config = loaded;
  const app: Koa = createApp({
    config: () => loaded,
    store,
    logger: pino({ level: 'silent' }),
    onQueued: () => {},
    overloaded: () => false,
    draining: () => draining,
    extra: [healthRoutes({ store, config: () => config, draining: () => draining, ...overrides })],
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
}

async function get(path: string, init?: RequestInit): Promise<{ status: number; body: unknown; headers: Headers }> {
  const res = await fetch(`${url}${path}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined, headers: res.headers };
}

beforeEach(async () => {
  draining = false;
  store = await openStore({ driver: 'sqlite', path: join(tempDir(), 'relay.db'), sync: 'normal' });
});
afterEach(async () => {
  await closeServer();
  await store.close();
});

describe('/healthz', () => {
  it('is 200 while the process runs, whatever the store or shutdown say', async () => {
    await start();
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    draining = true;
    await store.close();
    expect(await get('/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('answers GET and HEAD only, uncached', async () => {
    await start();
    expect((await get('/healthz', { method: 'HEAD' })).status).toBe(200);
    const post = await get('/healthz', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await get('/readyz')).headers.get('cache-control')).toBe('no-store');
  });
});

describe('/readyz', () => {
  it('is 200 with a config loaded and the store answering', async () => {
    await start();
    expect(await get('/readyz')).toMatchObject({ status: 200, body: { status: 'ok' } });
  });

  it('is 503 while draining', async () => {
    await start();
    draining = true;
    expect(await get('/readyz')).toMatchObject({ status: 503, body: { status: 'unavailable', reason: 'draining' } });
  });

  it('is 503 once the store stops answering, without the database error in the answer', async () => {
    const warnings: object[] = [];
    await start({ logger: { warn: (obj) => warnings.push(obj) } });
    await store.close();
    const res = await get('/readyz');
    expect(res).toMatchObject({ status: 503, body: { status: 'unavailable', reason: 'store unreachable' } });
    expect(JSON.stringify(res.body)).not.toMatch(/database|connection/i);
    expect(warnings).toHaveLength(1);
  });

  it('is 503 when the store hangs past the ping timeout', async () => {
    const hung: Pick<Store, 'ping'> = { ping: () => new Promise<void>(() => {}) };
    await start({ store: hung, pingTimeoutMs: 50 });
    const started = Date.now();
    expect(await get('/readyz')).toMatchObject({ status: 503, body: { reason: 'store unreachable' } });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('is 503 without a config', async () => {
    await start();
    config = undefined;
    expect(await get('/readyz')).toMatchObject({ status: 503, body: { reason: 'no config loaded' } });
  });
});

it('leaves other paths to the ingest app', async () => {
  await start();
  expect(await get('/healthz/deep')).toMatchObject({ status: 404, body: { error: 'no source at this path' } });
  expect((await get('/webhooks/archivus')).status).toBe(405);
});
