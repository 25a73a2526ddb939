// Issue "Provider signatures and inbound protection", through the real
// server: requests signed by the providers' own libraries, secret rotation,
// allowlist, rate limit, HTTPS and the accepted body types.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign as githubSign } from '@octokit/webhooks-methods';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import type { Relay } from '../../src/relay.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startInProcess } from '../helpers/in-process.js';
import { tempDir } from '../helpers/config.js';
import { archivusSignature, waitFor } from '../helpers/relay-process.js';

const SW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

function yaml(target: Receiver): string {
  return `
server: { bodyLimit: 64kb }
sources:
  github:
    path: /hooks/github
    verify: { scheme: github, secrets: [gh-new, gh-old] }
  stripe:
    path: /hooks/stripe
    verify: { scheme: stripe, secret: whsec_test_secret }
  standard:
    path: /hooks/standard
    verify: { scheme: standard-webhooks, secret: ${SW_SECRET} }
  office:
    path: /hooks/office
    verify: { scheme: archivus, secret: office }
    allowlist: [10.0.0.0/8, "2001:db8::/32"]
  limited:
    path: /hooks/limited
    verify: { scheme: archivus, secret: limited }
    rateLimit: { rate: 3, per: 60s }
  plain:
    path: /hooks/plain
    verify: { scheme: archivus, secret: plain }
rules:
  - name: pr-opened
    on: pull_request.opened
    actions: [{ use: forward, with: { url: "${target.url}/github/{{ event.type }}" } }]
  - name: payments
    on: payment_intent.*
    actions: [{ use: forward, with: { url: "${target.url}/stripe" } }]
  - name: everything-else
    on: "**"
    source: [standard, plain]
    actions: [{ use: forward, with: { url: "${target.url}/{{ event.source }}", body: "{{ payload | json }}" } }]
`;
}

