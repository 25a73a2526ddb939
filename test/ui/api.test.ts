// The admin endpoints the dashboard reads, over HTTP on a running Relay with
// a real receiver: overview, stats, rules with recent matches, dry runs (of
// a pasted event and of a stored one), and replaying a single delivery.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { inlineName } from '../../src/config/actions.js';
import { startInProcess } from '../helpers/in-process.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';

const TOKEN = 'ui-api-admin-token-0123456789';
const SECRET = 'archivus-secret';

const yaml = (target: Receiver) => `
delivery: { retry: { attempts: 2, initialDelay: 20ms, maxDelay: 40ms } }
sources:
  archivus:
    path: /webhooks/archivus
    verify: { scheme: archivus, secret: ${SECRET} }
rules:
  - name: contracts
    on: document.processed
    when: { path: $.data.tag, equals: contract }
    actions:
      - use: forward
        name: legal
        with: { url: "${target.url}/legal?token=URL-SECRET-456&doc={{ payload.data.document_id }}", headers: { x-doc: "{{ payload.data.document_id }}", authorization: "Bearer FORWARD-SECRET-123" } }
      - use: forward
        name: audit
        with: { url: "${target.url}/audit" }
  - name: uploads
    on: document.uploaded
    actions: [{ use: log }]
`;

const doc = (id: string, type: string, tag: string) => JSON.stringify({ id, type, data: { document_id: `doc-${id}`, tag } });

let relay: Relay;
let target: Receiver;
let legalFails = true;

