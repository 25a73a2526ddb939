// Publishes to NATS JetStream with the official client (@nats-io/transport-node
// and @nats-io/jetstream): a delivery counts once the stream has stored the
// message and answered with its PubAck. `Nats-Msg-Id` is the event id and
// the subject, so a retry after a lost PubAck is dropped by the stream's
// duplicate window instead of stored twice.

import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamClient, PubAck } from '@nats-io/jetstream';
import { DeliveryError, type CreateContext } from '../../src/index.js';
import { lazyLink, errorText } from '../bus/link.js';
import type { BusMessage } from '../bus/message.js';

export interface NatsConnectOptions {
  servers: string | string[];
  user?: string;
  pass?: string;
  token?: string;
}

interface Connection {
  nc: NatsConnection;
  js: JetStreamClient;
}

const CONNECT_TIMEOUT_MS = 10_000;

/** The servers without credentials: names the broker in logs and is the circuit-breaker key. */
export function serverNames(servers: string | string[]): string {
  return (Array.isArray(servers) ? servers : [servers]).map((s) => s.replace(/^((?:[a-z]+:)?\/\/)?[^@/]*@/i, '$1')).join(',');
}

export async function natsPublisher(o: NatsConnectOptions, ctx: CreateContext) {
  const [{ connect, headers }, { jetstream }] = await Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]);
  const what = `nats ${serverNames(o.servers)}`;
  const link = lazyLink<Connection>(
    {
      what,
      async open() {
        const nc = await connect({
          servers: o.servers,
          name: `relay ${ctx.name}`,
          // Relay's retries reconnect: a dropped connection fails the attempts
          // waiting on it rather than holding them in the client's buffer.
          reconnect: false,
          timeout: CONNECT_TIMEOUT_MS,
          ...(o.user !== undefined && { user: o.user }),
          ...(o.pass !== undefined && { pass: o.pass }),
          ...(o.token !== undefined && { token: o.token }),
        });
        return { nc, js: jetstream(nc) };
      },
      watch(conn, lost) {
        void conn.nc.closed().then(lost);
      },
      async close(conn) {
        await conn.nc.close();
      },
      openFailed(err) {
        if ((err as Error).name === 'AuthorizationError') return new DeliveryError(`${what}: ${errorText(err)}`, { retryable: false, cause: err });
        return undefined;
      },
    },
    ctx,
  );

  return {
    what,
    publish(subject: string, stream: string | undefined, m: BusMessage, signal: AbortSignal): Promise<PubAck> {
      return link.use(signal, async (conn) => {
        try {
          const h = headers();
          for (const [name, value] of Object.entries(m.headers)) h.set(name, value);
          h.set('content-type', m.contentType);
          return await conn.js.publish(subject, m.body, {
            msgID: messageId(m.id, subject),
            headers: h,
            ...(stream !== undefined && { expect: { streamName: stream } }),
          });
        } catch (err) {
          throw classify(err, what, subject);
        }
      });
    },
  };
}

/**
 * The stream's dedup key. The subject is part of it: with the event id alone,
 * two actions publishing one event to two subjects of one stream would see
 * the second copy dropped as a duplicate of the first.
 */
function messageId(eventId: string, subject: string): string {
  return `${eventId}@${subject}`;
}

// Named errors rather than instanceof: the classes live in the lazily loaded modules.
const PERMANENT = new Set(['InvalidSubjectError', 'InvalidArgumentError', 'PermissionViolationError', 'AuthorizationError']);

function classify(err: unknown, what: string, subject: string): DeliveryError {
  const e = err as Error & { status?: number };
  const where = `${what}: subject ${JSON.stringify(subject)}`;
  // The stream refused the message itself (too large, wrong expected stream): status 400.
  if (e.name === 'JetStreamApiError' && e.status === 400) return new DeliveryError(`${where}: ${e.message}`, { retryable: false, cause: err });
  if (PERMANENT.has(e.name)) return new DeliveryError(`${where}: ${errorText(err)}`, { retryable: false, cause: err });
  // "No responders": no stream takes the subject yet, or JetStream is still
  // recovering after a restart; the client cannot tell which, so try again.
  if (e.name === 'JetStreamNotEnabled') {
    return new DeliveryError(`${where}: no stream answered (is a stream bound to this subject?)`, { retryable: true, cause: err });
  }
  return new DeliveryError(`${where}: not acknowledged (${errorText(err)})`, { retryable: true, cause: err });
}
