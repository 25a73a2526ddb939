// The redis-stream action against the Redis on 127.0.0.1:6379: what an entry
// carries, MAXLEN trimming, which failures retry, and the end-to-end path
// through Relay.

import { createClient, RESP_TYPES } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/index.js';
import { describeBusDelivery, unreachableError, uniqueName, type Consumed, type Consumer } from '../../test/helpers/bus.js';
import { caught, createTestAjv, loadAction, makeEvent } from '../../test/helpers/events.js';
import { redisStream } from './index.js';

const PORT = 6379;
const url = (port = PORT) => `redis://127.0.0.1:${port}`;

async function redis() {
  const client = createClient({ url: url() }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  client.on('error', () => {});
  await client.connect();
  return client;
}

type Entry = { id: string; message: Record<string, Buffer> };

function toConsumed(key: string, e: Entry): Consumed {
  const { body, ...rest } = e.message;
  const headers = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, v.toString()]));
  return { body: body ?? Buffer.alloc(0), headers, where: key };
}

/** Follows the keys `<name>:*` with XREAD BLOCK (woken by each append, no polling); deletes them on close. */
async function consumeKeys(keys: (name: string) => string[]): Promise<Consumer & { name: string }> {
  const name = uniqueName('relay-test');
  const client = await redis();
  const reader = await redis();
  const received: Consumed[] = [];
  const last = new Map(keys(name).map((k) => [k, '0-0']));
  let open = true;
  const loop = (async () => {
    while (open) {
      const streams = [...last].map(([key, id]) => ({ key, id }));
      const replies = (await reader.xRead(streams, { BLOCK: 200 }).catch(() => null)) as Array<{ name: Buffer; messages: Entry[] }> | null;
      for (const { name: key, messages } of replies ?? []) {
        for (const e of messages) {
          received.push(toConsumed(key.toString(), e));
          last.set(key.toString(), e.id.toString());
        }
      }
    }
  })();
  return {
    name,
    received,
    async close() {
      open = false;
      await loop;
      await client.del(keys(name));
      await Promise.all([client.close(), reader.close()]);
    },
  };
}

describe('redis-stream options', () => {
  const validate = createTestAjv().compile(redisStream.options);

  it('needs a redis URL and a stream; trims approximately by default', () => {
    const o: Record<string, unknown> = { url: url(), stream: 's', maxlen: 1000 };
    expect(validate(o)).toBe(true);
    expect(o).toEqual({ url: url(), stream: 's', maxlen: 1000, approximate: true });
    expect(validate({ url: 'http://x', stream: 's' })).toBe(false);
    expect(validate({ url: url() })).toBe(false);
    expect(validate({ url: url(), stream: 's', maxlen: 0 })).toBe(false);
  });
});

describe('redis-stream publishing', () => {
  let client: Awaited<ReturnType<typeof redis>>;
  const keys: string[] = [];
  const key = () => {
    const k = uniqueName('relay-test');
    keys.push(k);
    return k;
  };
  beforeAll(async () => {
    client = await redis();
  });
  afterAll(async () => {
    if (keys.length) await client.del(keys);
    await client.close();
  });
  const entries = async (k: string) => ((await client.xRange(k, '-', '+')) as unknown as Entry[]).map((e) => toConsumed(k, e));

  it('appends the bytes as they came, binary too, with the event as fields', async () => {
    const k = key();
    const action = await loadAction(redisStream, { url: url(), stream: '{{ payload.key }}' });
    const raw = Buffer.from([0x7b, 0xff, 0x00, 0x7d]);
    const event = makeEvent({ rawBody: raw, payload: { key: k }, headers: { 'content-type': 'application/octet-stream' } });
    const result = await action.run(event);

    const [entry, ...rest] = await entries(k);
    expect(rest).toHaveLength(0);
    expect(entry!.body.equals(raw)).toBe(true);
    expect(entry!.headers).toEqual({
      'x-relay-event-id': event.id,
      'x-relay-event-type': 'document.processed',
      'x-relay-source': 'archivus',
      'content-type': 'application/octet-stream',
    });
    expect(result).toEqual({ info: expect.stringMatching(new RegExp(`^${k} \\d+-\\d+$`)) });
  });

  it('appends a transform\'s JSON as the body (issue 15 item 5)', async () => {
    const k = key();
    const action = await loadAction(redisStream, { url: url(), stream: k, transform: { jsonata: '{"doc": data.id, "type": $event.type}' } });
    await action.run(makeEvent({ payload: { data: { id: 'doc_9' } } }));
    const [entry] = await entries(k);
    expect(JSON.parse(entry!.body.toString())).toEqual({ doc: 'doc_9', type: 'document.processed' });
    expect(entry!.headers['content-type']).toBe('application/json');
  });

  it('caps the stream with MAXLEN: exactly, or by whole nodes with ~', async () => {
    const exact = key();
    const trimmed = await loadAction(redisStream, { url: url(), stream: exact, maxlen: 10, approximate: false });
    for (let i = 0; i < 15; i++) await trimmed.run(makeEvent());
    expect(await client.xLen(exact)).toBe(10);

    // Redis keeps stream entries in nodes of 100 (stream-node-max-entries) and `~` only drops whole nodes.
    const about = key();
    const approximate = await loadAction(redisStream, { url: url(), stream: about, maxlen: 10 });
    for (let i = 0; i < 150; i++) await approximate.run(makeEvent());
    const length = await client.xLen(about);
    expect(length).toBeGreaterThan(10);
    expect(length).toBeLessThan(150);
  });

  it('fails for good on a key of another type or an empty key, and retries when Redis is unreachable', async () => {
    const k = key();
    await client.set(k, 'not a stream');
    const wrong = await caught(async () => (await loadAction(redisStream, { url: url(), stream: k })).run(makeEvent()));
    expect(wrong).toBeInstanceOf(DeliveryError);
    expect(wrong).toMatchObject({ retryable: false, message: expect.stringContaining('WRONGTYPE') });

    const empty = await caught(async () => (await loadAction(redisStream, { url: url(), stream: '{{ payload.missing }}' })).run(makeEvent()));
    expect(empty).toMatchObject({ retryable: false, message: expect.stringContaining('rendered empty') });

    const down = await unreachableError(PORT, async (port) => (await loadAction(redisStream, { url: url(port), stream: key() })).run(makeEvent()));
    expect(down).toMatchObject({ retryable: true, message: expect.stringContaining('cannot connect') });
  });
});

describeBusDelivery('redis-stream', async () => {
  const consumer = await consumeKeys((name) => [`${name}:archivus`]);
  return {
    brokerPort: PORT,
    action: (port) => `{ use: redis-stream, with: { url: "${url(port)}", stream: "${consumer.name}:{{ event.source }}", maxlen: 1000 } }`,
    consume: async () => consumer,
    where: () => `${consumer.name}:archivus`,
    carriesHeaders: true,
    dedupes: false,
  };
});
