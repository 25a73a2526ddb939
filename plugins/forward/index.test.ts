import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { maskHeaders, MASK } from '../../src/admin/operations.js';
import { caught, createTestAjv, loadAction, makeBatch, makeEvent } from '../../test/helpers/events.js';
import { startReceiver, type Receiver } from '../../test/helpers/receivers.js';
import { waitFor } from '../../test/helpers/relay-process.js';
import { ERROR_EXCERPT_BYTES, forward, HOP_BY_HOP_HEADERS } from './index.js';

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
      idempotencyKey: false,
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

  // Issue 14 item 6: not `http://x: ECONNREFUSED: connect ECONNREFUSED x`.
  it('says a refused connection once, in words', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = await caught(async () => (await loadAction(forward, { url: `http://127.0.0.1:${port}/hook` })).run(makeEvent()));
    expect(err).toMatchObject({ retryable: true, message: `http://127.0.0.1:${port}: connection refused (ECONNREFUSED)` });
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

  it('treats a refused connection as retryable, a bad rendered header as permanent', async () => {
    const closed = await startReceiver();
    await closed.close();
    const refused = await loadAction(forward, { url: closed.url });
    expect(await caught(() => refused.run(makeEvent()))).toMatchObject({ retryable: true });

    // A receiver of its own: a request an earlier test aborted may still land on the shared one.
    const own = await startReceiver();
    const header = await loadAction(forward, { url: own.url, headers: { 'x-note': '{{ payload.note }}' } });
    expect(await caught(() => header.run(makeEvent({ payload: { note: 'two\r\nlines' } })))).toMatchObject({ retryable: false });
    expect(own.requests).toHaveLength(0);
    await own.close();
  });

  it('keys the circuit breaker on the origin', async () => {
    expect((await loadAction(forward, { url: 'https://ci.example.com:8443/hooks/{{ event.type }}' })).target()).toBe(
      'https://ci.example.com:8443',
    );
  });
});

