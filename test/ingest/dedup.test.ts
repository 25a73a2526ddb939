// Issue 12 item 6, through a real server: dedup keys a sender cannot vary.
// GitHub and Shopify put the id (and type) in headers their signature does
// not cover; a captured body re-sent with fresh headers is not a new event.
// Id-less bodies are one event only within `dedupWindow`.

import { createHmac } from 'node:crypto';
import { sign as githubSign } from '@octokit/webhooks-methods';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';

// Shopify has no Node library that signs; this is the computation its docs give.
const shopifySign = (body: string) => createHmac('sha256', 'shop-secret').update(body, 'utf8').digest('base64');

describe('dedup keys', () => {
  let relay: Relay;
  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const res = await fetch(`${relay.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    return { status: res.status, json: (await res.json()) as { status?: string; id?: string } };
  };
  const eventsOf = async (source: string) => (await relay.store.listEvents({ source, limit: 100 })).length;

  beforeAll(async () => {
    relay = await startInProcess(`
sources:
  github: { path: /hooks/github, verify: { scheme: github, secret: gh-secret } }
  shopify: { path: /hooks/shopify, verify: { scheme: shopify, secret: shop-secret } }
  alerts: { path: /hooks/alerts, verify: { scheme: archivus, secret: s3cret } }
rules:
  - { name: all, on: "**", actions: [{ use: log }] }
`);
  });
  afterAll(async () => relay?.stop());

  it('Shopify: a captured body re-sent with a new X-Shopify-Webhook-Id is a duplicate', async () => {
    const body = JSON.stringify({ id: 820982911946154500, email: 'jon@example.com', total_price: '403.00' });
    const headers = (id: string, topic = 'orders/create') => ({
      'x-shopify-hmac-sha256': shopifySign(body),
      'x-shopify-topic': topic,
      'x-shopify-webhook-id': id,
    });
    const first = await post('/hooks/shopify', body, headers('b54557e4-bdd9-4b37-8a5f-bf7d70bcd043'));
    expect(first.status).toBe(202);
    const again = await post('/hooks/shopify', body, headers('forged-new-id'));
    expect(again).toEqual({ status: 200, json: { status: 'duplicate', id: first.json.id } });
    expect(await eventsOf('shopify')).toBe(1);
    // Shopify sends one order's body under several topics, so the topic is part of the key.
    expect((await post('/hooks/shopify', body, headers('c1', 'orders/paid'))).status).toBe(202);
  });

  it('GitHub: a signed pull_request body re-sent as issues.opened, or with a new delivery id, is a duplicate', async () => {
    const body = JSON.stringify({ action: 'opened', number: 7, pull_request: { title: 'Add relay' } });
    const headers = async (event: string, delivery: string) => ({
      'x-hub-signature-256': await githubSign('gh-secret', body),
      'x-github-event': event,
      'x-github-delivery': delivery,
    });
    const first = await post('/hooks/github', body, await headers('pull_request', '72d3162e-cc78-11e3-81ab-4c9367dc0958'));
    expect(first.status).toBe(202);
    expect(await post('/hooks/github', body, await headers('issues', 'forged-1'))).toEqual({ status: 200, json: { status: 'duplicate', id: first.json.id } });
    expect(await post('/hooks/github', body, await headers('pull_request', 'forged-2'))).toEqual({ status: 200, json: { status: 'duplicate', id: first.json.id } });
    const events = await relay.store.listEvents({ source: 'github', limit: 10 });
    expect(events.map((e) => e.type)).toEqual(['pull_request.opened']);
  });

  it('id-less: an identical resend within the window is a duplicate', async () => {
    const body = JSON.stringify({ type: 'alert.firing', alerts: [{ labels: { alertname: 'DiskFull' } }] });
    const first = await postArchivus(`${relay.url}/hooks/alerts`, body, 's3cret');
    expect(first.status).toBe(202);
    // The default window is an hour: the resend lands in the same one.
    const again = await postArchivus(`${relay.url}/hooks/alerts`, body, 's3cret');
    expect(again.json).toEqual({ status: 'duplicate', id: first.json.id });
  });

});

describe('dedupWindow', () => {
  let relay: Relay;
  beforeAll(async () => {
    relay = await startInProcess(`
sources:
  quick: { path: /hooks/quick, verify: { scheme: archivus, secret: s3cret }, dedupWindow: 1s }
rules:
  - { name: all, on: "**", actions: [{ use: log }] }
`);
  });
  afterAll(async () => relay?.stop());

  it('id-less: an identical resend after dedupWindow is accepted as a new event', async () => {
    const body = JSON.stringify({ type: 'alert.firing', alerts: [{ labels: { alertname: 'CPU' } }] });
    const first = await postArchivus(`${relay.url}/hooks/quick`, body, 's3cret');
    expect(first.status).toBe(202);
    // Resend until a later window takes it: 1 s windows, so within a few.
    const later = await waitFor(async () => {
      const res = await postArchivus(`${relay.url}/hooks/quick`, body, 's3cret');
      return res.status === 202 ? res : undefined;
    }, 'a resend in a later window');
    expect(later.json.id).not.toBe(first.json.id);
    expect((await relay.store.listEvents({ source: 'quick', limit: 100 })).length).toBeGreaterThanOrEqual(2);
  });
});
