// The end-to-end checks every event-bus plugin passes, against the real
// broker: Relay (a real server) receives a signed event and publishes it, and
// the test consumes it with the broker's own client. Then, with a TCP proxy
// the test controls between Relay and the broker: the broker becomes
// unreachable, events are still acknowledged, attempts fail and are retried,
// and once the broker is back every event arrives as it was sent.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import type { DeliveryDetail } from '../../src/queue/store.js';
import { caught } from './events.js';
import { startInProcess } from './in-process.js';
import { postArchivus, waitFor } from './relay-process.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

const SECRET = 'bus-secret';

/** One message as the test's consumer received it. */
export interface Consumed {
  body: Buffer;
  /** Headers, properties or fields the message carried, by lower-case name. */
  headers: Record<string, string>;
  /** The routing key, subject, stream key or topic it was published to. */
  where: string;
}

export interface Consumer<M extends Consumed = Consumed> {
  received: M[];
  close(): Promise<void>;
}

export interface BusCase {
  /** The broker's port on 127.0.0.1. */
  brokerPort: number;
  /** The action, as a YAML flow mapping (`{ use: ..., with: {...} }`), for a broker on `port`. */
  action(port: number): string;
  /** Starts consuming what the action publishes (called before anything is sent). */
  consume(): Promise<Consumer>;
  /** Where an `archivus` event of `type` is expected to be published. */
  where(type: string): string;
  /** Whether the messages carry the event id, type and source (MQTT 3.1.1 cannot). */
  carriesHeaders: boolean;
  /** Whether the broker drops a second copy of an event by its id (JetStream's Nats-Msg-Id). */
  dedupes: boolean;
}

let seq = 0;
/** A unique name for exchanges, streams, keys and topics, so parallel runs do not collide. */
export function uniqueName(prefix: string): string {
  seq += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${seq}`;
}

/** What `attempt` throws when pointed (by port) at a proxy in front of the broker that drops every connection. */
export async function unreachableError(brokerPort: number, attempt: (port: number) => Promise<unknown>): Promise<unknown> {
  const proxy = await startTcpProxy(brokerPort);
  proxy.block();
  try {
    return await caught(() => attempt(proxy.port));
  } finally {
    await proxy.close();
  }
}

/** A body with spacing and key order a re-serialisation would lose, so a byte-exact check means something. */
function rawEvent(id: string, type: string): string {
  return `{"type":"${type}",  "id":"${id}",\n "data": {"n": 1.50, "document": {"filename": "${id}.pdf"}}}\n`;
}

function yaml(action: string, retry: string): string {
  return `
delivery: { concurrency: 4, timeout: 30s, retry: ${retry} }
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} } }
rules:
  - name: bus
    on: "**"
    actions: [${action}]
