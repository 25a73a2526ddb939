import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { caught, createTestAjv, loadAction, makeBatch, makeEvent } from '../../test/helpers/events.js';
import { startReceiver, type Receiver } from '../../test/helpers/receivers.js';
import { slack } from './index.js';

// A loopback server standing in for hooks.slack.com.
let rx: Receiver;
let url: string;
beforeAll(async () => {
  rx = await startReceiver();
  url = `${rx.url}/services/T000/B000/XXXX`;
});
afterEach(() => {
  rx.requests.length = 0;
  rx.respond({ status: 200, body: 'ok' });
});
afterAll(() => rx.close());

const sent = (i = 0) => JSON.parse(rx.requests[i]?.text ?? 'null') as Record<string, unknown>;

describe('slack options schema', () => {
  const validate = createTestAjv().compile(slack.options);

  it('needs a url and text or blocks', () => {
    expect(validate({ text: 'hi' })).toBe(false);
    expect(validate({ url: 'https://hooks.slack.com/services/x' })).toBe(false);
    expect(validate({ url: 'hooks.slack.com/services/x', text: 'hi' })).toBe(false);
    expect(validate({ url: 'https://hooks.slack.com/x', blocks: [{ text: 'no type' }] })).toBe(false);
    expect(validate({ url: 'https://hooks.slack.com/x', text: 'hi', colour: 'red' })).toBe(false);
    const o: Record<string, unknown> = { url: 'https://hooks.slack.com/x', blocks: [{ type: 'divider' }] };
    expect(validate(o)).toBe(true);
    expect(o.timeout).toBe(10000);
  });
});

describe('slack', () => {
  it('refuses at load a url that does not parse as a URL', async () => {
    await expect(loadAction(slack, { url: 'https://hooks slack com/x', text: 'hi' })).rejects.toThrow(/"https:\/\/hooks slack com\/x" is not a URL/);
  });

  it('posts the rendered message as JSON to the webhook URL', async () => {
    const action = await loadAction(slack, {
      url,
      text: '*{{ payload.data.document.filename }}* processed',
      username: 'Relay',
      icon_emoji: ':inbox_tray:',
      channel: '#ops',
    });
    const result = await action.run(makeEvent({ payload: { data: { document: { filename: 'a.pdf' } } } }));
    expect(result).toEqual({ status: 200 });
    const [req] = rx.requests;
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('/services/T000/B000/XXXX');
    expect(req?.headers['content-type']).toBe('application/json');
    expect(sent()).toEqual({ text: '*a.pdf* processed', username: 'Relay', icon_emoji: ':inbox_tray:', channel: '#ops' });
  });

  it('renders every string inside blocks', async () => {
    const action = await loadAction(slack, {
      url,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '{{ event.type }}' } },
        { type: 'section', fields: [{ type: 'mrkdwn', text: 'id: {{ event.id }}' }] },
      ],
    });
    const event = makeEvent();
    await action.run(event);
    expect(sent()).toEqual({
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'document.processed' } },
        { type: 'section', fields: [{ type: 'mrkdwn', text: `id: ${event.id}` }] },
      ],
    });
  });

  it('sends a batch as one message whose template loops over events', async () => {
    const action = await loadAction(slack, {
      url,
      text: '{{ events | size }} documents processed: {% for e in events %}{{ e.payload.data.document.filename }}{% unless forloop.last %}, {% endunless %}{% endfor %}',
    });
    await action.run(makeBatch(3, (i) => ({ payload: { data: { document: { filename: `f${i}.pdf` } } } })));
    expect(rx.requests).toHaveLength(1);
    expect(sent().text).toBe('3 documents processed: f0.pdf, f1.pdf, f2.pdf');
  });

  it('maps 429 to retryable with the Retry-After delay, per concurrent send', async () => {
    // The slow answer's body arrives after the fast answer's headers, so a
    // Retry-After kept anywhere but per send would be overwritten.
    rx.respond((req) =>
      req.text.includes('slow')
        ? { status: 429, headers: { 'retry-after': '30' }, body: 'rate_limited', bodyDelayMs: 300 }
        : { status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited', delayMs: 100 },
    );
    const action = await loadAction(slack, { url, text: '{{ payload.speed }}' });
    const [slow, fast] = await Promise.all([
      caught(() => action.run(makeEvent({ payload: { speed: 'slow' } }))),
      caught(() => action.run(makeEvent({ payload: { speed: 'fast' } }))),
    ]);
    expect(slow).toBeInstanceOf(DeliveryError);
    expect(slow).toMatchObject({ retryable: true, status: 429, retryAfterMs: 30_000 });
    expect(fast).toMatchObject({ retryable: true, status: 429, retryAfterMs: 2_000 });
  });

  it('maps 4xx to permanent and 5xx to retryable, without retrying inside the package', async () => {
    const action = await loadAction(slack, { url, text: 'x' });
    rx.respond({ status: 400, body: 'invalid_payload' });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({
      retryable: false,
      status: 400,
      message: 'HTTP 400: invalid_payload',
    });
    rx.respond({ status: 404, body: 'channel_not_found' });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: false, status: 404 });
    rx.respond({ status: 503, body: 'service_unavailable' });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: true, status: 503 });
    expect(rx.requests).toHaveLength(3);
  });

  it('times out a webhook that never answers, as retryable', async () => {
    rx.respond(() => 'hang');
    const action = await loadAction(slack, { url, text: 'x', timeout: 150 });
    const started = Date.now();
    const err = await caught(() => action.run(makeEvent()));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ retryable: true, message: expect.stringContaining('Slack request failed') });
  });

  it('stops when the delivery signal aborts', async () => {
    rx.respond(() => 'hang');
    const action = await loadAction(slack, { url, text: 'x' });
    const started = Date.now();
    const err = await caught(() => action.run(makeEvent(), { signal: AbortSignal.timeout(50) }));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err).toMatchObject({ retryable: true });
  });

  it('treats a refused connection as retryable', async () => {
    const closed = await startReceiver();
    await closed.close();
    const action = await loadAction(slack, { url: `${closed.url}/services/x`, text: 'x' });
    expect(await caught(() => action.run(makeEvent()))).toMatchObject({ retryable: true });
  });
});
