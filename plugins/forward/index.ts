// `forward`: re-sends the event over HTTP. By default the exact bytes and
// content type that came in, so the target sees what the provider sent
// (minus the provider's signature, which would no longer be Relay's to vouch
// for), optionally re-signed with Relay's own HMAC or as Standard Webhooks.

import { createHmac } from 'node:crypto';
import type { Readable } from 'node:stream';
import { definePlugin, DeliveryError, EgressError, httpResponse, type DeliveryInfo, type DeliveryRequest, type JsonValue, type RelayEvent } from '../../src/index.js';
import { options, type ForwardOptions } from './options.js';
import { checkBodyOptions } from '../bus/message.js';
import { standardWebhooksSigner, type StandardWebhooksSigner } from './standard-webhooks.js';

export type { ForwardOptions, ForwardSign } from './options.js';

/**
 * Incoming headers never forwarded, besides the sensitive ones (credentials,
 * signatures and their timestamps: `ctx.isSensitiveHeader`, the list the
 * dashboard masks): hop-by-hop (RFC 9110 §7.6.1) and those undici computes itself.
 */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'content-length', 'expect',
]);

/** Bytes of an error response read for the attempt's message; the rest is never downloaded. */
export const ERROR_EXCERPT_BYTES = 4096;

interface Outgoing {
  headers: Record<string, string>;
  body: Buffer;
}

interface BuildInput {
  event: RelayEvent;
  batch: RelayEvent[] | undefined;
  transformed: Readonly<Record<string, JsonValue>>;
  delivery: DeliveryInfo;
  sensitive: (name: string) => boolean;
  swSign: StandardWebhooksSigner | undefined;
}

function build(o: ForwardOptions, { event, batch, transformed, delivery, sensitive, swSign }: BuildInput): Outgoing {
  const headers: Record<string, string> = {};
  if (o.forwardHeaders && !batch) {
    for (const [name, value] of Object.entries(event.headers)) {
      if (!HOP_BY_HOP_HEADERS.has(name) && !sensitive(name)) headers[name] = value;
    }
  }
  let body: Buffer;
  if (transformed.transform !== undefined) {
    body = Buffer.from(JSON.stringify(transformed.transform));
    headers['content-type'] = 'application/json';
  } else if (o.body !== undefined) {
    body = Buffer.from(o.body);
    headers['content-type'] = 'application/json';
  } else if (batch) {
    body = Buffer.from(JSON.stringify(batch.map((e) => e.payload)));
    headers['content-type'] = 'application/json';
  } else {
    body = event.rawBody;
    headers['content-type'] = event.headers['content-type'] ?? 'application/json';
  }
  headers['x-relay-event-id'] = event.id;
  headers['x-relay-event-type'] = event.type;
  headers['x-relay-source'] = event.source;
  if (batch) headers['x-relay-batch-size'] = String(batch.length);
  for (const [name, value] of Object.entries(o.headers ?? {})) headers[name.toLowerCase()] = value;
  if (o.sign) {
    const digest = createHmac(o.sign.algorithm, o.sign.secret).update(body).digest(o.sign.encoding);
    headers[o.sign.header.toLowerCase()] = `${o.sign.algorithm}=${digest}`;
  }
  if (o.idempotencyKey) headers['idempotency-key'] = delivery.key;
  // Last, so neither the incoming headers nor `headers` can replace the id the signature covers.
  if (swSign) Object.assign(headers, swSign(delivery.key, Date.now(), body));
  return { headers, body };
}

function parseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new DeliveryError(`invalid URL: ${JSON.stringify(raw.slice(0, 200))}`, { retryable: false });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new DeliveryError(`unsupported URL scheme ${url.protocol}`, { retryable: false });
  }
  return url;
}

