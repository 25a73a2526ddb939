// The admin API, mounted in the ingest app over a real SQLite store: off
// without a token, 401 without the right one, the CLI's operations behind
// it, no secrets in what it shows, and an OpenAPI document that matches the
// router.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { adminRouter, adminRoutes, type AdminDeps, type ReloadOutcome } from '../../src/admin/api.js';
import { MASK } from '../../src/admin/operations.js';
import type { LoadedConfig } from '../../src/config/load.js';
import type { CircuitInfo } from '../../src/deliver/breaker.js';
import { createApp } from '../../src/ingest/server.js';
import { openStore } from '../../src/queue/index.js';
import type { AttemptRecord, DeliveryNext, PlannedDelivery, Store } from '../../src/queue/store.js';
import { loadYaml, tempDir } from '../helpers/config.js';
import { postArchivus } from '../helpers/relay-process.js';

const TOKEN = 'test-admin-token-0123456789abcdef';
const SLACK_URL = 'https://hooks.slack.com/services/T000/B000/SLACKSECRETXYZ';
const FORWARD_TOKEN = 'Bearer FORWARDTOKEN123';
const SLACK = 'hooks.slack.com';
const API = 'https://api.example.com';

const YAML = `
sources:
  archivus:
    path: /webhooks/archivus
    verify: { scheme: archivus, secret: s3cret-archivus }
  generic:
    path: /webhooks/generic
    verify: { scheme: hmac, header: X-Sig, secret: hmac-secret-value }
    event: { type: $.type, id: $.id }
actions:
  team-slack:
    use: slack
    with: { url: "${SLACK_URL}", text: "hi" }
rules:
  - name: contracts
    on: document.*
    when: { path: $.data.tag, equals: contract }
    actions:
      - use: team-slack
      - use: forward
        name: legal
        with: { url: "${API}/in", headers: { authorization: "${FORWARD_TOKEN}" } }
  - name: all
    on: "**"
    actions: [{ use: log }]
`;

type Seeded = PlannedDelivery & { outcome?: AttemptRecord['outcome'] };

/** Ingests an event, then drives each delivery that has an outcome through claim + finish. */
async function seed(store: Store, id: string, source: string, headers: Record<string, string>, deliveries: Seeded[]): Promise<void> {
  const body = Buffer.from(JSON.stringify({ id, type: 'document.processed', data: { tag: 'contract' } }));
  const plain = deliveries.map(({ outcome: _, ...d }) => d);
  const matched = [...new Set(plain.map((d) => d.rule))];
  await store.ingest({ id, source, type: 'document.processed', receivedAt: Date.now(), headers, rawBody: body, matched }, plain);
  for (const d of deliveries) {
    if (!d.outcome) continue;
    const claimed = await store.claim({ worker: 'seed', limit: 100, now: Date.now() + 1000, leaseMs: 60_000 });
    const mine = claimed.find((c) => c.rule === d.rule && c.action === d.action && c.events[0]?.id === id)!;
    await store.release(claimed.filter((c) => c !== mine));
    const next: DeliveryNext = d.outcome === 'delivered' ? { status: 'delivered' } : d.outcome === 'dead' ? { status: 'dead' } : { status: 'failed', nextAt: Date.now() + 60_000 };
    const record: AttemptRecord = { startedAt: Date.now(), durationMs: 5, outcome: d.outcome, ...(d.outcome !== 'delivered' && { status: 500, error: 'HTTP 500' }) };
    await store.finish(mine, record, next);
  }
}

let store: Store;
let config: LoadedConfig;
let reload: () => Promise<ReloadOutcome>;
let circuits: CircuitInfo[];
let errors: object[];
let infos: string[];
let url: string;
let closeServer: (() => Promise<void>) | undefined;

