// The mqtt action against the Mosquitto on 127.0.0.1:1883: what a message
// carries in MQTT 5 and 3.1.1, which failures retry, and the end-to-end path
// through Relay (for both protocol versions).

import mqttjs, { type IPublishPacket } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { describeBusDelivery, unreachableError, uniqueName, type Consumed, type Consumer } from '../../test/helpers/bus.js';
import { caught, createTestAjv, loadAction, makeEvent } from '../../test/helpers/events.js';
import { waitFor } from '../../test/helpers/relay-process.js';
import { startTcpProxy } from '../../test/helpers/tcp-proxy.js';
import { mqtt } from './index.js';

const PORT = 1883;
const url = (port = PORT) => `mqtt://127.0.0.1:${port}`;

interface Received extends Consumed {
  packet: IPublishPacket;
}

/** An MQTT 5 subscriber to `<name>/#` at QoS 1, subscribed before anything is published. */
async function consumeTopics(): Promise<Consumer<Received> & { name: string }> {
  const name = uniqueName('relay-test');
  const client = await mqttjs.connectAsync(url(), { protocolVersion: 5, clientId: `${name}-sub` });
  const received: Received[] = [];
  client.on('message', (topic, payload, packet) => {
    const props = packet.properties ?? {};
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(props.userProperties ?? {})) headers[k] = String(v);
    if (props.contentType) headers['content-type'] = props.contentType;
    received.push({ body: payload, headers, where: topic, packet });
  });
  await client.subscribeAsync(`${name}/#`, { qos: 1 });
  return {
    name,
    received,
    async close() {
      await client.endAsync();
    },
  };
}

describe('mqtt options', () => {
  const validate = createTestAjv().compile(mqtt.options);

  it('fills defaults: QoS 1, not retained, MQTT 5', () => {
    const o: Record<string, unknown> = { url: url(), topic: 't' };
    expect(validate(o)).toBe(true);
    expect(o).toEqual({ url: url(), topic: 't', qos: 1, retain: false, protocolVersion: 5 });
  });

  it('refuses QoS 0 (nothing to confirm), another scheme, and a missing topic', () => {
    expect(validate({ url: url(), topic: 't', qos: 0 })).toBe(false);
    expect(validate({ url: 'tcp://127.0.0.1:1883', topic: 't' })).toBe(false);
    expect(validate({ url: url() })).toBe(false);
  });
});

describe('mqtt publishing', () => {
  let sub: Awaited<ReturnType<typeof consumeTopics>>;
  beforeAll(async () => {
    sub = await consumeTopics();
  });
  afterAll(() => sub?.close());
  const action = (extra: Record<string, unknown> = {}) =>
    loadAction(mqtt, { url: url(), topic: `${sub.name}/{{ event.source }}/{{ event.type }}`, ...extra });
  const byBody = (text: string) => waitFor(() => sub.received.find((m) => m.body.toString() === text), `the message ${text}`);

  it('MQTT 5: the bytes, with the event as user properties and the content type', async () => {
    const event = makeEvent({ rawBody: Buffer.from(`{"v5": "${uniqueName('b')}"}`) });
    const result = await (await action({ headers: { 'x-tenant': '{{ event.source }}' } })).run(event);
    expect(result).toEqual({ info: `acknowledged on ${sub.name}/archivus/document.processed` });
    const got = await byBody(event.rawBody.toString());
    expect(got.where).toBe(`${sub.name}/archivus/document.processed`);
    expect(got.packet.qos).toBe(1);
    expect(got.headers).toEqual({
      'x-relay-event-id': event.id,
      'x-relay-event-type': 'document.processed',
      'x-relay-source': 'archivus',
      'x-tenant': 'archivus',
      'content-type': 'application/json',
    });
  });

  it('MQTT 3.1.1: the body alone; QoS 2 is confirmed too', async () => {
    const event = makeEvent({ rawBody: Buffer.from(`{"v4": "${uniqueName('b')}"}`) });
    await (await action({ protocolVersion: 4, qos: 2 })).run(event);
    const got = await byBody(event.rawBody.toString());
    expect(got.headers).toEqual({});
  });

  it('fails for good on a topic with a wildcard or rendered empty, and retries when the broker is unreachable', async () => {
    const wild = await caught(async () => (await action({ topic: `${sub.name}/+/x` })).run(makeEvent()));
    expect(wild).toBeInstanceOf(DeliveryError);
    expect(wild).toMatchObject({ retryable: false, message: expect.stringContaining('wildcard') });
    const empty = await caught(async () => (await action({ topic: '{{ payload.missing }}' })).run(makeEvent()));
    expect(empty).toMatchObject({ retryable: false, message: expect.stringContaining('rendered empty') });

    const down = await unreachableError(PORT, async (port) => (await action({ url: url(port) })).run(makeEvent()));
    expect(down).toMatchObject({ retryable: true, message: expect.stringContaining('cannot connect') });
  });

  it('fails, to retry, a publish whose PUBACK is lost with the connection (MQTT.js alone would wait for a reconnect)', async () => {
    const proxy = await startTcpProxy(PORT);
    const a = await action({ url: url(proxy.port) });
    await a.run(makeEvent());
    proxy.mute();
    const event = makeEvent({ rawBody: Buffer.from(`{"lost": "${uniqueName('b')}"}`) });
    const pending = caught(() => a.run(event));
    await byBody(event.rawBody.toString());
    proxy.block();
    expect(await pending).toMatchObject({ retryable: true, message: expect.stringContaining('connection lost') });
    await proxy.close();
  });
});

for (const protocolVersion of [5, 4] as const) {
  describeBusDelivery(`mqtt (protocol version ${protocolVersion})`, async () => {
    const consumer = await consumeTopics();
    return {
      brokerPort: PORT,
      action: (port) =>
        `{ use: mqtt, with: { url: "${url(port)}", topic: "${consumer.name}/{{ event.source }}/{{ event.type }}", protocolVersion: ${protocolVersion} } }`,
      consume: async () => consumer,
      where: (type) => `${consumer.name}/archivus/${type}`,
      carriesHeaders: protocolVersion === 5,
      dedupes: false,
    };
  });
}