describe('forward URL templates', () => {
  it('percent-encodes a payload value in the path, so it cannot climb to another path (issue 12 reproduction)', async () => {
    const action = await loadAction(forward, { url: `${rx.url}/tenants/{{ payload.tenant }}/events?src={{ event.source }}` });
    await action.run(makeEvent({ source: 'a&b=c#d', payload: { tenant: '../../internal/admin/delete-all?x=' } }));
    const [req] = rx.requests;
    expect(req?.url).toBe('/tenants/..%2F..%2Finternal%2Fadmin%2Fdelete-all%3Fx%3D/events?src=a%26b%3Dc%23d');
  });

  it('refuses a value that would be a whole ".." segment, as permanent, without sending', async () => {
    const action = await loadAction(forward, { url: `${rx.url}/tenants/{{ payload.tenant }}/events` });
    for (const tenant of ['..', '.']) {
      const err = await caught(() => action.run(makeEvent({ payload: { tenant } })));
      expect(err).toMatchObject({ retryable: false, message: expect.stringMatching(/rendered path has a "\.{1,2}" segment/) });
    }
    expect(rx.requests).toHaveLength(0);
  });

  it('refuses at load a template in the scheme, host, port or user info, or a URL that is all template', async () => {
    for (const url of [
      'https://{{ payload.host }}/x',
      'https://api.example.com{{ payload.path }}',
      'https://api.example.com:{{ payload.port }}/x',
      'https://{{ payload.user }}@api.example.com/x',
      '{{ payload.scheme }}://api.example.com/x',
      '{{ payload.url }}',
    ]) {
      await expect(loadAction(forward, { url })).rejects.toThrow(/may not decide a URL's scheme, host or port/);
    }
    await expect(loadAction(forward, { url: 'not a url' })).rejects.toThrow(/is not a URL/);
    await expect(loadAction(forward, { url: `${rx.url}/{{ payload.x | raw }}` })).rejects.toThrow(/always percent-encoded/);
  });
});

describe('forward and a huge error response', () => {
  it('reads a few KB of it for the attempt, then closes the connection instead of downloading the rest', async () => {
    const total = 256 * 1024 * 1024;
    const state = { written: 0, closed: false };
    const chunk = Buffer.alloc(64 * 1024, 'x');
    // Writes only as fast as the client reads (backpressure), so `written`
    // is what Relay took in, give or take the socket buffers.
    const server = createServer((req, res) => {
      req.resume();
      res.on('close', () => (state.closed = true));
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.write('internal error: ');
      const pump = () => {
        while (state.written < total && !res.destroyed) {
          state.written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const action = await loadAction(forward, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
      const err = await caught(() => action.run(makeEvent()));
      expect(err).toMatchObject({ retryable: true, status: 500, message: expect.stringMatching(/^HTTP 500: internal error: x+$/) });
      await waitFor(() => state.closed, 'the target to see its connection closed');
      expect(state.written).toBeLessThan(16 * 1024 * 1024);
      expect(ERROR_EXCERPT_BYTES).toBeLessThanOrEqual(8192);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});

describe('forward and sensitive headers', () => {
  // A source whose generic hmac scheme names its own headers, as in the issue.
  const sources = {
    hooks: {
      path: '/webhooks/hooks',
      verify: { scheme: 'hmac', secret: 's', header: 'X-Custom-Sig', timestampHeader: 'X-Sent-At', signed: '{timestamp}.{body}' },
    },
  };
  const headers = {
    'content-type': 'application/json',
    'x-webhook-signature': 'sha256=abc',
    'x-api-key': 'key-123',
    'x-auth-token': 'tok-123',
    'x-access-token': 'tok-456',
    'x-csrf-token': 'csrf',
    'proxy-authorization': 'Basic cHJveHk=',
    cookie: 'session=1',
    'x-custom-sig': 'deadbeef',
    'x-sent-at': '1700000000',
    'svix-timestamp': '1700000000',
    'x-request-id': 'req-1',
    'user-agent': 'Hooks/1.0',
  };

  it('drops credentials, signatures and the sources\' configured signature headers (issue 12 reproduction)', async () => {
    const action = await loadAction(forward, { url: rx.url }, { sources });
    await action.run(makeEvent({ headers }));
    const got = rx.requests[0]?.headers ?? {};
    for (const name of ['x-webhook-signature', 'x-api-key', 'x-auth-token', 'x-access-token', 'x-csrf-token', 'proxy-authorization', 'cookie', 'x-custom-sig', 'x-sent-at', 'svix-timestamp']) {
      expect(got, name).not.toHaveProperty(name);
    }
    expect(got).toMatchObject({ 'x-request-id': 'req-1', 'user-agent': 'Hooks/1.0' });
  });

  it('drops exactly what the dashboard masks', async () => {
    const action = await loadAction(forward, { url: rx.url }, { sources });
    await action.run(makeEvent({ headers }));
    const got = rx.requests[0]?.headers ?? {};
    const masked = maskHeaders(headers, ['x-custom-sig', 'x-sent-at']);
    for (const [name, value] of Object.entries(headers).filter(([h]) => !HOP_BY_HOP_HEADERS.has(h))) {
      expect(masked[name]?.endsWith(MASK), name).toBe(!(name in got));
      expect(masked[name] === value, name).toBe(name in got);
    }
  });

  it('still sends a credential the action sets itself', async () => {
    const action = await loadAction(forward, { url: rx.url, headers: { 'X-Api-Key': 'for-the-target' } }, { sources });
    await action.run(makeEvent({ headers }));
    expect(rx.requests[0]?.headers['x-api-key']).toBe('for-the-target');
  });
});

describe('forward transform (issue 15 item 5)', () => {
  it('sends a JSONata transform\'s output as JSON, and records it as the body sent', async () => {
    const action = await loadAction(forward, { url: rx.url, transform: { jsonata: '{"ref": ref, "n": n * 2, "by": $event.source}' } });
    const result = await action.run(incoming());
    const [req] = rx.requests;
    expect(JSON.parse(req!.text)).toEqual({ ref: 'main', n: 3, by: 'github' });
    expect(req!.headers['content-type']).toBe('application/json');
    expect(result).toMatchObject({ request: { body: req!.text } });
  });

  it('sends a JSON template for a batch, typed values kept', async () => {
    const action = await loadAction(forward, { url: rx.url, transform: { template: { count: '{{ events | size }}', first: '{{ events[0].payload }}' } } });
    const batch = makeBatch(2, (i) => ({ payload: { i } }));
    await action.run(batch);
    expect(JSON.parse(rx.requests[0]!.text)).toEqual({ count: 2, first: { i: 0 } });
  });

  it('refuses `body` and `transform` together at load', async () => {
    const err = await caught(() => loadAction(forward, { url: rx.url, body: '{}', transform: { jsonata: '$' } }));
    expect((err as Error).message).toMatch(/with: forward rejected its options: set `body` or `transform`, not both/);
  });
});
