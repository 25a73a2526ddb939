// The nats action against the NATS server with JetStream on 127.0.0.1:4222:
// what a message carries, deduplication by event id, which failures retry,
// and the end-to-end path through Relay.

import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { describeBusDelivery, unreachableError, uniqueName, type Consumed, type Consumer } from '../../test/helpers/bus.js';
import { caught, createTestAjv, loadAction, makeEvent } from '../../test/helpers/events.js';
import { waitFor } from '../../test/helpers/relay-process.js';
import { nats } from './index.js';

const PORT = 4222;
const server = (port = PORT) => `nats://127.0.0.1:${port}`;

interface Received extends Consumed {
  seq: number;
}

/** A stream of its own capturing `<name>.>`, read by an ordered consumer; deleted on close. */
async function consumeStream(): Promise<Consumer<Received> & { name: string; jsm: JetStreamManager }> {
  const name = uniqueName('relay-test');
  const nc: NatsConnection = await connect({ servers: server() });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name, subjects: [`${name}.>`] });
  const consumer = await jetstream(nc).consumers.get(name);
  const messages = await consumer.consume();
  const received: Received[] = [];
  void (async () => {
    for await (const m of messages as AsyncIterable<JsMsg>) {
      const headers: Record<string, string> = {};
      for (const key of m.headers?.keys() ?? []) headers[key.toLowerCase()] = m.headers!.get(key);
      received.push({ body: Buffer.from(m.data), headers, where: m.subject, seq: m.seq });
    }
  })();
  return {
    name,
    received,
    jsm,
    async close() {
      await messages.close();
      await jsm.streams.delete(name);
      await nc.close();
    },
  };
}

describe('nats options', () => {
  const validate = createTestAjv().compile(nats.options);

  it('needs servers and a subject; takes one server or a list', () => {
    expect(validate({ servers: server() })).toBe(false);
    expect(validate({ subject: 'a' })).toBe(false);
    expect(validate({ servers: server(), subject: 'a.b' })).toBe(true);
    expect(validate({ servers: [server(), 'nats://other:4222'], subject: 'a.b' })).toBe(true);
    expect(validate({ servers: [], subject: 'a.b' })).toBe(false);
  });

  it('keys the circuit breaker on the servers, without credentials', async () => {
    const action = await loadAction(nats, { servers: ['nats://relay:s3cret@n1:4222', 'n2:4222'], subject: 'a' });
    expect(action.target()).toBe('nats:nats://n1:4222,n2:4222');
  });
});

describe('nats publishing', () => {
  let stream: Awaited<ReturnType<typeof consumeStream>>;
  beforeAll(async () => {
    stream = await consumeStream();
  });
  afterAll(() => stream?.close());
  const action = (extra: Record<string, unknown> = {}) =>
    loadAction(nats, { servers: server(), subject: `${stream.name}.{{ event.source }}.{{ event.type }}`, ...extra });

  it('publishes the bytes with the event as headers, Nats-Msg-Id its id and subject, acknowledged by the stream', async () => {
    const event = makeEvent({ type: 'invoice.paid', rawBody: Buffer.from('{"a": 1}\n') });
    const result = await (await action({ stream: stream.name })).run(event);
    expect(result).toEqual({ info: expect.stringMatching(new RegExp(`^stream ${stream.name} seq \\d+$`)) });

    const got = await waitFor(() => stream.received.find((m) => m.headers['x-relay-event-id'] === event.id), 'the message');
    expect(got.body.toString()).toBe('{"a": 1}\n');
    expect(got.where).toBe(`${stream.name}.archivus.invoice.paid`);
    expect(got.headers).toMatchObject({
      'nats-msg-id': `${event.id}@${stream.name}.archivus.invoice.paid`,
      'x-relay-event-type': 'invoice.paid',
      'x-relay-source': 'archivus',
      'content-type': 'application/json',
    });
  });

  it('stores a retried event once: the stream drops the second copy by its id', async () => {
    const a = await action();
    const event = makeEvent();
    const first = await a.run(event);
    const again = await a.run(event, { attempt: 2 });
    // The stream answers the copy with the sequence of the message it already has.
    expect(again).toEqual({ info: `${first?.info} (duplicate, already stored)` });
    const last = await stream.jsm.streams.getMessage(stream.name, { last_by_subj: `${stream.name}.archivus.document.processed` });
    expect(last?.header.get('x-relay-event-id')).toBe(event.id);
    expect(`seq ${last?.seq}`).toBe(first?.info?.split(' ').slice(-2).join(' '));
  });

  it('stores one event published to two subjects of one stream by two actions', async () => {
    const event = makeEvent();
    const [all, legal] = await Promise.all([action({ subject: `${stream.name}.all` }), action({ subject: `${stream.name}.legal` })]);
    await all.run(event);
    expect(await legal.run(event)).toEqual({ info: expect.not.stringContaining('duplicate') });
    const got = await waitFor(
      () => {
        const copies = stream.received.filter((m) => m.headers['x-relay-event-id'] === event.id);
        return copies.length === 2 ? copies : undefined;
      },
      'both copies',
    );
    expect(got.map((m) => m.where).sort()).toEqual([`${stream.name}.all`, `${stream.name}.legal`]);
  });

  it('fails for good on a subject that cannot be published to or a stream that is not the expected one', async () => {
    const spaced = await caught(async () => (await action({ subject: 'has space.{{ event.type }}' })).run(makeEvent()));
    expect(spaced).toBeInstanceOf(DeliveryError);
    expect(spaced).toMatchObject({ retryable: false });

    const other = await caught(async () => (await action({ stream: 'SOME_OTHER_STREAM' })).run(makeEvent()));
    expect(other).toMatchObject({ retryable: false, message: expect.stringContaining('expected stream does not match') });
  });

  it('retries when no stream takes the subject or the server is unreachable', async () => {
    const nowhere = await caught(async () => (await action({ subject: `${uniqueName('nowhere')}.x` })).run(makeEvent()));
    expect(nowhere).toMatchObject({ retryable: true, message: expect.stringContaining('no stream answered') });

    const down = await unreachableError(PORT, async (port) => (await action({ servers: server(port) })).run(makeEvent()));
    expect(down).toMatchObject({ retryable: true, message: expect.stringContaining('cannot connect') });
  });
});

describeBusDelivery('nats', async () => {
  const stream = await consumeStream();
  return {
    brokerPort: PORT,
    action: (port) =>
      `{ use: nats, with: { servers: "${server(port)}", subject: "${stream.name}.{{ event.source }}.{{ event.type }}", stream: ${stream.name} } }`,
    consume: async () => stream,
    where: (type) => `${stream.name}.archivus.${type}`,
    carriesHeaders: true,
    dedupes: true,
  };
});