async function admin(path: string, init: { method?: string; json?: unknown } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${relay.url}/admin${path}`, {
    method: init.method ?? (init.json !== undefined ? 'POST' : 'GET'),
    headers,
    body: init.json === undefined ? undefined : typeof init.json === 'string' ? init.json : JSON.stringify(init.json),
  });
  return { status: res.status, body: await res.json() };
}

const deliveriesOf = async (id: string) => (await admin(`/events/${id}`)).body.deliveries as Array<{ action: string; status: string; attempts: unknown[] }>;

beforeAll(async () => {
  target = await startReceiver((req) => ({ status: req.url.startsWith('/legal') && legalFails ? 500 : 200 }));
  relay = await startInProcess(yaml(target), { RELAY_ADMIN_TOKEN: TOKEN });
  for (const [id, type, tag] of [['c1', 'document.processed', 'contract'], ['c2', 'document.processed', 'invoice'], ['u1', 'document.uploaded', '']] as const) {
    expect((await postArchivus(`${relay.url}/webhooks/archivus`, doc(id, type, tag), SECRET)).status).toBe(202);
  }
  await waitFor(async () => (await deliveriesOf('c1')).find((d) => d.action === 'legal')?.status === 'dead', 'the legal delivery to die');
  await waitFor(async () => (await deliveriesOf('u1'))[0]?.status === 'delivered', 'the log delivery');
});
afterAll(async () => {
  await relay?.stop();
  await target?.close();
});

describe('dashboard endpoints', () => {
  it('GET /admin/overview: backlog, dead letters, open circuits and the active config', async () => {
    const res = await admin('/overview');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      backlog: 0,
      deadLetters: 1,
      openCircuits: [],
      config: { hash: relay.activeConfig.hash, loadedAt: new Date(relay.activeConfig.loadedAt).toISOString(), file: relay.activeConfig.file, sources: 1, rules: 2 },
    });
  });

  it('GET /admin/stats: events per source and attempts per action, in aligned buckets', async () => {
    const hour = await admin('/stats?window=1h');
    expect(hour.status).toBe(200);
    expect(hour.body.bucketMs).toBe(60_000);
    expect(hour.body.buckets).toHaveLength(60);
    expect(Date.parse(hour.body.buckets[59])).toBe(Math.floor(Date.now() / 60_000) * 60_000);
    const sum = (xs: number[]) => xs.reduce((n, x) => n + x, 0);
    expect(hour.body.events.map((e: { source: string; counts: number[] }) => [e.source, sum(e.counts)])).toEqual([['archivus', 3]]);
    const byAction = Object.fromEntries(hour.body.deliveries.map((d: Record<string, unknown>) => [d.action, { delivered: sum(d.delivered as number[]), retry: sum(d.retry as number[]), dead: sum(d.dead as number[]) }]));
    expect(byAction).toEqual({ audit: { delivered: 1, retry: 0, dead: 0 }, legal: { delivered: 0, retry: 1, dead: 1 }, [`uploads/${inlineName({ use: 'log' })}`]: { delivered: 1, retry: 0, dead: 0 } });

    const day = await admin('/stats?window=24h');
    expect(day.body.buckets).toHaveLength(96);
    expect(day.body.bucketMs).toBe(15 * 60_000);
    // Issue 14 item 6: any duration up to the retention (7 days by default).
    const week = await admin('/stats?window=7d');
    expect(week.status).toBe(200);
    expect(week.body).toMatchObject({ window: '7d', bucketMs: 3 * 3600_000 });
    expect(week.body.buckets).toHaveLength(56);
    expect(sum(week.body.events[0].counts)).toBe(3);
    expect(await admin('/stats?window=8d')).toMatchObject({ status: 400, body: { detail: 'window "8d" is longer than the retention (storage.retention, 168h)' } });
    expect(await admin('/stats?window=soon')).toMatchObject({ status: 400, body: { detail: 'window "soon" is not a duration: use one like 1h, 24h or 7d' } });
  });

  it('GET /admin/rules: the rules in order with sources, actions and matches over the last day', async () => {
    const res = await admin('/rules');
    expect(res.status).toBe(200);
    expect(res.body.rules).toMatchObject([
      { name: 'contracts', on: ['document.processed'], sources: null, conditions: true, actions: [{ name: 'legal', plugin: 'forward', target: expect.stringContaining('127.0.0.1') }, { name: 'audit' }], matches: { total: 1 } },
      { name: 'uploads', conditions: false, actions: [{ name: inlineName({ use: 'log' }), plugin: 'log' }], matches: { total: 1 } },
    ]);
    expect(res.body.rules[0].matches.hourly).toHaveLength(24);
    expect(res.body.rules[0].matches.hourly.at(-1)).toBe(1);
  });

  it('POST /admin/dry-run: matches, the first failed condition, rendered fields; nothing sent or stored', async () => {
    const before = target.requests.length;
    const res = await admin('/dry-run', { json: { source: 'archivus', body: doc('try-1', 'document.processed', 'contract') } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      source: 'archivus',
      event: { id: 'try-1', type: 'document.processed' },
      configHash: relay.activeConfig.hash,
      rules: [
        { rule: 'contracts', matched: true, actions: [{ action: 'legal', plugin: 'forward', rendered: { headers: { 'x-doc': 'doc-try-1' } } }, { action: 'audit' }] },
        { rule: 'uploads', matched: false, reason: expect.stringContaining('is not in on') },
      ],
    });
    // Credentials from the config are masked in what was rendered; the rest shows.
    const legal = res.body.rules[0].actions[0].rendered;
    expect(legal.headers.authorization).toBe('Bearer [masked]');
    expect(legal.url).toBe(`${target.url}/legal?token=%5Bmasked%5D&doc=doc-try-1`);
    expect(JSON.stringify(res.body)).not.toMatch(/FORWARD-SECRET|URL-SECRET/);
    const miss = await admin('/dry-run', { json: { body: JSON.parse(doc('try-2', 'document.processed', 'invoice')) } });
    expect(miss.body.rules[0]).toEqual({ rule: 'contracts', matched: false, reason: expect.stringContaining('$.data.tag') });
    expect(target.requests.length).toBe(before);
    expect((await admin('/events/try-1')).status).toBe(404);
  });

  it('POST /admin/dry-run refuses bad requests with 400', async () => {
    expect(await admin('/dry-run', { json: {} })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/body is required/) } });
    expect(await admin('/dry-run', { json: { body: '{"type":' } })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/JSON/) } });
    expect(await admin('/dry-run', { json: { source: 'nope', body: '{}' } })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/unknown source "nope"/) } });
    expect(await admin('/dry-run', { json: { body: '{}', header: {} } })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/unknown field "header"/) } });
    expect(await admin('/dry-run', { json: { body: '{}', headers: { a: 1 } } })).toMatchObject({ status: 400 });
    expect(await admin('/dry-run', { json: '[1]' })).toMatchObject({ status: 400 });
  });

  it('GET /admin/events/:id/explain: why each rule matched or not, against the current config', async () => {
    const res = await admin('/events/c2/explain');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      configHash: relay.activeConfig.hash,
      matched: [],
      rules: [
        { rule: 'contracts', matched: false, reason: expect.stringContaining('$.data.tag') },
        { rule: 'uploads', matched: false, reason: expect.stringContaining('is not in on') },
      ],
    });
    expect((await admin('/events/c1/explain')).body.rules[0]).toEqual({ rule: 'contracts', matched: true });
    expect(await admin('/events/nope/explain')).toMatchObject({ status: 404 });
  });

  it('POST /admin/replay with rule and action replays that one delivery', async () => {
    legalFails = false;
    const auditAttempts = (await deliveriesOf('c1')).find((d) => d.action === 'audit')!.attempts.length;
    const res = await admin('/replay', { json: { ids: ['c1'], rule: 'contracts', action: 'legal' } });
    expect(res).toMatchObject({ status: 200, body: { events: 1, deliveries: 1 } });
    await waitFor(async () => (await deliveriesOf('c1')).find((d) => d.action === 'legal')?.status === 'delivered', 'the replayed delivery');
    expect((await deliveriesOf('c1')).find((d) => d.action === 'audit')!.attempts).toHaveLength(auditAttempts);
    expect(await admin('/replay', { json: { ids: ['c1'], action: 7 } })).toMatchObject({ status: 400 });
    expect((await admin('/replay', { json: { ids: ['c1'], rule: 'contracts', action: 'nope' } })).body).toMatchObject({ events: 0, deliveries: 0 });
  });
});
