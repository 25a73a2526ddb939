// Publishes to RabbitMQ (AMQP 0-9-1) with amqplib on a confirm channel:
// persistent messages, and a delivery counts only once the broker has
// confirmed it (basic.ack). With `mandatory`, a message no queue takes is
// returned (basic.return, before its ack) and the attempt fails.

import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib';
import { DeliveryError, type CreateContext } from '../../src/index.js';
import { brokerName, errorText, lazyLink, type Link } from '../bus/link.js';
import type { BusMessage } from '../bus/message.js';

export interface AmqpTarget {
  exchange: string;
  routingKey: string;
  mandatory: boolean;
}

interface Connection {
  model: ChannelModel;
  channel: ConfirmChannel;
  /** Messages the broker handed back as unroutable, by message id, awaiting their ack. */
  returned: Map<string, string>;
  /** Why the broker closed the channel, when it did (it says before the confirms fail). */
  closeError?: Error & { code?: number };
}

const CONNECT_TIMEOUT_MS = 10_000;

export async function amqpPublisher(url: string, ctx: CreateContext) {
  const amqp = await import('amqplib');
  const what = `rabbitmq ${brokerName(url)}`;
  const link: Link<Connection> = lazyLink<Connection>(
    {
      what,
      async open() {
        const model = await amqp.connect(url, {
          timeout: CONNECT_TIMEOUT_MS,
          // Shown in the management UI's connection list.
          clientProperties: { connection_name: `relay ${ctx.name}` },
        });
        // An 'error' is always followed by 'close' (watched below); without a listener it would be thrown.
        model.on('error', () => {});
        try {
          const channel = await model.createConfirmChannel();
          const conn: Connection = { model, channel, returned: new Map() };
          // Returned messages carry basic.return's reply text, which amqplib's types leave out.
          channel.on('return', (msg: Message & { fields: { replyText?: string } }) => {
            if (msg.properties.messageId) conn.returned.set(msg.properties.messageId, msg.fields.replyText ?? 'NO_ROUTE');
          });
          channel.on('error', (err: Error) => {
            conn.closeError = err;
          });
          return conn;
        } catch (err) {
          await model.close().catch(() => {});
          throw err;
        }
      },
      watch(conn, lost) {
        // After the pending confirms have failed with their own reasons, which settle first.
        const later = (err?: unknown) => setImmediate(() => lost(err));
        conn.model.on('close', later);
        conn.channel.on('close', () => later(conn.closeError));
      },
      async close(conn) {
        await conn.model.close();
      },
      openFailed(err) {
        // A refused login is the same on every try (RabbitMQ answers 403 ACCESS_REFUSED).
        if (/\b403 \(ACCESS-REFUSED\)/.test(errorText(err))) {
          return new DeliveryError(`${what}: login refused`, { retryable: false, cause: err });
        }
        return undefined;
      },
    },
    ctx,
  );

  return {
    what,
    publish(target: AmqpTarget, m: BusMessage, signal: AbortSignal): Promise<void> {
      return link.use(signal, (conn) => publishOne(conn, target, m, what));
    },
  };
}

function publishOne(conn: Connection, t: AmqpTarget, m: BusMessage, what: string): Promise<void> {
  const where = `exchange ${JSON.stringify(t.exchange)}, routing key ${JSON.stringify(t.routingKey)}`;
  const props: Options.Publish = {
    persistent: true,
    mandatory: t.mandatory,
    messageId: m.id,
    type: m.type,
    contentType: m.contentType,
    timestamp: Math.floor(m.receivedAt / 1000),
    appId: 'relay',
    headers: m.headers,
  };
  return new Promise<void>((resolve, reject) => {
    const confirmed = (err: unknown) => {
      const returned = conn.returned.get(m.id);
      conn.returned.delete(m.id);
      if (err) return reject(channelFailure(conn, t, where, what, err));
      // No queue took it: retryable, since the queue may be (re)declared by its consumer.
      if (returned) return reject(new DeliveryError(`${what}: unroutable (${returned}) on ${where}`, { retryable: true }));
      resolve();
    };
    try {
      conn.channel.publish(t.exchange, t.routingKey, m.body, props, confirmed);
    } catch (err) {
      // amqplib checks arguments as it encodes: a routing key over 255 bytes is a
      // TypeError, a header table over 64 KiB a RangeError; neither passes on a retry.
      const permanent = err instanceof TypeError || err instanceof RangeError;
      reject(new DeliveryError(`${what}: ${errorText(err)} (${where})`, { retryable: !permanent, cause: err }));
    }
  });
}

/**
 * The broker closes the channel for a publish it refuses, failing every
 * confirm in flight on it. Only the message whose exchange the reason names
 * (missing: 404, or not writable: 403) failed for good; the others retry.
 */
function channelFailure(conn: Connection, t: AmqpTarget, where: string, what: string, err: unknown): DeliveryError {
  const closed = conn.closeError;
  if (closed && (closed.code === 404 || closed.code === 403)) {
    const ours = closed.message.includes(`exchange '${t.exchange}'`);
    return new DeliveryError(`${what}: ${errorText(closed)}`, { retryable: !ours, cause: closed });
  }
  return new DeliveryError(`${what}: not confirmed (${errorText(closed ?? err)}) on ${where}`, { retryable: true, cause: closed ?? err });
}
