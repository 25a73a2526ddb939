// The rabbitmq action against the RabbitMQ on 127.0.0.1:5672: what a message
// carries, which failures retry, and the end-to-end path through Relay.

import amqp, { type ChannelModel, type ConsumeMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { describeBusDelivery, unreachableError, uniqueName, type Consumed, type Consumer } from '../../test/helpers/bus.js';
import { caught, createTestAjv, loadAction, makeBatch, makeEvent, pluginContext, silentLogger } from '../../test/helpers/events.js';
import { waitFor } from '../../test/helpers/relay-process.js';
import { startTcpProxy } from '../../test/helpers/tcp-proxy.js';
import { rabbitmq } from './index.js';

const PORT = 5672;
const url = (port = PORT, auth = 'guest:guest') => `amqp://${auth}@127.0.0.1:${port}`;

interface Received extends Consumed {
  message: ConsumeMessage;
}

/** A topic exchange of its own, with a queue bound to every key; deleted on close. */
async function consumeExchange(): Promise<Consumer<Received> & { exchange: string }> {
  const exchange = uniqueName('relay-test');
  const model: ChannelModel = await amqp.connect(url());
  const ch = await model.createChannel();
  await ch.assertExchange(exchange, 'topic', { durable: false });
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, exchange, '#');
  const received: Received[] = [];
  await ch.consume(
    queue,
    (message) => {
      if (!message) return;
      const headers = Object.fromEntries(Object.entries(message.properties.headers ?? {}).map(([k, v]) => [k, String(v)]));
      received.push({ body: message.content, headers, where: message.fields.routingKey, message });
    },
    { noAck: true },
  );
  return {
    exchange,
    received,
    async close() {
      await ch.deleteExchange(exchange);
      await model.close();
    },
  };
}

describe('rabbitmq options', () => {
  const validate = createTestAjv().compile(rabbitmq.options);

  it('fills defaults: amq.topic, source.type as routing key, mandatory', () => {
    const o: Record<string, unknown> = { url: url() };
    expect(validate(o)).toBe(true);
    expect(o).toEqual({ url: url(), exchange: 'amq.topic', routingKey: '{{ event.source }}.{{ event.type }}', mandatory: true });
  });

  it('rejects a URL that is not AMQP and unknown options', () => {
    expect(validate({ url: 'http://127.0.0.1:5672' })).toBe(false);
    expect(validate({ url: url(), queue: 'x' })).toBe(false);
  });

  it('keys the circuit breaker on the broker and vhost, without the credentials', async () => {
    const action = await loadAction(rabbitmq, { url: 'amqp://relay:s3cret@mq.internal:5672/prod' });
    expect(action.target()).toBe('rabbitmq:amqp://mq.internal:5672/prod');
  });
});

