import { createHmac } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { caught, createTestAjv, loadAction, makeBatch, makeEvent } from '../../test/helpers/events.js';
import { startReceiver, type Receiver } from '../../test/helpers/receivers.js';
import { forward } from './index.js';

let rx: Receiver;
beforeAll(async () => {
  rx = await startReceiver();
});
afterEach(() => {
  rx.requests.length = 0;
  rx.respond({ status: 200, body: 'ok' });
});
afterAll(() => rx.close());

const incoming = () =>
  makeEvent({
    id: 'evt_raw',
    type: 'push',
    source: 'github',
    rawBody: Buffer.from('{"ref":"main",  "n": 1.50}\n'),
    payload: { ref: 'main', n: 1.5 },
    headers: {
      'content-type': 'application/vnd.github+json; charset=utf-8',
      'user-agent': 'GitHub-Hookshot/abc',
      'x-github-event': 'push',
      'x-hub-signature-256': 'sha256=deadbeef',
      authorization: 'Bearer for-relay',
      connection: 'keep-alive',
      'content-length': '999',
      host: 'relay.example.com',
    },
  });

describe('forward options schema', () => {
  const validate = createTestAjv().compile(forward.options);

  it('fills defaults, nested ones too', () => {
    const o: Record<string, unknown> = { url: 'https://x.example', sign: { secret: 's' } };
    expect(validate(o)).toBe(true);
    expect(o).toEqual({
      url: 'https://x.example',
      method: 'POST',
      forwardHeaders: true,
      timeout: 10000,
      connections: 32,
      sign: { secret: 's', header: 'x-relay-signature', algorithm: 'sha256', encoding: 'hex' },
    });
  });

  it('rejects a missing url, a bad method, a sign without secret, unknown options', () => {
    expect(validate({})).toBe(false);
    expect(validate({ url: 'https://x', method: 'GET' })).toBe(false);
    expect(validate({ url: 'https://x', sign: {} })).toBe(false);
    expect(validate({ url: 'https://x', header: {} })).toBe(false);
  });
});

