// `nats`: publishes each delivery to a NATS JetStream subject and succeeds
// only when the stream acknowledges it (PubAck). The client is loaded when a
// config uses this action, not before.

import { definePlugin, type JsonSchema } from '../../src/index.js';
import { busMessage, checkBodyOptions, MESSAGE_TEMPLATES, MESSAGE_TRANSFORMS, messageOptionSchemas, type BusMessageOptions } from '../bus/message.js';
import { natsPublisher, serverNames } from './publisher.js';

export interface NatsOptions extends BusMessageOptions {
  servers: string | string[];
  subject: string;
  stream?: string;
  user?: string;
  pass?: string;
  token?: string;
}

const server = { type: 'string', minLength: 1 };

const options: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['servers', 'subject'],
  properties: {
    servers: {
      description: 'NATS server(s), `host:port` or `nats://host:port`; with several, a connection tries each. Not a template.',
      examples: ['nats://127.0.0.1:4222', ['nats://nats-1.internal:4222', 'nats://nats-2.internal:4222']],
      oneOf: [server, { type: 'array', minItems: 1, items: server }],
    },
    subject: {
      type: 'string',
      minLength: 1,
      description: 'Subject to publish to (Liquid template). A JetStream stream must capture it.',
      examples: ['webhooks.{{ event.source }}.{{ event.type }}', 'documents.{{ payload.data.document.id }}'],
    },
    stream: {
      type: 'string',
      minLength: 1,
      description: 'The stream that must store the message; the attempt fails (for good) if the subject lands in another.',
      examples: ['WEBHOOKS'],
    },
    user: { type: 'string', minLength: 1, description: 'User name, for user/password authentication.', examples: ['relay'] },
    pass: { type: 'string', description: 'Password (use an environment variable).', examples: ['${NATS_PASSWORD}'] },
    token: { type: 'string', minLength: 1, description: 'Token, for token authentication (use an environment variable).', examples: ['${NATS_TOKEN}'] },
    ...messageOptionSchemas('NATS headers'),
  },
};

export const nats = definePlugin<NatsOptions>({
  name: 'nats',
  description: 'Publishes the event to a NATS JetStream subject, acknowledged by the stream, which drops retried copies.',
  options,
  templates: ['subject', ...MESSAGE_TEMPLATES],
  transforms: [...MESSAGE_TRANSFORMS],
  target: (o) => `nats:${serverNames(o.servers)}`,
  async create(config, ctx) {
    checkBodyOptions(config);
    const publisher = await natsPublisher(config, ctx);
    return async (input) => {
      const { options: o, signal } = input;
      const ack = await publisher.publish(o.subject, o.stream, busMessage(o, input), signal);
      return { info: `stream ${ack.stream} seq ${ack.seq}${ack.duplicate ? ' (duplicate, already stored)' : ''}` };
    };
  },
});

export default nats;