describe('rabbitmq publishing', () => {
  let consumer: Awaited<ReturnType<typeof consumeExchange>>;
  beforeAll(async () => {
    consumer = await consumeExchange();
  });
  afterAll(() => consumer?.close());
  const byId = (id: string) => waitFor(() => consumer.received.find((m) => m.message.properties.messageId === id), `message ${id}`);

  it('sends a persistent message with the event as properties and headers, confirmed', async () => {
    const action = await loadAction(rabbitmq, { url: url(), exchange: consumer.exchange, routingKey: 'docs.{{ payload.data.document.id }}' });
    const event = makeEvent({ rawBody: Buffer.from('{"data": {"document": {"id": "d1"}}}  '), payload: { data: { document: { id: 'd1' } } } });
    const result = await action.run(event);
    expect(result).toEqual({ info: expect.stringContaining('confirmed') });

    const { message, body, where } = await byId(event.id);
    expect(body.toString()).toBe('{"data": {"document": {"id": "d1"}}}  ');
    expect(where).toBe('docs.d1');
    expect(message.properties).toMatchObject({
      deliveryMode: 2,
      messageId: event.id,
      type: 'document.processed',
      contentType: 'application/json',
      appId: 'relay',
      timestamp: Math.floor(event.receivedAt / 1000),
      headers: { 'x-relay-event-id': event.id, 'x-relay-event-type': 'document.processed', 'x-relay-source': 'archivus' },
    });
  });

  it('renders a body and headers; a batch is one message of the payloads', async () => {
    const action = await loadAction(rabbitmq, {
      url: url(),
      exchange: consumer.exchange,
      body: '{"doc":"{{ payload.data.document.id }}"}',
      headers: { 'X-Tenant': '{{ event.source }}' },
    });
    const event = makeEvent();
    await action.run(event);
    const rendered = await byId(event.id);
    expect(rendered.body.toString()).toBe(`{"doc":"${(event.payload as { data: { document: { id: string } } }).data.document.id}"}`);
    expect(rendered.headers['x-tenant']).toBe('archivus');

    const plain = await loadAction(rabbitmq, { url: url(), exchange: consumer.exchange });
    const batch = makeBatch(3, (i) => ({ payload: { i } }));
    await plain.run(batch);
    const one = await byId(batch[0]!.id);
    expect(JSON.parse(one.body.toString())).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(one.headers['x-relay-batch-size']).toBe('3');
  });

  it('fails, to retry, when no queue takes the message; drops it without `mandatory`', async () => {
    const action = await loadAction(rabbitmq, { url: url(), exchange: 'amq.topic', routingKey: uniqueName('nobody') });
    const err = await caught(() => action.run(makeEvent()));
    expect(err).toBeInstanceOf(DeliveryError);
    expect(err).toMatchObject({ retryable: true, message: expect.stringContaining('unroutable (NO_ROUTE)') });

    const lax = await loadAction(rabbitmq, { url: url(), exchange: 'amq.topic', routingKey: uniqueName('nobody'), mandatory: false });
    await expect(lax.run(makeEvent())).resolves.toBeDefined();
  });

  it('fails for good on a missing exchange or a routing key too long, and keeps publishing afterwards', async () => {
    const missing = uniqueName('no-such-exchange');
    const action = await loadAction(rabbitmq, { url: url(), exchange: '{{ payload.exchange }}' });
    const err = await caught(() => action.run(makeEvent({ payload: { exchange: missing } })));
    expect(err).toMatchObject({ retryable: false, message: expect.stringContaining(`no exchange '${missing}'`) });

    const tooLong = await loadAction(rabbitmq, { url: url(), exchange: consumer.exchange, routingKey: 'k'.repeat(300) });
    expect(await caught(() => tooLong.run(makeEvent()))).toMatchObject({ retryable: false });

    // The broker closed the channel over the missing exchange: the next delivery opens another.
    const ok = makeEvent({ payload: { exchange: consumer.exchange } });
    await action.run(ok);
    await byId(ok.id);
  });

  it('fails only the message whose exchange is missing for good, not others in flight on the channel', async () => {
    const action = await loadAction(rabbitmq, { url: url(), exchange: '{{ payload.exchange }}' });
    const events = [
      ...Array.from({ length: 5 }, () => makeEvent({ payload: { exchange: consumer.exchange } })),
      makeEvent({ payload: { exchange: uniqueName('no-such-exchange') } }),
      ...Array.from({ length: 5 }, () => makeEvent({ payload: { exchange: consumer.exchange } })),
    ];
    const results = await Promise.allSettled(events.map((e) => action.run(e)));
    const permanent = results.flatMap((r, i) => (r.status === 'rejected' && (r.reason as DeliveryError).retryable === false ? [i] : []));
    expect(permanent).toEqual([5]);
  });

  it('treats a refused login as permanent and an unreachable broker as retryable', async () => {
    const login = await loadAction(rabbitmq, { url: url(PORT, 'guest:wrong') });
    expect(await caught(() => login.run(makeEvent()))).toMatchObject({ retryable: false, message: expect.stringContaining('login refused') });

    const down = await unreachableError(PORT, async (port) => (await loadAction(rabbitmq, { url: url(port) })).run(makeEvent()));
    expect(down).toMatchObject({ retryable: true, message: expect.stringContaining('cannot connect') });
  });

  it('opens its connection at the first delivery, reuses it, and closes it when the action is retired', async () => {
    const proxy = await startTcpProxy(PORT);
    const closers: Array<() => void | Promise<void>> = [];
    const runner = await rabbitmq.create(
      { url: url(proxy.port), exchange: consumer.exchange, routingKey: 'x', mandatory: true },
      pluginContext('retire-me', (fn) => void closers.push(fn)),
    );
    expect(proxy.forwarded()).toBe(0);
    const input = (event = makeEvent()) => ({
      options: { url: url(proxy.port), exchange: consumer.exchange, routingKey: 'x', mandatory: true },
      event,
      attempt: 1,
      delivery: { id: 1, key: 'msg_test' },
      transformed: {},
      signal: new AbortController().signal,
      logger: silentLogger,
    });
    await Promise.all([runner(input()), runner(input()), runner(input())]);
    await runner(input());
    expect(proxy.forwarded()).toBe(1);
    expect(proxy.active()).toBe(1);

    await Promise.all(closers.map((fn) => fn()));
    await waitFor(() => proxy.active() === 0, 'the connection closed');
    await proxy.close();
  });
});

describeBusDelivery('rabbitmq', async () => {
  const consumer = await consumeExchange();
  return {
    brokerPort: PORT,
    action: (port) => `{ use: rabbitmq, with: { url: "${url(port)}", exchange: ${consumer.exchange} } }`,
    consume: async () => consumer,
    where: (type) => `archivus.${type}`,
    carriesHeaders: true,
    dedupes: false,
  };
});