describe('forward', () => {
  it('sends the original bytes, content type and headers, minus hop-by-hop, credentials and signatures', async () => {
    const action = await loadAction(forward, { url: `${rx.url}/in/{{ event.type }}?from={{ event.source }}` });
    const result = await action.run(incoming());

    const [req] = rx.requests;
    // What was sent is reported for the attempt's record, with no copy of the event's own bytes.
    expect(result).toMatchObject({ status: 200, response: { status: 200, statusText: 'OK' }, request: { method: 'POST', url: `${rx.url}/in/push?from=github` } });
    expect((result as { request: object }).request).not.toHaveProperty('body');
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/in/push?from=github');
    expect(req?.body.equals(Buffer.from('{"ref":"main",  "n": 1.50}\n'))).toBe(true);
    expect(req?.headers).toMatchObject({
      'content-type': 'application/vnd.github+json; charset=utf-8',
      'content-length': '27',
      host: `127.0.0.1:${rx.port}`,
      'user-agent': 'GitHub-Hookshot/abc',
      'x-github-event': 'push',
      'x-relay-event-id': 'evt_raw',
      'x-relay-event-type': 'push',
      'x-relay-source': 'github',
    });
    expect(req?.headers).not.toHaveProperty('x-hub-signature-256');
    expect(req?.headers).not.toHaveProperty('authorization');
  });

  it('can leave the original headers behind', async () => {
    const action = await loadAction(forward, { url: rx.url, forwardHeaders: false });
    await action.run(incoming());
    const headers = rx.requests[0]?.headers;
    expect(headers).not.toHaveProperty('x-github-event');
    expect(headers?.['content-type']).toBe('application/vnd.github+json; charset=utf-8');
    expect(headers?.['x-relay-event-id']).toBe('evt_raw');
  });

  it('renders a body, headers and method; user headers win', async () => {
    const action = await loadAction(forward, {
      url: rx.url,
      method: 'PUT',
      body: '{"ref":"{{ payload.ref }}"}',
      headers: { 'X-Ref': '{{ payload.ref }}', 'User-Agent': 'relay-test' },
    });
    await action.run(incoming());
    const [req] = rx.requests;
    expect(req?.method).toBe('PUT');
    expect(req?.text).toBe('{"ref":"main"}');
    expect(req?.headers).toMatchObject({ 'content-type': 'application/json', 'x-ref': 'main', 'user-agent': 'relay-test' });
  });

  it('signs exactly the bytes sent', async () => {
    const action = await loadAction(forward, { url: rx.url, sign: { secret: 'topsecret' } });
    await action.run(incoming());
    const [req] = rx.requests;
    const expected = createHmac('sha256', 'topsecret').update(req?.body ?? Buffer.alloc(0)).digest('hex');
    expect(req?.headers['x-relay-signature']).toBe(`sha256=${expected}`);

    const b64 = await loadAction(forward, {
      url: rx.url,
      body: '{"x":"{{ event.id }}"}',
      sign: { secret: 'k', header: 'X-Sig', algorithm: 'sha512', encoding: 'base64' },
    });
    await b64.run(incoming());
    const signed = rx.requests[1];
    expect(signed?.text).toBe('{"x":"evt_raw"}');
    expect(signed?.headers['x-sig']).toBe(`sha512=${createHmac('sha512', 'k').update('{"x":"evt_raw"}').digest('base64')}`);
  });

  it('sends a batch as one JSON array of the payloads, oldest first', async () => {
    const action = await loadAction(forward, { url: rx.url });
    const batch = makeBatch(3, (i) => ({ payload: { i }, headers: { 'x-only-first': 'yes' } }));
    await action.run(batch);
    expect(rx.requests).toHaveLength(1);
    const [req] = rx.requests;
    expect(JSON.parse(req?.text ?? '')).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(req?.headers).toMatchObject({
      'content-type': 'application/json',
      'x-relay-batch-size': '3',
      'x-relay-event-id': batch[0]?.id,
    });
    expect(req?.headers).not.toHaveProperty('x-only-first');
  });

  it('maps 429 with Retry-After to a retryable failure with a delay', async () => {
    rx.respond({ status: 429, headers: { 'retry-after': '7' }, body: 'slow down' });
    const err = await caught(async () => (await loadAction(forward, { url: rx.url })).run(makeEvent()));
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ retryable: true, status: 429, retryAfterMs: 7000 });
  });

  it('maps 400 to a permanent failure that quotes the body', async () => {
    rx.respond({ status: 400, body: { error: 'bad field' } });
    const err = await caught(async () => (await loadAction(forward, { url: rx.url })).run(makeEvent()));
    expect(err).toMatchObject({ retryable: false, status: 400, message: 'HTTP 400: {"error":"bad field"}' });
  });

  it('maps 503 to a retryable failure, and does not follow redirects', async () => {
    const action = await loadAction(forward, { url: rx.url });
    rx.respond({ status: 503 });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: true, status: 503 });
    rx.respond({ status: 302, headers: { location: 'https://elsewhere.example/' } });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: false, status: 302 });
    expect(rx.requests).toHaveLength(2);
  });

  it('times out a target that never answers, as retryable', async () => {
    rx.respond(() => 'hang');
    const action = await loadAction(forward, { url: rx.url, timeout: 150 });
    const started = Date.now();
    const err = await caught(() => action.run(makeEvent()));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ retryable: true, message: expect.stringContaining('timed out after 150ms') });
  });

  it('stops when the delivery signal aborts', async () => {
    rx.respond(() => 'hang');
    const action = await loadAction(forward, { url: rx.url });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error('shutting down')), 50);
    const started = Date.now();
    const err = await caught(() => action.run(makeEvent(), { signal: ctl.signal }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toMatchObject({ retryable: true });
    expect((err as Error).message).not.toContain('timed out');
  });

  it('treats a refused connection as retryable, a bad rendered URL or header as permanent', async () => {
    const closed = await startReceiver();
    await closed.close();
    const refused = await loadAction(forward, { url: closed.url });
    expect(await caught(() => refused.run(makeEvent()))).toMatchObject({ retryable: true });

    const bad = await loadAction(forward, { url: '{{ payload.missing }}' });
    expect(await caught(() => bad.run(makeEvent()))).toMatchObject({ retryable: false, message: expect.stringContaining('invalid URL') });

    const header = await loadAction(forward, { url: rx.url, headers: { 'x-note': '{{ payload.note }}' } });
    expect(await caught(() => header.run(makeEvent({ payload: { note: 'two\r\nlines' } })))).toMatchObject({ retryable: false });
    expect(rx.requests).toHaveLength(0);
  });

  it('keys the circuit breaker on the origin, or the raw template when the host is templated', async () => {
    expect((await loadAction(forward, { url: 'https://ci.example.com:8443/hooks/{{ event.type }}' })).target()).toBe(
      'https://ci.example.com:8443',
    );
    expect((await loadAction(forward, { url: 'https://{{ payload.host }}/x' })).target()).toBe('https://{{ payload.host }}/x');
  });
});
