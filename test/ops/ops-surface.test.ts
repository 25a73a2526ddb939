// Issue 12 item 8, on real servers: the ops surface can be separated from
// the public port, read-only access has its own token, dashboard logins are
// throttled per client, tokens can come from files, and the example nginx
// publishes only the webhooks.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus } from '../helpers/relay-process.js';
import { tempDir } from '../helpers/config.js';

const ADMIN = 'ops-admin-token-0123456789abcdef';
const READ = 'ops-read-token-0123456789abcdef';
const auth = (token: string) => ({ authorization: `Bearer ${token}` });
const SOURCES = `
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: s3cret } }
rules:
  - { name: all, on: "**", actions: [{ use: log }] }
`;

let relay: Relay | undefined;
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
});

describe('server.admin: a separate ops listener', () => {
  it('serves /admin, /ui and /metrics only there; the public port keeps webhooks and health', async () => {
    relay = await startInProcess(`server: { admin: { host: 127.0.0.1, port: 0 } }\n${SOURCES}`, { RELAY_ADMIN_TOKEN: ADMIN });
    const pub = relay.url;
    const ops = relay.adminUrl;
    expect(ops).not.toBe(pub);

    expect((await postArchivus(`${pub}/webhooks/archivus`, JSON.stringify({ id: 'e1', type: 'x' }), 's3cret')).status).toBe(202);
    expect((await fetch(`${pub}/healthz`)).status).toBe(200);
    expect((await fetch(`${pub}/readyz`)).status).toBe(200);
    for (const path of ['/admin/events', '/metrics', '/ui', '/ui/login']) {
      const res = await fetch(`${pub}${path}`, { headers: auth(ADMIN), redirect: 'manual' });
      expect(res.status, path).toBe(404);
      expect(await res.text()).not.toContain('relay_');
    }

    expect((await fetch(`${ops}/admin/events`, { headers: auth(ADMIN) })).status).toBe(200);
    expect(await (await fetch(`${ops}/metrics`)).text()).toContain('relay_events_received_total');
    expect((await fetch(`${ops}/ui/login`)).status).toBe(200);
    expect((await fetch(`${ops}/healthz`)).status).toBe(200);
    // Webhooks are not taken on the ops listener.
    expect((await postArchivus(`${ops}/webhooks/archivus`, JSON.stringify({ id: 'e2', type: 'x' }), 's3cret')).status).toBe(404);
  });
});

describe('RELAY_READ_TOKEN', () => {
  it('reads everything and changes nothing', async () => {
    relay = await startInProcess(SOURCES, { RELAY_ADMIN_TOKEN: ADMIN, RELAY_READ_TOKEN: READ });
    expect((await postArchivus(`${relay.url}/webhooks/archivus`, JSON.stringify({ id: 'r1', type: 'x' }), 's3cret')).status).toBe(202);
    expect((await fetch(`${relay.url}/admin/events/r1`, { headers: auth(READ) })).status).toBe(200);
    expect((await fetch(`${relay.url}/admin/stats`, { headers: auth(READ) })).status).toBe(200);
    const replay = await fetch(`${relay.url}/admin/replay`, {
      method: 'POST',
      headers: { ...auth(READ), 'content-type': 'application/json' },
      body: JSON.stringify({ ids: ['r1'] }),
    });
    expect(replay.status).toBe(403);
    expect(((await replay.json()) as { error: string }).error).toMatch(/read-only token/);
    expect((await fetch(`${relay.url}/admin/reload`, { method: 'POST', headers: auth(READ) })).status).toBe(403);
    expect((await fetch(`${relay.url}/admin/reload`, { method: 'POST', headers: auth(ADMIN) })).status).toBe(200);
    expect((await fetch(`${relay.url}/admin/events`, { headers: auth('not-the-token-0123456789') })).status).toBe(401);
  });

  it('alone, turns on a read-only admin API', async () => {
    relay = await startInProcess(SOURCES, { RELAY_READ_TOKEN: READ });
    expect((await fetch(`${relay.url}/admin/events`, { headers: auth(READ) })).status).toBe(200);
    expect((await fetch(`${relay.url}/admin/reload`, { method: 'POST', headers: auth(READ) })).status).toBe(403);
  });
});

describe('*_FILE token variants', () => {
  it('reads RELAY_ADMIN_TOKEN_FILE and RELAY_READ_TOKEN_FILE (trailing newline ignored)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'admin'), `${ADMIN}\n`);
    writeFileSync(join(dir, 'read'), `${READ}\n`);
    relay = await startInProcess(SOURCES, { RELAY_ADMIN_TOKEN_FILE: join(dir, 'admin'), RELAY_READ_TOKEN_FILE: join(dir, 'read') });
    expect((await fetch(`${relay.url}/admin/reload`, { method: 'POST', headers: auth(ADMIN) })).status).toBe(200);
    expect((await fetch(`${relay.url}/admin/events`, { headers: auth(READ) })).status).toBe(200);
    expect((await fetch(`${relay.url}/admin/reload`, { method: 'POST', headers: auth(READ) })).status).toBe(403);
  });

  it('refuses to start with both a variable and its file, or an unreadable file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'admin'), ADMIN);
    await expect(startInProcess(SOURCES, { RELAY_ADMIN_TOKEN: ADMIN, RELAY_ADMIN_TOKEN_FILE: join(dir, 'admin') })).rejects.toThrow(/RELAY_ADMIN_TOKEN or RELAY_ADMIN_TOKEN_FILE, not both/);
    await expect(startInProcess(SOURCES, { RELAY_READ_TOKEN_FILE: join(dir, 'missing') })).rejects.toThrow(/cannot read RELAY_READ_TOKEN_FILE/);
  });
});

describe('/ui login throttling', () => {
  it('answers 429 with Retry-After after 10 failed logins from one client; other clients are unaffected', async () => {
    relay = await startInProcess(`server: { trustProxy: true }\n${SOURCES}`, { RELAY_ADMIN_TOKEN: ADMIN });
    const login = (token: string, ip: string) =>
      fetch(`${relay!.url}/ui/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip },
        body: new URLSearchParams({ token, next: '/ui' }).toString(),
        redirect: 'manual',
      });
    for (let i = 0; i < 10; i++) expect((await login(`guess-${i}`, '203.0.113.7')).status).toBe(401);
    const throttled = await login(ADMIN, '203.0.113.7');
    expect(throttled.status).toBe(429);
    const retryAfter = Number(throttled.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(300);
    // Another address still logs in.
    expect((await login(ADMIN, '198.51.100.9')).status).toBe(303);
  });
});

describe('deploy/nginx.conf', () => {
  it('publishes only /webhooks/ and the health checks', () => {
    const conf = readFileSync(new URL('../../deploy/nginx.conf', import.meta.url), 'utf8').replace(/#.*$/gm, '');
    const locations = [...conf.matchAll(/location\s+(=\s*)?(\S+)\s*\{/g)].map((m) => m[2]);
    expect(locations.length).toBeGreaterThan(0);
    for (const l of locations) expect(['/webhooks/', '/healthz', '/readyz'], l).toContain(l);
    expect(locations).toContain('/webhooks/');
  });
});
