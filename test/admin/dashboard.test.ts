// The admin routes behind the dashboard's Rejected list and Try it examples,
// over HTTP on a running Relay: requests a source refuses are listed (never
// their bodies), and each provider's example dry-runs to the type asked for,
// wherever that source reads its type.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus } from '../helpers/relay-process.js';

const TOKEN = 'dashboard-routes-token-0123456789';
const SECRET = 'archivus-secret';

let relay: Relay;

async function admin(path: string, json?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${relay.url}/admin${path}`, {
    method: json === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, ...(json !== undefined && { 'content-type': 'application/json' }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  relay = await startInProcess(
    `
sources:
  archivus: { path: /in/archivus, verify: { scheme: archivus, secret: ${SECRET} } }
  limited: { path: /in/limited, verify: { scheme: archivus, secret: ${SECRET} }, rateLimit: { rate: 1, per: 1h } }
  walled: { path: /in/walled, verify: { scheme: archivus, secret: ${SECRET} }, allowlist: [192.0.2.0/24] }
  github: { path: /in/github, verify: { scheme: github, secret: gh } }
  stripe: { path: /in/stripe, verify: { scheme: stripe, secret: whsec_test_secret } }
  slack: { path: /in/slack, verify: { scheme: slack, secret: sl } }
  shopify: { path: /in/shopify, verify: { scheme: shopify, secret: sh } }
  standard: { path: /in/standard, verify: { scheme: standard-webhooks, secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw } }
  headed: { path: /in/headed, verify: { scheme: hmac, secret: hm, header: x-sig }, event: { type: { header: X-Event-Kind } } }
  nested: { path: /in/nested, verify: { scheme: hmac, secret: hm, header: x-sig }, event: { type: $.meta.kind } }
rules:
  - name: prs
    on: pull_request.*
    source: github
    actions: [{ use: log }]
  - name: docs
    on: [document.failed]
    source: archivus
    actions: [{ use: log }]
`,
    { RELAY_ADMIN_TOKEN: TOKEN },
  );
});
afterAll(() => relay?.stop());

describe('GET /admin/rejections', () => {
  it('lists refused requests newest first, with source, status, reason and client, and never a body', async () => {
    const body = JSON.stringify({ id: 'r1', type: 'document.processed', data: { secret_marker: 'BODY-MARKER-42' } });
    expect((await postArchivus(`${relay.url}/in/archivus`, body, 'wrong-secret')).status).toBe(401);
    expect((await postArchivus(`${relay.url}/in/archivus`, '{"id": ', SECRET)).status).toBe(400);
    expect((await postArchivus(`${relay.url}/in/walled`, body, SECRET)).status).toBe(403);
    expect((await postArchivus(`${relay.url}/in/limited`, body, SECRET)).status).toBe(202);
    expect((await postArchivus(`${relay.url}/in/limited`, body.replace('r1', 'r2'), SECRET)).status).toBe(429);

    const { status, body: list } = await admin('/rejections');
    expect(status).toBe(200);
    expect(list.rejections.map((r: any) => [r.source, r.status, r.reason])).toEqual([
      ['limited', 429, 'rate_limit'],
      ['walled', 403, 'allowlist'],
      ['archivus', 400, 'body'],
      ['archivus', 401, 'signature'],
    ]);
    expect(list.rejections[3]).toMatchObject({ ip: '127.0.0.1', message: expect.any(String) });
    expect(Date.parse(list.rejections[0].at)).toBeGreaterThan(Date.parse(list.since) - 1);
    expect(list.totals).toEqual({ signature: 1, body: 1, allowlist: 1, rate_limit: 1 });
    expect(JSON.stringify(list)).not.toContain('BODY-MARKER-42');
    expect((await admin('/rejections?limit=1')).body.rejections).toHaveLength(1);
    expect((await admin('/rejections?limit=zero')).status).toBe(400);
  });
});

describe('GET /admin/examples/:source', () => {
  it.each([
    ['archivus', 'document.uploaded', undefined],
    ['github', 'pull_request.opened', 'x-github-event'],
    ['github', 'push', 'x-github-event'],
    ['stripe', 'invoice.paid', undefined],
    ['slack', 'app_mention', undefined],
    ['shopify', 'orders/create', 'x-shopify-topic'],
    ['standard', 'user.created', undefined],
    ['headed', 'thing.happened', 'x-event-kind'],
    ['nested', 'thing.happened', undefined],
  ])('%s: the example for %s dry-runs to that type', async (source, type, header) => {
    const { status, body: ex } = await admin(`/examples/${source}?type=${encodeURIComponent(type)}`);
    expect(status).toBe(200);
    expect(ex).toMatchObject({ source, type });
    expect(ex.typeHeader).toBe(header);
    const run = await admin('/dry-run', { source, headers: ex.headers, body: ex.body });
    expect(run.status).toBe(200);
    expect(run.body.event.type).toBe(type);
  });

  it('offers first the types the source’s rules name, or the provider’s that their globs match', async () => {
    const archivus = (await admin('/examples/archivus')).body;
    expect(archivus.types[0]).toBe('document.failed');
    expect(archivus.type).toBe('document.failed');
    const github = (await admin('/examples/github')).body;
    expect(github.types.slice(0, 2)).toEqual(['pull_request.opened', 'pull_request.closed']);
    expect(github.typeFrom).toContain('X-GitHub-Event');
    const run = await admin('/dry-run', { source: 'github', headers: github.headers, body: github.body });
    expect(run.body.rules.find((r: any) => r.rule === 'prs').matched).toBe(true);
  });

  it('answers 400 for an unknown source', async () => {
    const { status, body } = await admin('/examples/nope');
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toContain('unknown source');
  });
});
