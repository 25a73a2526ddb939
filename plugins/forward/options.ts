// The options of `forward`: types and the JSON Schema that validates them,
// fills defaults and documents them (docs/plugins.md, `relay schema`).

import { TRANSFORM_SCHEMA, type JsonSchema, type TransformConfig } from '../../src/index.js';

export interface ForwardSign {
  secret: string;
  header: string;
  algorithm: 'sha256' | 'sha512';
  encoding: 'hex' | 'base64';
}

export interface ForwardOptions {
  url: string;
  method: 'POST' | 'PUT' | 'PATCH';
  headers?: Record<string, string>;
  body?: string;
  transform?: TransformConfig;
  forwardHeaders: boolean;
  timeout: number;
  connections: number;
  sign?: ForwardSign;
  standardWebhooks?: { secrets: string[] };
  idempotencyKey: boolean;
}

const headerMap: JsonSchema = {
  type: 'object',
  additionalProperties: { type: 'string' },
};

export const options: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: {
      type: 'string',
      minLength: 1,
      description:
        'Target URL (Liquid template). Scheme, host and port are written out; values in the path, query or fragment are percent-encoded. ' +
        'Its origin is the circuit-breaker key; redirects are not followed.',
      examples: ['https://ci.example.com/hooks/documents', 'https://api.example.com/tenants/{{ payload.tenant }}/events'],
    },
    method: {
      type: 'string',
      enum: ['POST', 'PUT', 'PATCH'],
      default: 'POST',
      description: 'HTTP method.',
      examples: ['POST', 'PUT'],
    },
    headers: {
      ...headerMap,
      description: 'Headers to add or override (values are Liquid templates; names are case-insensitive).',
      examples: [{ authorization: 'Bearer ${CI_TOKEN}', 'x-document-id': '{{ payload.data.document.id }}' }],
    },
    body: {
      type: 'string',
      description:
        'Body (Liquid template), sent as application/json unless `headers` sets content-type. ' +
        'When absent: the original bytes and content type, or for a batch a JSON array of the payloads.',
      examples: ['{"text": "{{ event.type }} for {{ payload.data.document.filename }}"}'],
    },
    transform: TRANSFORM_SCHEMA,
    forwardHeaders: {
      type: 'boolean',
      default: true,
      description:
        'Pass the original request headers on, except hop-by-hop, host, content-length, and the sensitive ones the dashboard masks ' +
        '(credentials, provider signatures and their timestamps, the sources\' configured signature headers). Ignored for batches.',
      examples: [true, false],
    },
    timeout: {
      type: 'integer',
      minimum: 1,
      default: 10000,
      description: 'Milliseconds for the whole request, response body included (the action timeout applies too).',
      examples: [10000, 30000],
    },
    connections: {
      type: 'integer',
      minimum: 1,
      default: 32,
      description: 'Most keep-alive connections open to one origin.',
      examples: [32, 128],
    },
    standardWebhooks: {
      type: 'object',
      additionalProperties: false,
      required: ['secrets'],
      description:
        'Sign as Standard Webhooks (standardwebhooks.com, what Svix sends): `webhook-id` (the delivery key, the same on every retry, ' +
        'so the receiver can deduplicate), `webhook-timestamp` (the attempt\'s time) and `webhook-signature` with a `v1,` signature per secret.',
      examples: [{ secrets: ['${WEBHOOK_SECRET}', '${WEBHOOK_SECRET_OLD}'] }],
      properties: {
        secrets: {
          type: 'array',
          minItems: 1,
          items: { type: 'string', minLength: 1 },
          description:
            'Secrets in the spec\'s `whsec_<base64>` form (at least 24 key bytes). Every one signs, so during a rotation list the new and the old: ' +
            'a receiver holding either accepts.',
          examples: [['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw']],
        },
      },
    },
    idempotencyKey: {
      type: 'boolean',
      default: false,
      description: 'Send the delivery key as `Idempotency-Key` (the same on every retry of one delivery), for receivers that deduplicate on that header.',
      examples: [true],
    },
    sign: {
      type: 'object',
      additionalProperties: false,
      required: ['secret'],
      description: 'Sign the bytes sent with HMAC; the header value is `<algorithm>=<digest>`.',
      examples: [{ secret: '${FORWARD_SECRET}', header: 'x-relay-signature', algorithm: 'sha256', encoding: 'hex' }],
      properties: {
        secret: { type: 'string', minLength: 1, description: 'HMAC key.', examples: ['${FORWARD_SECRET}'] },
        header: {
          type: 'string',
          minLength: 1,
          default: 'x-relay-signature',
          description: 'Header carrying the signature.',
          examples: ['x-relay-signature', 'x-hub-signature-256'],
        },
        algorithm: {
          type: 'string',
          enum: ['sha256', 'sha512'],
          default: 'sha256',
          description: 'HMAC hash.',
          examples: ['sha256'],
        },
        encoding: {
          type: 'string',
          enum: ['hex', 'base64'],
          default: 'hex',
          description: 'Encoding of the digest.',
          examples: ['hex', 'base64'],
        },
      },
    },
  },
};
