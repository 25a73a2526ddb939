// Issue 12 item 7, through a real server: an `hmac` source that signs a
// timestamp refuses a stale one even without `tolerance` (300 s by default).

import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';

describe('hmac with {timestamp}', () => {
  let relay: Relay;
  const post = (ts: number, id: string) => {
    const body = JSON.stringify({ id, type: 'ping' });
    const sig = createHmac('sha256', 'hmac-secret').update(`${ts}.${body}`).digest('hex');
    return fetch(`${relay.url}/hooks/signed`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-signature': sig, 'x-timestamp': String(ts) }, body });
  };

  beforeAll(async () => {
    relay = await startInProcess(`
sources:
  signed:
    path: /hooks/signed
    verify: { scheme: hmac, secret: hmac-secret, header: X-Signature, signed: "{timestamp}.{body}", timestampHeader: X-Timestamp }
    event: { type: $.type, id: $.id }
rules:
  - { name: all, on: "**", actions: [{ use: log }] }
`);
  });
  afterAll(async () => relay?.stop());

  it('refuses a correctly signed timestamp from 2001 and accepts a fresh one', async () => {
    const stale = await post(978_307_200, 'from-2001');
    expect(stale.status).toBe(401);
    expect(await relay.store.getEvent('from-2001')).toBeNull();
    expect((await post(Math.floor(Date.now() / 1000) - 3600, 'an-hour-old')).status).toBe(401);
    expect((await post(Math.floor(Date.now() / 1000), 'fresh')).status).toBe(202);
  });
});