async function start(token: string | undefined): Promise<void> {
  const deps: AdminDeps = {
    token,
    store,
    circuits: () => circuits,
    config: () => config,
    reload: () => reload(),
    logger: { info: (_, msg) => infos.push(msg), error: (obj) => errors.push(obj) },
  };
  const app = createApp({
    config: () => config,
    store,
    logger: pino({ level: 'silent' }),
    onQueued: () => {},
    overloaded: () => false,
    draining: () => false,
    extra: [adminRoutes(deps)],
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeServer = () => new Promise<void>((resolve) => server.close(() => resolve()));
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function call(path: string, init: RequestInit & { token?: string | null; json?: unknown } = {}): Promise<Answer> {
  const { token = TOKEN, json, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  if (json !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(`${url}${path}`, { ...rest, headers, ...(json !== undefined && { method: rest.method ?? 'POST', body: JSON.stringify(json) }) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

beforeEach(async () => {
  errors = [];
  infos = [];
  circuits = [];
  reload = async () => ({ ok: true, hash: config.hash, changed: false });
  config = await loadYaml(YAML);
  store = await openStore({ driver: 'sqlite', path: join(tempDir(), 'relay.db'), sync: 'normal' });
  await seed(store, 'evt-dead', 'archivus', { 'content-type': 'application/json', 'x-archivus-signature': 'sha256=feedface' }, [
    { rule: 'contracts', action: 'team-slack', target: SLACK, outcome: 'dead' },
    { rule: 'contracts', action: 'legal', target: API, outcome: 'delivered' },
  ]);
  await seed(store, 'evt-ok', 'archivus', {}, [{ rule: 'all', action: '#0', target: 'log:#0', outcome: 'delivered' }]);
  await seed(store, 'evt-generic', 'generic', { 'x-sig': 'abcdef', 'x-trace': 'keep-me' }, [{ rule: 'all', action: '#0', target: 'log:#0' }]);
});
afterEach(async () => {
  await closeServer?.();
  closeServer = undefined;
  await store.close();
});

describe('without a token configured', () => {
  it.each([undefined, ''])('answers 404 on every /admin path (token %j), even to a bearer', async (token) => {
    await start(token);
    for (const path of ['/admin', '/admin/', '/admin/events', '/admin/config', '/admin/nope']) {
      // Answered by the admin gate itself, not by the ingest catch-all (a source could sit under /admin).
      expect(await call(path, { token: null })).toMatchObject({ status: 404, body: { error: 'not found' } });
      expect(await call(path, { token: 'anything-at-all-here' })).toMatchObject({ status: 404, body: { error: 'not found' } });
    }
    expect((await call('/admin/reload', { method: 'POST' })).status).toBe(404);
  });
});

describe('authentication', () => {
  beforeEach(() => start(TOKEN));

  it('refuses a missing token with 401 and a Bearer challenge', async () => {
    const res = await call('/admin/events', { token: null });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="relay-admin"');
    expect(res.body).toEqual({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: 'a bearer token is required', error: 'a bearer token is required' });
    // Issue 14 item 6: RFC 9457 problem details.
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('answers a usage error as a problem without CLI flag words', async () => {
    const res = await call('/admin/replay', { json: {} });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, title: 'Bad Request', detail: expect.stringMatching(/^replay needs event ids/) });
    expect(String(res.body.detail)).not.toMatch(/--/);
  });

  it.each([['wrong', 'x'.repeat(TOKEN.length)], ['prefix', TOKEN.slice(0, -1)], ['longer', `${TOKEN}x`], ['case', TOKEN.toUpperCase()]])(
    'refuses a %s token with 401 invalid_token',
    async (_, token) => {
      const res = await call('/admin/events', { token });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="relay-admin", error="invalid_token"');
    },
  );

  it('refuses other schemes and malformed headers', async () => {
    for (const authorization of [`Basic ${TOKEN}`, TOKEN, `Bearer`, `Bearer ${TOKEN} extra`]) {
      expect((await call('/admin/events', { token: null, headers: { authorization } })).status).toBe(401);
    }
  });

  it('refuses before routing: unknown endpoints and wrong methods are 401 too', async () => {
    expect((await call('/admin/nope', { token: null })).status).toBe(401);
    expect((await call('/admin/events', { token: null, method: 'DELETE' })).status).toBe(401);
    expect((await call('/admin/replay', { token: null, json: { dead: true } })).status).toBe(401);
    expect((await store.listEvents({ status: 'dead' })).length).toBe(1); // nothing was replayed
  });

  it('accepts the token, with the scheme in any case', async () => {
    expect((await call('/admin/events')).status).toBe(200);
    expect((await call('/admin/events', { token: null, headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  it('refuses to start with a short token', () => {
    expect(() => adminRoutes({ token: 'short-token', store, circuits: () => [], config: () => config, reload })).toThrow(/at least 16 characters/);
  });

  it('leaves non-admin paths alone: a near miss or another case is not the admin API', async () => {
    expect(await call('/administrator', { token: null })).toMatchObject({ status: 404, body: { error: 'no source at this path' } });
    expect(await call('/ADMIN/events', { token: null })).toMatchObject({ status: 404, body: { error: 'no source at this path' } });
    const res = await postArchivus(`${url}/webhooks/archivus`, JSON.stringify({ id: 'evt-new', type: 'push' }), 's3cret-archivus');
    expect(res.status).toBe(202);
  });
});

describe('operations', () => {
  beforeEach(() => start(TOKEN));

  it('GET /admin/events lists and filters, and pages with next', async () => {
    const all = await call('/admin/events');
    expect(all.status).toBe(200);
    expect((all.body.events as Array<{ id: string }>).map((e) => e.id)).toEqual(['evt-generic', 'evt-ok', 'evt-dead']);
    expect(all.body.next).toBeNull();
    const dead = await call('/admin/events?status=dead');
    expect(dead.body.events).toMatchObject([{ id: 'evt-dead', status: 'dead', source: 'archivus' }]);
    const page = await call('/admin/events?limit=2');
    expect(page.body.next).toEqual(expect.any(Number));
    const rest = await call(`/admin/events?limit=2&before=${String(page.body.next)}`);
    expect(rest.body.events).toMatchObject([{ id: 'evt-dead' }]);
    expect((await call('/admin/events?source=generic')).body.events).toMatchObject([{ id: 'evt-generic' }]);
  });

  it('answers 400 with the UsageError for bad queries', async () => {
    expect(await call('/admin/events?status=lost')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/status "lost"/) } });
    expect(await call('/admin/events?limit=0')).toMatchObject({ status: 400, body: { error: expect.stringMatching(/limit/) } });
    expect(await call('/admin/events?since=yesterday')).toMatchObject({ status: 400 });
    expect(await call('/admin/events?status=dead&status=failed')).toMatchObject({ status: 400, body: { error: 'status may be given once' } });
  });

  it('GET /admin/events/:id shows an event with signatures masked, by id or seq; unknown is 404', async () => {
    const res = await call('/admin/events/evt-dead');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: 'evt-dead', status: 'dead', matched: ['contracts'], body: { format: 'json' } });
    expect((res.body.headers as Record<string, string>)['x-archivus-signature']).toBe(MASK);
    // The hmac source's configured header is masked as well; other headers are kept.
    const generic = await call('/admin/events/evt-generic');
    expect(generic.body.headers).toEqual({ 'x-sig': MASK, 'x-trace': 'keep-me' });
    const bySeq = await call(`/admin/events/${String(res.body.seq)}`);
    expect(bySeq.body.id).toBe('evt-dead');
    expect(await call('/admin/events/nope')).toMatchObject({ status: 404, body: { error: 'no event with id or seq "nope"' } });
    expect((await call('/admin/events/%E0%A4%A')).status).toBeLessThan(500); // a malformed escape is not our failure
  });

  it('GET /admin/events/:id/deliveries lists the deliveries with their attempts', async () => {
    const res = await call('/admin/events/evt-dead/deliveries');
    expect(res.status).toBe(200);
    expect(res.body.deliveries).toMatchObject([
      { rule: 'contracts', action: 'team-slack', status: 'dead', attempts: [{ n: 1, outcome: 'dead', status: 500 }] },
      { rule: 'contracts', action: 'legal', status: 'delivered' },
    ]);
    expect((await call('/admin/events/nope/deliveries')).status).toBe(404);
  });

  it('GET /admin/dead-letters lists dead deliveries', async () => {
    const res = await call('/admin/dead-letters');
    expect(res.status).toBe(200);
    expect(res.body.deadLetters).toMatchObject([{ event: { id: 'evt-dead' }, delivery: { action: 'team-slack', status: 'dead' } }]);
    expect((await call('/admin/dead-letters?source=generic')).body.deadLetters).toEqual([]);
  });

  it('POST /admin/replay replays and summarises', async () => {
    const res = await call('/admin/replay', { json: { dead: true } });
    expect(res).toMatchObject({ status: 200, body: { events: 1, deliveries: 1, missing: [] } });
    expect(await store.listEvents({ status: 'dead' })).toEqual([]);
    const byId = await call('/admin/replay', { json: { ids: ['evt-ok', 'ghost'], rule: 'all' } });
    expect(byId.body).toMatchObject({ events: 1, deliveries: 1, missing: ['ghost'] });
    expect(infos).toEqual(['admin: replay', 'admin: replay']);
  });

  it('POST /admin/replay refuses bad requests without replaying anything', async () => {
    expect(await call('/admin/replay', { json: {} })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/needs event ids/) } });
    expect(await call('/admin/replay', { json: { dead: true, rules: 'contracts' } })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/unknown field "rules"/) } });
    expect(await call('/admin/replay', { json: { dead: 'yes' } })).toMatchObject({ status: 400 });
    expect(await call('/admin/replay', { json: { ids: 'evt-dead' } })).toMatchObject({ status: 400 });
    expect(await call('/admin/replay', { json: [1] })).toMatchObject({ status: 400 });
    expect(await call('/admin/replay', { json: { since: 'soon' } })).toMatchObject({ status: 400 });
    const broken = await call('/admin/replay', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"dead": tru' });
    expect(broken.status).toBe(400);
    const text = await call('/admin/replay', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"dead":true}' });
    expect(text.status).toBe(415);
    const huge = await call('/admin/replay', { json: { ids: Array.from({ length: 8000 }, (_, i) => `evt-${i}`) } });
    expect(huge.status).toBe(413);
    expect((await store.listEvents({ status: 'dead' })).length).toBe(1);
  });

  it('GET /admin/targets joins the stored failures with the live circuits', async () => {
    circuits = [
      { target: SLACK, state: 'open', openedAt: Date.UTC(2025, 0, 1), reopensAt: Date.UTC(2025, 0, 1, 0, 0, 30), failures: 5 },
      { target: API, state: 'closed', openedAt: null, reopensAt: null, failures: 0 },
    ];
    const res = await call('/admin/targets');
    expect(res.status).toBe(200);
    expect(res.body.targets).toEqual([
      {
        target: SLACK,
        circuit: { state: 'open', failures: 5, openedAt: '2025-01-01T00:00:00.000Z', reopensAt: '2025-01-01T00:00:30.000Z' },
        health: { failures: 1, circuit: 'closed', lastAttemptAt: expect.any(String), lastError: 'HTTP 500', queued: 0 },
      },
      { target: API, circuit: { state: 'closed', failures: 0, openedAt: null, reopensAt: null }, health: null },
    ]);
  });

  it('POST /admin/reload answers 200 on success and 422 with the errors when refused', async () => {
    expect(await call('/admin/reload', { method: 'POST' })).toEqual(expect.objectContaining({ status: 200, body: { ok: true, hash: config.hash, changed: false } }));
    reload = async () => ({ ok: false, errors: [{ path: ['rules', 0, 'on'], message: 'expected a string', file: 'relay.config.yaml', line: 3, col: 5 }] });
    expect(await call('/admin/reload', { method: 'POST' })).toEqual(
      expect.objectContaining({ status: 422, body: { ok: false, hash: config.hash, errors: ['relay.config.yaml:3:5 rules[0].on: expected a string'] } }),
    );
    expect((await call('/admin/reload')).status).toBe(405);
  });

  it('answers 500 without details when an operation fails, and logs it', async () => {
    reload = () => Promise.reject(new Error('disk on fire at /secret/path'));
    expect(await call('/admin/reload', { method: 'POST' })).toMatchObject({ status: 500, body: { error: 'internal error' } });
    expect(errors).toHaveLength(1);
  });

  it('GET /admin/config shows sources, rules and actions, and no secret', async () => {
    const res = await call('/admin/config');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      hash: config.hash,
      loadedAt: new Date(config.loadedAt).toISOString(),
      sources: [
        { name: 'archivus', path: '/webhooks/archivus', scheme: 'archivus' },
        { name: 'generic', path: '/webhooks/generic', scheme: 'hmac' },
      ],
      rules: [
        {
          name: 'contracts',
          on: ['document.*'],
          stop: false,
          conditions: true,
          actions: [
            { name: 'team-slack', plugin: 'slack', target: expect.any(String), enabled: true },
            { name: 'legal', plugin: 'forward', target: API, enabled: true },
          ],
        },
        { name: 'all', on: ['**'], conditions: false, actions: [{ name: expect.stringMatching(/^log~[0-9a-f]{8}$/), plugin: 'log' }] },
      ],
    });
    const text = JSON.stringify(res.body);
    for (const secret of ['s3cret-archivus', 'hmac-secret-value', 'SLACKSECRETXYZ', 'FORWARDTOKEN123']) expect(text).not.toContain(secret);
  });

  it('answers unknown endpoints with 404 and wrong methods with 405, as JSON', async () => {
    expect(await call('/admin/nope')).toMatchObject({ status: 404, body: { error: 'no such admin endpoint' } });
    expect(await call('/admin')).toMatchObject({ status: 404 });
    const res = await call('/admin/events', { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toContain('GET');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('docs/admin-openapi.yaml', () => {
  const file = fileURLToPath(new URL('../../docs/admin-openapi.yaml', import.meta.url));
  interface OpenApi {
    openapi: string;
    security: Array<Record<string, unknown>>;
    components: { securitySchemes: Record<string, { type: string; scheme?: string; in?: string; name?: string }> };
    paths: Record<string, Record<string, unknown>>;
  }
  const doc = parse(readFileSync(file, 'utf8')) as OpenApi;

  /** Every (method, path) the router declares, in OpenAPI's path syntax. */
  function declared(): string[] {
    const router = adminRouter({ store, circuits: () => [], config: () => config, reload });
    return router.stack.flatMap((layer) =>
      layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m.toLowerCase()} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`),
    );
  }
  const documented = (): string[] => Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`));

  it('is OpenAPI 3.1 with the bearer token, or the dashboard session, applied to everything', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.session).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'relay_session' });
    expect(doc.security).toEqual([{ bearer: [] }, { session: [] }]);
  });

  it('documents every route the router declares, and nothing else', () => {
    const routes = declared();
    expect(routes.length).toBeGreaterThanOrEqual(8);
    expect(documented().sort()).toEqual(routes.sort());
  });
});
