// What every event-bus destination publishes, whatever the protocol: one
// message per delivery, its body and the event's identity as headers. Each
// plugin maps this onto what its protocol has (AMQP properties, NATS
// headers, Redis stream fields, MQTT v5 user properties).

import { TRANSFORM_SCHEMA, type ActionInput, type JsonSchema, type TransformConfig } from '../../src/index.js';

/** The options every bus plugin shares: the message body (or a transform building it) and extra headers. */
export interface BusMessageOptions {
  body?: string;
  transform?: TransformConfig;
  headers?: Record<string, string>;
}

/** Option names every bus plugin lists in its spec: `templates` and `transforms`. */
export const MESSAGE_TEMPLATES = ['headers', 'body'] as const;
export const MESSAGE_TRANSFORMS = ['transform'] as const;

/** What busMessage reads from the runner's input. */
export type MessageInput = Pick<ActionInput<unknown>, 'event' | 'batch' | 'transformed'>;

export interface BusMessage {
  /** The original bytes of the event, a JSON array of a batch's payloads, the rendered `body`, or the transform's JSON. */
  body: Buffer;
  contentType: string;
  /** The event's id (the first event's for a batch): message id, dedup key. */
  id: string;
  type: string;
  source: string;
  receivedAt: number;
  /**
   * `x-relay-event-id`, `x-relay-event-type`, `x-relay-source`, and
   * `x-relay-batch-size` for a batch, then the configured `headers` (lower-cased; they win).
   */
  headers: Record<string, string>;
}

/** Header names Relay sets on every message (the same ones `forward` sends over HTTP). */
export const EVENT_HEADERS = {
  id: 'x-relay-event-id',
  type: 'x-relay-event-type',
  source: 'x-relay-source',
  batchSize: 'x-relay-batch-size',
} as const;

export function busMessage(o: BusMessageOptions, { event, batch, transformed }: MessageInput): BusMessage {
  let body: Buffer;
  let contentType: string;
  const shaped = transformed.transform;
  if (shaped !== undefined) {
    body = Buffer.from(JSON.stringify(shaped));
    contentType = 'application/json';
  } else if (o.body !== undefined) {
    body = Buffer.from(o.body);
    contentType = 'application/json';
  } else if (batch) {
    body = Buffer.from(JSON.stringify(batch.map((e) => e.payload)));
    contentType = 'application/json';
  } else {
    body = event.rawBody;
    contentType = event.headers['content-type'] ?? 'application/json';
  }
  const headers: Record<string, string> = {
    [EVENT_HEADERS.id]: event.id,
    [EVENT_HEADERS.type]: event.type,
    [EVENT_HEADERS.source]: event.source,
  };
  if (batch) headers[EVENT_HEADERS.batchSize] = String(batch.length);
  for (const [name, value] of Object.entries(o.headers ?? {})) headers[name.toLowerCase()] = value;
  return { body, contentType, id: event.id, type: event.type, source: event.source, receivedAt: event.receivedAt, headers };
}

/** `body` and `transform` both say what to send: a config setting both is refused at load (call from `create`). */
export function checkBodyOptions(o: { body?: unknown; transform?: unknown }): void {
  if (o.body !== undefined && o.transform !== undefined) throw new Error('set `body` or `transform`, not both');
}

/** The `body`, `transform` and `headers` option schemas, worded for the protocol's name for headers. */
export function messageOptionSchemas(headersAre: string): Record<'body' | 'transform' | 'headers', JsonSchema> {
  return {
    headers: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: `${headersAre} to add or override (values are Liquid templates; names are lower-cased).`,
      examples: [{ 'x-tenant': '{{ payload.tenant }}' }],
    },
    body: {
      type: 'string',
      description:
        'Message body (Liquid template), marked application/json. When absent: the original bytes and content type ' +
        'of the event, or for a batch a JSON array of the payloads.',
      examples: ['{"id": "{{ event.id }}", "document": {{ payload.data.document | json }}}'],
    },
    transform: TRANSFORM_SCHEMA,
  };
}