describe('providers and inbound protection', () => {
  let target: Receiver;
  let relay: Relay;
  const post = (path: string, body: string, headers: Record<string, string>) =>
    fetch(`${relay.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  beforeAll(async () => {
    target = await startReceiver();
    relay = await startInProcess(yaml(target));
  });
  afterAll(async () => {
    await relay?.stop();
    await target?.close();
  });

  it('GitHub: signed by @octokit/webhooks-methods, typed by header + action, id from the signed body', async () => {
    const body = JSON.stringify({ action: 'opened', number: 7, pull_request: { title: 'Add relay' } });
    const res = await post('/hooks/github', body, {
      'x-hub-signature-256': await githubSign('gh-new', body),
      'x-github-event': 'pull_request',
      'x-github-delivery': 'delivery-1',
    });
    expect(res.status).toBe(202);
    // X-GitHub-Delivery is not signed, so the dedup key is the body's hash (issue 12 item 6).
    expect(await res.json()).toEqual({ status: 'accepted', id: `sha256:${createHash('sha256').update(body).digest('hex')}` });
    const req = await waitFor(() => target.requests.find((r) => r.url === '/github/pull_request.opened'), 'the forward');
    expect(req.text).toBe(body);
  });

  it('GitHub: the old secret still passes during a rotation; a wrong one does not', async () => {
    const body = JSON.stringify({ action: 'closed' });
    const headers = (sig: string, id: string) => ({ 'x-hub-signature-256': sig, 'x-github-event': 'pull_request', 'x-github-delivery': id });
    expect((await post('/hooks/github', body, headers(await githubSign('gh-old', body), 'rot-1'))).status).toBe(202);
    expect((await post('/hooks/github', body, headers(await githubSign('gh-retired', body), 'rot-2'))).status).toBe(401);
  });

  it('Stripe: header from stripe.webhooks.generateTestHeaderString', async () => {
    const body = JSON.stringify({ id: 'evt_1', type: 'payment_intent.succeeded', data: { object: { amount: 100 } } });
    const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_test_secret' });
    const res = await post('/hooks/stripe', body, { 'stripe-signature': header });
    expect(res.status).toBe(202);
    await waitFor(() => target.requests.find((r) => r.url === '/stripe' && r.text === body), 'the stripe forward');

    const stale = Stripe.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_test_secret', timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect((await post('/hooks/stripe', body, { 'stripe-signature': stale })).status).toBe(401);
  });

  it('Standard Webhooks: signed by the standardwebhooks package, id from webhook-id', async () => {
    const body = JSON.stringify({ type: 'invoice.paid', data: { n: 1 } });
    const headers = new Webhook(SW_SECRET).sign('msg_abc', new Date(), body);
    const res = await post('/hooks/standard', body, {
      'webhook-id': 'msg_abc',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': headers,
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: 'accepted', id: 'msg_abc' });
  });

  it('a signature header sent twice is refused and runs nothing', async () => {
    const body = JSON.stringify({ id: 'twice', type: 'x' });
    const sig = archivusSignature(body, 'plain');
    const res = await fetch(`${relay.url}/hooks/plain`, {
      method: 'POST',
      headers: [['x-archivus-signature', sig], ['x-archivus-signature', sig]],
      body,
    });
    expect(res.status).toBe(401);
    expect(await relay.store.getEvent('twice')).toBeNull();
  });

  it('allowlist: a client outside the CIDRs gets 403 before its body is read', async () => {
    const body = JSON.stringify({ id: 'o1', type: 'x' });
    const res = await post('/hooks/office', body, { 'x-archivus-signature': archivusSignature(body, 'office'), 'x-forwarded-for': '10.1.2.3' });
    // 127.0.0.1 is not in the list, and X-Forwarded-For is ignored without server.trustProxy.
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ error: 'client address not allowed' });
  });

  it('rate limit: 429 with Retry-After once the budget is spent', async () => {
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const body = JSON.stringify({ id: `rl-${i}`, type: 'x' });
      const res = await post('/hooks/limited', body, { 'x-archivus-signature': archivusSignature(body, 'limited') });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  });

  describe('body types (signatures always over the raw bytes)', () => {
    it('form-encoded with a payload field, as GitHub can send', async () => {
      const json = JSON.stringify({ id: 'form-1', type: 'form.test', value: 'a&b=c' });
      const body = `payload=${encodeURIComponent(json)}`;
      const res = await post('/hooks/plain', body, {
        'content-type': 'application/x-www-form-urlencoded',
        'x-archivus-signature': archivusSignature(body, 'plain'),
      });
      expect(res.status).toBe(202);
      const req = await waitFor(() => target.requests.find((r) => r.url === '/plain' && r.text.includes('form-1')), 'the forward');
      expect(JSON.parse(req.text)).toEqual(JSON.parse(json));
    });

    it('JSON sent as text/plain, as AWS SNS does', async () => {
      const body = JSON.stringify({ id: 'sns-1', type: 'sns.test' });
      const res = await post('/hooks/plain', body, { 'content-type': 'text/plain; charset=UTF-8', 'x-archivus-signature': archivusSignature(body, 'plain') });
      expect(res.status).toBe(202);
    });

    it('a charset parameter is honoured', async () => {
      const text = JSON.stringify({ id: 'latin-1', type: 'charset.test', name: 'Zoë' });
      const body = Buffer.from(text, 'latin1');
      const res = await fetch(`${relay.url}/hooks/plain`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=iso-8859-1', 'x-archivus-signature': archivusSignature(body, 'plain') },
        body,
      });
      expect(res.status).toBe(202);
      const req = await waitFor(() => target.requests.find((r) => r.text.includes('latin-1')), 'the forward');
      expect(JSON.parse(req.text).name).toBe('Zoë');
    });
  });
});

describe('HTTPS', () => {
  let relay: Relay;
  let cert: Buffer;

  beforeAll(async () => {
    const dir = tempDir();
    const key = join(dir, 'key.pem');
    const crt = join(dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', crt, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    cert = execFileSync('cat', [crt]);
    relay = await startInProcess(`
server: { tls: { cert: ${crt}, key: ${key} } }
sources:
  a: { path: /a, verify: { scheme: archivus, secret: tls } }
rules:
  - { name: r, on: "**", actions: [{ use: log }] }
`);
  });
  afterAll(async () => relay?.stop());

  it('serves HTTPS with the configured certificate', async () => {
    expect(relay.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const body = JSON.stringify({ id: 'tls-1', type: 'x' });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = httpsRequest(`${relay.url}/a`, {
        method: 'POST',
        ca: cert,
        headers: { 'content-type': 'application/json', 'x-archivus-signature': archivusSignature(body, 'tls') },
      }, (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: data }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(202);
    expect(JSON.parse(text)).toEqual({ status: 'accepted', id: 'tls-1' });
  });
});