`;
}

const deliveryOf = async (relay: Relay, id: string): Promise<DeliveryDetail | undefined> =>
  (await relay.store.getEvent(id))?.deliveries[0];

export function describeBusDelivery(name: string, setup: () => Promise<BusCase>): void {
  describe(`${name} end to end, against the real broker`, () => {
    let bus: BusCase;
    let consumer: Consumer;
    let proxy: TcpProxy;
    const relays: Relay[] = [];

    beforeAll(async () => {
      bus = await setup();
      consumer = await bus.consume();
      proxy = await startTcpProxy(bus.brokerPort);
    });
    afterAll(async () => {
      await Promise.all(relays.map((r) => r.stop()));
      await consumer?.close();
      await proxy?.close();
    });

    const send = async (relay: Relay, id: string, type = 'document.processed') => {
      const body = rawEvent(id, type);
      const res = await postArchivus(`${relay.url}/webhooks/archivus`, body, SECRET);
      expect(res.status).toBe(202);
      return body;
    };
    const arrived = (id: string) => consumer.received.filter((m) => m.body.toString().includes(`"id":"${id}"`));

    it('publishes the original bytes, with the event id, type and source, where the template says', async () => {
      const relay = await startInProcess(yaml(bus.action(bus.brokerPort), '{ attempts: 3 }'));
      relays.push(relay);
      const id = uniqueName('evt');
      const body = await send(relay, id, 'invoice.paid');

      const [message] = await waitFor(() => (arrived(id).length > 0 ? arrived(id) : undefined), `${id} on the broker`);
      expect(message!.body.equals(Buffer.from(body))).toBe(true);
      expect(message!.where).toBe(bus.where('invoice.paid'));
      if (bus.carriesHeaders) {
        expect(message!.headers).toMatchObject({
          'x-relay-event-id': id,
          'x-relay-event-type': 'invoice.paid',
          'x-relay-source': 'archivus',
        });
      }
      const delivery = await waitFor(async () => {
        const d = await deliveryOf(relay, id);
        return d?.status === 'delivered' ? d : undefined;
      }, 'the delivery recorded as delivered');
      expect(delivery.attempts).toHaveLength(1);
    });

    it('retries while the broker is unreachable, then delivers every acknowledged event as sent', { timeout: 120_000 }, async () => {
      // Full-jitter backoff between 0 and 1-2 s: a couple of failed attempts
      // per event before the proxy is restored, under the circuit breaker's 5
      // (if a slow machine trips it anyway, the half-open trial after its
      // cool-down still delivers; the test takes longer, it does not fail).
      const relay = await startInProcess(yaml(bus.action(proxy.port), '{ attempts: 100, initialDelay: 1s, maxDelay: 2s }'));
      relays.push(relay);

      const warm = [uniqueName('evt'), uniqueName('evt')];
      for (const id of warm) {
        await send(relay, id);
        await waitFor(() => arrived(id).length > 0, `${id} through the proxy`);
      }
      // One connection, opened by the first delivery and reused by the second.
      expect(proxy.forwarded()).toBe(1);

      proxy.block();
      const offline = [uniqueName('evt'), uniqueName('evt')];
      const bodies = new Map<string, string>();
      for (const id of offline) bodies.set(id, await send(relay, id));

      // Each event failed at least once and one was retried, still failing,
      // while blocked; and the client tried to connect again (how many tries
      // fall inside the cut depends on its reconnect timer, so wait for two).
      await waitFor(async () => {
        const ds = await Promise.all(offline.map((id) => deliveryOf(relay, id)));
        const failed = ds.map((d) => d?.attempts.filter((a) => a.outcome === 'retry').length ?? 0);
        return failed.every((n) => n >= 1) && failed.some((n) => n >= 2) && proxy.dropped() >= 2;
      }, 'failed and retried attempts, and a reconnection refused, while the broker is unreachable', 60_000);
      for (const id of offline) expect(arrived(id)).toHaveLength(0);
      const failedAttempt = (await deliveryOf(relay, offline[0]!))!.attempts[0]!;
      expect(failedAttempt.error).toMatch(/cannot connect|connection lost|not confirmed|not acknowledged/);

      proxy.unblock();
      for (const id of offline) {
        await waitFor(async () => (await deliveryOf(relay, id))?.status === 'delivered', `${id} delivered after the broker is back`, 90_000);
        const got = await waitFor(() => (arrived(id).length > 0 ? arrived(id) : undefined), `${id} on the broker`);
        // At least once: a retry after a confirmation lost on the way may publish twice; every copy is the original.
        for (const m of got) expect(m.body.equals(Buffer.from(bodies.get(id)!))).toBe(true);
      }
      // A new connection after the cut.
      expect(proxy.forwarded()).toBeGreaterThanOrEqual(2);

      // Stopping Relay closes the action's connection.
      expect(proxy.active()).toBe(1);
      await relay.stop();
      await waitFor(() => proxy.active() === 0, 'the broker connection closed at shutdown');
    });

    it('fails an attempt whose confirmation is lost with the connection, and retries it: at least once', { timeout: 120_000 }, async () => {
      const relay = await startInProcess(yaml(bus.action(proxy.port), '{ attempts: 100, initialDelay: 200ms, maxDelay: 1s }'));
      relays.push(relay);
      const warm = uniqueName('evt');
      await send(relay, warm);
      await waitFor(() => arrived(warm).length > 0, 'a first message, so the connection is open');

      // The broker takes the message, but its confirmation never reaches Relay; then the connection drops.
      proxy.mute();
      const id = uniqueName('evt');
      const body = await send(relay, id);
      await waitFor(() => arrived(id).length > 0, 'the broker taking the message');
      proxy.block();
      proxy.unblock();

      const delivery = await waitFor(async () => {
        const d = await deliveryOf(relay, id);
        return d?.status === 'delivered' ? d : undefined;
      }, 'the retry delivered', 90_000);
      // Failed when the connection went, not at the 30 s timeout.
      expect(delivery.attempts[0]).toMatchObject({ outcome: 'retry', error: expect.stringMatching(/connection lost|not confirmed|not acknowledged/) });
      const copies = bus.dedupes ? 1 : 2;
      const got = await waitFor(() => (arrived(id).length >= copies ? arrived(id) : undefined), `${copies} copies`);
      expect(got).toHaveLength(copies);
      for (const m of got) expect(m.body.equals(Buffer.from(body))).toBe(true);
    });
  });
}
