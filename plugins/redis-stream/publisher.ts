// Appends to a Redis stream with node-redis: one XADD per delivery, which
// counts once Redis has answered with the entry id. The offline queue is off,
// so a command never waits for a reconnect that may not come.

import { DeliveryError, type CreateContext } from '../../src/index.js';
import { brokerName, errorText, lazyLink } from '../bus/link.js';
import type { BusMessage } from '../bus/message.js';

type Redis = typeof import('redis');
type Client = ReturnType<typeof newClient>;

export interface StreamTarget {
  stream: string;
  maxlen?: number;
  approximate: boolean;
}

const CONNECT_TIMEOUT_MS = 10_000;


// Reply errors that say the command or the credentials are wrong, not the moment.
const PERMANENT_REPLY = /^(WRONGTYPE|ERR|NOPERM|WRONGPASS|NOAUTH)\b/;
const TRANSIENT_ERR = /max number of clients/i;

export async function redisPublisher(url: string, ctx: CreateContext) {
  const redis = await import('redis');
  const what = `redis ${brokerName(url)}`;
  const refused = (err: unknown) =>
    err instanceof redis.ErrorReply && PERMANENT_REPLY.test(err.message) && !TRANSIENT_ERR.test(err.message);

  const link = lazyLink<Client>(
    {
      what,
      async open() {
        const client = newClient(redis, url, `relay-${ctx.name}`.replace(/\s+/g, '-'));
        // Socket errors are reported as 'error' then 'end'; without a listener they would be thrown.
        client.on('error', () => {});
        await client.connect();
        return client;
      },
      watch(client, lost) {
        client.on('error', lost);
        client.on('end', lost);
      },
      async close(client) {
        await client.close();
      },
      openFailed(err) {
        if (refused(err)) return new DeliveryError(`${what}: ${errorText(err)}`, { retryable: false, cause: err });
        return undefined;
      },
    },
    ctx,
  );

  return {
    what,
    append(t: StreamTarget, m: BusMessage, signal: AbortSignal): Promise<string> {
      if (!t.stream) return Promise.reject(new DeliveryError(`${what}: the stream key rendered empty`, { retryable: false }));
      const fields: Record<string, string | Buffer> = { ...m.headers, 'content-type': m.contentType, body: m.body };
      const trim = t.maxlen === undefined ? undefined : { TRIM: { strategy: 'MAXLEN' as const, strategyModifier: t.approximate ? ('~' as const) : ('=' as const), threshold: t.maxlen } };
      return link.use(signal, async (client) => {
        try {
          return await client.xAdd(t.stream, '*', fields, trim);
        } catch (err) {
          const permanent = refused(err);
          throw new DeliveryError(`${what}: XADD ${JSON.stringify(t.stream)}: ${errorText(err)}`, { retryable: !permanent, cause: err });
        }
      });
    },
  };
}

function newClient(redis: Redis, url: string, name: string) {
  return redis.createClient({
    url,
    name,
    disableOfflineQueue: true,
    // Relay's retries reconnect (see ../bus/link.ts).
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy: false },
  });
}
