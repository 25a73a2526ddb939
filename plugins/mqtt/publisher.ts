// Publishes to an MQTT broker with MQTT.js at QoS 1 (or 2): a delivery counts
// once the broker has answered PUBACK (PUBCOMP for QoS 2). MQTT v5 carries the
// event's identity as user properties; v3.1.1 has nowhere to put it, so the
// body goes alone.

import type { MqttClient } from 'mqtt';
import { DeliveryError, type CreateContext } from '../../src/index.js';
import { brokerName, errorText, lazyLink } from '../bus/link.js';
import type { BusMessage } from '../bus/message.js';

export interface MqttConnectOptions {
  url: string;
  protocolVersion: 4 | 5;
  clientId?: string;
  username?: string;
  password?: string;
}

export interface MqttTarget {
  topic: string;
  qos: 1 | 2;
  retain: boolean;
}

const CONNECT_TIMEOUT_MS = 10_000;


// CONNACK: v3.1.1 4 (bad user name or password) and 5 (not authorized); v5 134 and 135.
const REFUSED_LOGIN = new Set([4, 5, 134, 135]);
// PUBACK: not authorized, topic name invalid, packet too large, payload format invalid.
const REFUSED_PUBLISH = new Set([135, 144, 149, 153]);

/** Why `topic` cannot be published to, if it cannot (MQTT 3.1.1 §4.7, 5.0 §4.7). */
export function topicProblem(topic: string): string | undefined {
  if (!topic) return 'the topic rendered empty';
  if (/[+#]/.test(topic)) return `topic ${JSON.stringify(topic)} has a wildcard (+ or #), which only subscriptions may use`;
  if (topic.includes('\u0000')) return 'the topic contains a NUL character';
  if (Buffer.byteLength(topic) > 65535) return 'the topic is longer than 65535 bytes';
  return undefined;
}

export async function mqttPublisher(o: MqttConnectOptions, ctx: CreateContext) {
  const mqtt = await import('mqtt');
  const what = `mqtt ${brokerName(o.url)}`;
  // One id per action; a random suffix so two Relay instances do not keep
  // taking the broker session from each other.
  const clientId = o.clientId ?? `relay-${Math.random().toString(16).slice(2, 10)}`;
  const link = lazyLink<MqttClient>(
    {
      what,
      async open() {
        return mqtt.connectAsync(
          o.url,
          {
            protocolVersion: o.protocolVersion,
            clientId,
            clean: true,
            connectTimeout: CONNECT_TIMEOUT_MS,
            // Relay's retries reconnect (see ../bus/link.ts).
            reconnectPeriod: 0,
            ...(o.username !== undefined && { username: o.username }),
            ...(o.password !== undefined && { password: o.password }),
          },
          false,
        );
      },
      watch(client, lost) {
        client.on('error', () => {});
        // MQTT.js keeps an unacknowledged QoS 1 message for a reconnect that
        // will not happen here; the link fails it when the connection closes.
        client.on('close', () => lost());
      },
      async close(client) {
        await client.endAsync();
      },
      openFailed(err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number' && REFUSED_LOGIN.has(code)) {
          return new DeliveryError(`${what}: ${errorText(err)}`, { retryable: false, cause: err });
        }
        return undefined;
      },
    },
    ctx,
  );

  return {
    what,
    publish(t: MqttTarget, m: BusMessage, signal: AbortSignal): Promise<void> {
      const problem = topicProblem(t.topic);
      if (problem) return Promise.reject(new DeliveryError(`${what}: ${problem}`, { retryable: false }));
      const properties = o.protocolVersion === 5 ? { contentType: m.contentType, userProperties: m.headers } : undefined;
      return link.use(signal, async (client) => {
        try {
          await client.publishAsync(t.topic, m.body, { qos: t.qos, retain: t.retain, ...(properties && { properties }) });
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          const permanent = typeof code === 'number' && REFUSED_PUBLISH.has(code);
          throw new DeliveryError(`${what}: topic ${JSON.stringify(t.topic)}: ${errorText(err)}`, { retryable: !permanent, cause: err });
        }
      });
    },
  };
}
