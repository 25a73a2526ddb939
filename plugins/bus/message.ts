// What every event-bus destination publishes, whatever the protocol: one
// message per delivery, its body and the event's identity as headers. Each
// plugin maps this onto what its protocol has (AMQP properties, NATS
// headers, Redis stream fields, MQTT v5 user properties).

import type { JsonSchema, RelayEvent } from '../../src/index.js';

/** The options every bus plugin shares: the message body and extra headers. */
export interface BusMessageOptions {
  body?: string;
  headers?: Record<string, string>;
}

export interface BusMessage {
  /** The original bytes of the event, a JSON array of a batch's payloads, or the rendered `body`. */
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

export function busMessage(o: BusMessageOptions, event: RelayEvent, batch: RelayEvent[] | undefined): BusMessage {
  let body: Buffer;
  let contentType: string;
  if (o.body !== undefined) {
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

/** The `body` and `headers` option schemas, worded for the protocol's name for headers. */
export function messageOptionSchemas(headersAre: string): Record<'body' | 'headers', JsonSchema> {
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
  };
}
