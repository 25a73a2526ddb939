import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { caught, createTestAjv, loadAction, makeEvent } from '../../test/helpers/events.js';
import { startReceiver, type Receiver } from '../../test/helpers/receivers.js';
import discord from './index.js';

// A loopback server standing in for discord.com/api/webhooks.
let rx: Receiver;
let url: string;
beforeAll(async () => {
  rx = await startReceiver();
  url = `${rx.url}/api/webhooks/123/abc`;
});
afterEach(() => {
  rx.requests.length = 0;
  rx.respond({ status: 204 });
});
afterAll(() => rx.close());

describe('discord options schema', () => {
  const validate = createTestAjv().compile(discord.options);

  it('needs a url and content, and fills the timeout', () => {
    expect(validate({ content: 'x' })).toBe(false);
    expect(validate({ url })).toBe(false);
    expect(validate({ url, content: 'x', embeds: [] })).toBe(false);
    const o: Record<string, unknown> = { url, content: 'x' };
    expect(validate(o)).toBe(true);
    expect(o.timeout).toBe(10000);
  });
});

describe('discord (example custom plugin)', () => {
  it('is a plugin object the loader accepts as a default export', () => {
    expect(discord).toMatchObject({ name: 'discord', templates: ['content', 'username'] });
    expect(typeof discord.create).toBe('function');
  });

  it('posts the rendered content and username, with mentions disabled', async () => {
    rx.respond({ status: 204 });
    const action = await loadAction(discord, { url, content: '**{{ event.type }}** {{ payload.n }}', username: 'Relay {{ event.source }}' });
    expect(await action.run(makeEvent({ payload: { n: '@everyone' } }))).toEqual({ status: 204 });
    const [req] = rx.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/api/webhooks/123/abc');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(req?.text ?? '')).toEqual({
      content: '**document.processed** @everyone',
      username: 'Relay archivus',
      allowed_mentions: { parse: [] },
    });
  });

  it('cuts content to Discord\'s 2000 characters', async () => {
    const action = await loadAction(discord, { url, content: '{{ payload.long }}' });
    await action.run(makeEvent({ payload: { long: 'x'.repeat(5000) } }));
    const content = (JSON.parse(rx.requests[0]?.text ?? '') as { content: string }).content;
    expect(content).toHaveLength(2000);
    expect(content.endsWith('…')).toBe(true);
  });

  it('honours retry_after from the 429 body, else the Retry-After header', async () => {
    const action = await loadAction(discord, { url, content: 'x' });
    rx.respond({ status: 429, headers: { 'retry-after': '9' }, body: { message: 'You are being rate limited.', retry_after: 1.234, global: false } });
    const fromBody = await caught(() => action.run(makeEvent()));
    expect(fromBody).toBeInstanceOf(DeliveryError);
    expect(fromBody).toMatchObject({ retryable: true, status: 429, retryAfterMs: 1234 });

    rx.respond({ status: 429, headers: { 'retry-after': '3' }, body: 'rate limited' });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: true, retryAfterMs: 3000 });
  });

  it('treats 4xx as permanent, 5xx and timeouts as retryable', async () => {
    const action = await loadAction(discord, { url, content: 'x', timeout: 150 });
    rx.respond({ status: 404, body: { message: 'Unknown Webhook', code: 10015 } });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: false, status: 404 });
    rx.respond({ status: 502 });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: true, status: 502 });
    rx.respond(() => 'hang');
    const timedOut = await caught(() => action.run(makeEvent()));
    // Not a DeliveryError: the core counts any other error as retryable.
    expect(timedOut).not.toBeInstanceOf(DeliveryError);
  });
});