export const forward = definePlugin<ForwardOptions>({
  name: 'forward',
  description: 'Forwards the event over HTTP: the original bytes, a templated body or a transform\'s JSON; optionally HMAC- or Standard-Webhooks-signed.',
  options,
  templates: ['url', 'headers', 'body'],
  transforms: ['transform'],
  urls: ['url'],
  // A template cannot touch the origin (`urls`), so the configured text gives it.
  target: (o) => new URL(o.url).origin,
  async create(config, ctx) {
    checkBodyOptions(config);
    // Loaded with the first forward action (see egress.ts on undici).
    const { request } = await import('undici');
    // A pool of its own for the per-action `connections`, under the same egress policy as ctx.dispatcher.
    const agent = ctx.egress.agent({ connections: config.connections, connectTimeout: Math.min(config.timeout, 10_000) });
    ctx.onClose(() => agent.close());
    const swSign = config.standardWebhooks && standardWebhooksSigner(config.standardWebhooks.secrets);

    return async ({ options: o, event, batch, transformed, delivery, signal, traceparent }) => {
      const url = parseUrl(o.url);
      const { headers, body } = build(o, { event, batch, transformed, delivery, sensitive: ctx.isSensitiveHeader, swSign });
      // The attempt's own span (tracing on), replacing any traceparent passed on from the sender.
      if (traceparent !== undefined) headers.traceparent = traceparent;
      const limit = deadline(signal, o.timeout);
      let status: number;
      let text = '';
      let retryAfter: string | undefined;
      let answered: Record<string, string | string[] | undefined> = {};
      // Recorded with the attempt for "copy as curl"; the body only when it is not the event's own.
      const sent: DeliveryRequest = { method: o.method, url: url.href, headers, ...((o.body !== undefined || o.transform !== undefined || batch) && { body: body.toString() }) };
      try {
        const res = await request(url, { dispatcher: agent, method: o.method, headers, body, signal: limit.signal });
        status = res.statusCode;
        answered = res.headers;
        const ra = res.headers['retry-after'];
        retryAfter = Array.isArray(ra) ? ra[0] : ra;
        // Always drain or destroy: an unread body pins the keep-alive connection.
        if (status >= 200 && status < 300) await res.body.dump();
        else text = await excerpt(res.body);
      } catch (err) {
        const blocked = EgressError.find(err);
        if (blocked) throw blocked;
        const why = limit.timedOut() ? `timed out after ${o.timeout}ms` : errorText(err);
        // A header value a template made invalid fails the same way every time.
        const retryable = (err as { code?: unknown }).code !== 'UND_ERR_INVALID_ARG';
        throw new DeliveryError(`${url.origin}: ${why}`, { retryable, cause: err, request: sent });
      } finally {
        limit.clear();
      }
      if (status < 200 || status >= 300) throw DeliveryError.fromStatus(status, text, retryAfter, { response: httpResponse(status, answered, text), request: sent });
      return { status, response: httpResponse(status, answered), request: sent };
    };
  },
});

/**
 * The first ERROR_EXCERPT_BYTES of an error body. Leaving the loop early
 * destroys the stream, which closes the connection instead of downloading
 * the rest: a target answering with a huge error costs a few KB, not its size.
 */
async function excerpt(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size > ERROR_EXCERPT_BYTES) break;
  }
  const text = Buffer.concat(chunks).subarray(0, ERROR_EXCERPT_BYTES).toString('utf8');
  return size > ERROR_EXCERPT_BYTES ? `${text}…` : text;
}

// A cleared timer rather than AbortSignal.timeout: at high rates the latter
// keeps one live timer per request for the full timeout.
function deadline(outer: AbortSignal, ms: number) {
  const ctl = new AbortController();
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    ctl.abort(new DOMException(`timed out after ${ms}ms`, 'TimeoutError'));
  }, ms);
  const onAbort = () => ctl.abort(outer.reason);
  if (outer.aborted) onAbort();
  else outer.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctl.signal,
    timedOut: () => fired,
    clear() {
      clearTimeout(timer);
      outer.removeEventListener('abort', onAbort);
    },
  };
}

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
};

/**
 * Said once: the caller already names the origin, and Node's messages repeat
 * the code and address (`ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9`).
 * A known network code reads as words with the code; otherwise the message,
 * with a cause only when it adds something.
 */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_WORDS[code]) return `${NETWORK_WORDS[code]} (${code})`;
  }
  const cause = err.cause instanceof Error && !err.message.includes(err.cause.message) ? ` (${err.cause.message})` : '';
  return `${err.message}${cause}`;
}

export default forward;
