// Each attempt records what was sent and what the destination answered
// (src/plugin.ts DeliveryRequest/DeliveryResponse): bounded, with credentials
// masked, stored on both engines, and filled in by forward over a real socket.

import { afterAll, afterEach, beforeAll, describe, expect, it, test } from 'vitest';

import { EXCHANGE_LIMITS } from '../../src/deliver/exchange.js';
import type { Relay } from '../../src/relay.js';
import { storeDrivers } from '../helpers/drivers.js';
import { startInProcess } from '../helpers/in-process.js';
import { startReceiver, type Receiver, type Reply } from '../helpers/receivers.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';
import { claimAll, event, plain } from '../queue/fixtures.js';

describe.each(await storeDrivers())('attempt exchange stored on $name', (driver) => {
  afterEach(() => driver.cleanup());

  test('an attempt keeps its response and request; one without them has neither', async () => {
    const store = await driver.open();
    const e = event();
    await store.ingest(e, [plain()]);
    const [d] = await store.claim({ ...claimAll, now: Date.now() });
    const response = { status: 503, statusText: 'Service Unavailable', headers: { 'retry-after': '5' }, body: 'down' };
    const request = { method: 'POST', url: 'https://hooks.example/a', headers: { 'content-type': 'application/json' } };
    await store.finish(d!, { startedAt: Date.now(), durationMs: 5, outcome: 'retry', status: 503, error: 'HTTP 503', response, request }, { status: 'failed', nextAt: Date.now() });
    const [again] = await store.claim({ ...claimAll, now: Date.now() + 1000 });
    await store.finish(again!, { startedAt: Date.now(), durationMs: 5, outcome: 'delivered', status: 200 }, { status: 'delivered' });
    const attempts = (await store.getEvent(e.id))!.deliveries[0]!.attempts;
    expect(attempts[0]).toMatchObject({ status: 503, response, request });
    expect(attempts[1]).not.toHaveProperty('response');
    expect(attempts[1]).not.toHaveProperty('request');
  });
});

describe('forward records the exchange of each attempt', () => {
  const SECRET = 'exchange-secret';
  let relay: Relay;
  let target: Receiver;
  const longBody = 'x'.repeat(EXCHANGE_LIMITS.responseBody * 3);

  beforeAll(async () => {
    target = await startReceiver((req): Reply =>
      req.url.startsWith('/down')
        ? { status: 503, headers: { 'x-trace': 'trace-1', 'set-cookie': 'session=abc', 'content-type': 'text/plain' }, body: `maintenance ${longBody}` }
        : { status: 201, headers: { 'x-trace': 'trace-2' }, body: 'created' },
    );
    relay = await startInProcess(`
sources:
  archivus:
    path: /in
    verify: { scheme: archivus, secret: ${SECRET} }
delivery: { retry: { attempts: 1 } }
rules:
  - name: ok
    on: ok
    actions: [{ use: forward, with: { url: "${target.url}/up?token=t0ps3cret&x=1", headers: { authorization: "Bearer s3cret-token" } } }]
  - name: down
    on: down
    actions: [{ use: forward, with: { url: "${target.url}/down", body: '{"text": "{{ event.type }}"}' } }]
`);
  });
  afterAll(async () => {
    await relay?.stop();
    await target?.close();
  });

  const send = async (id: string, type: string) => {
    expect((await postArchivus(`${relay.url}/in`, JSON.stringify({ id, type, data: {} }), SECRET)).status).toBe(202);
    return waitFor(async () => {
      const d = (await relay.store.getEvent(id))?.deliveries[0];
      return d && (d.status === 'delivered' || d.status === 'dead') ? d : undefined;
    }, `${id} finished`);
  };

  it('a delivered attempt: status line, headers, and the request with credentials masked', async () => {
    const d = await send('ex-ok', 'ok');
    const [a] = d.attempts;
    expect(a!.response).toMatchObject({ status: 201, statusText: 'Created', headers: { 'x-trace': 'trace-2' } });
    expect(a!.request).toMatchObject({ method: 'POST', headers: { authorization: 'Bearer [masked]', 'x-relay-event-id': 'ex-ok' } });
    expect(a!.request!.url).toBe(`${target.url}/up?token=%5Bmasked%5D&x=1`);
    // The event's own bytes were sent: no copy of them in the attempt.
    expect(a!.request).not.toHaveProperty('body');
    expect(JSON.stringify(a)).not.toContain('s3cret');
  });

  it('a failed attempt: the answer with a bounded body excerpt, set-cookie masked, and the rendered body sent', async () => {
    const d = await send('ex-down', 'down');
    const [a] = d.attempts;
    expect(a!.outcome).toBe('dead');
    expect(a!.response).toMatchObject({ status: 503, statusText: 'Service Unavailable', headers: { 'x-trace': 'trace-1', 'set-cookie': '[masked]', 'content-type': 'text/plain' } });
    expect(a!.response!.body!.startsWith('maintenance xxx')).toBe(true);
    expect(a!.response!.body!.length).toBeLessThanOrEqual(EXCHANGE_LIMITS.responseBody + 1);
    expect(a!.request).toMatchObject({ method: 'POST', url: `${target.url}/down`, body: '{"text": "down"}' });
  });
});
