// Without RELAY_ADMIN_TOKEN and RELAY_READ_TOKEN a running Relay answers
// /admin and /ui from src/admin/off.ts and never loads the admin API or the
// dashboard. Its answers must be the ones those modules give when off, byte
// for byte: status, headers and problem document.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '../../src/admin/api.js';
import type { Store } from '../../src/queue/store.js';
import type { Relay } from '../../src/relay.js';
import { uiRoutes } from '../../src/ui/routes.js';
import { minimal } from '../helpers/config.js';
import { startInProcess } from '../helpers/in-process.js';

const PATHS = ['/admin', '/admin/', '/admin/events', '/admin/config', '/ui', '/ui/events', '/ui/login', '/ui/static/app.js'];

async function answer(base: string, path: string, method = 'GET') {
  const res = await fetch(`${base}${path}`, { method, headers: { authorization: 'Bearer anything-at-all-here' } });
  const pick = ['content-type', 'cache-control', 'www-authenticate'].map((h) => [h, res.headers.get(h)]);
  return { status: res.status, headers: Object.fromEntries(pick), body: await res.text() };
}

describe('/admin and /ui without tokens', () => {
  let relay: Relay;
  let reference: Server;
  let referenceUrl: string;
  beforeAll(async () => {
    relay = await startInProcess(minimal);
    // The modules themselves, off (no token, no sessions), in front of the same 404 Relay gives other paths.
    const app = new Koa();
    app.use(adminRoutes({ token: undefined, store: undefined as unknown as Store, circuits: () => [], config: () => relay.activeConfig, reload: () => relay.reload() }));
    app.use(uiRoutes({ sessions: undefined }));
    reference = createServer(app.callback());
    await new Promise<void>((resolve) => reference.listen(0, '127.0.0.1', resolve));
    referenceUrl = `http://127.0.0.1:${(reference.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await relay.stop();
    await new Promise((resolve) => reference.close(resolve));
  });

  it('answer as the admin API and the dashboard do when off', async () => {
    for (const path of PATHS) {
      for (const method of ['GET', 'POST']) {
        const got = await answer(relay.url, path, method);
        expect(got.status, `${method} ${path}`).toBe(404);
        expect(got, `${method} ${path}`).toEqual(await answer(referenceUrl, path, method));
      }
    }
  });
});
