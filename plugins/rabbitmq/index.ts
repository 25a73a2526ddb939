// `rabbitmq`: publishes each delivery as one persistent message to an
// exchange, and succeeds only when the broker confirms it. amqplib is loaded
// when a config uses this action, not before.

import { definePlugin, type JsonSchema } from '../../src/index.js';
import { busMessage, checkBodyOptions, MESSAGE_TEMPLATES, MESSAGE_TRANSFORMS, messageOptionSchemas, type BusMessageOptions } from '../bus/message.js';
import { brokerName } from '../bus/link.js';
import { amqpPublisher } from './publisher.js';

export interface RabbitmqOptions extends BusMessageOptions {
  url: string;
  exchange: string;
  routingKey: string;
  mandatory: boolean;
}

const options: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: {
      type: 'string',
      pattern: '^amqps?://',
      description:
        'Broker URL with credentials and virtual host (a secret: use an environment variable). Not a template. ' +
        'Its host and vhost are the circuit-breaker key.',
      examples: ['amqp://relay:secret@rabbitmq.internal:5672/events', 'amqps://relay:secret@mq.example.com/prod'],
    },
    exchange: {
      type: 'string',
      default: 'amq.topic',
      description:
        'Exchange to publish to (Liquid template). It must exist: Relay does not declare topology. ' +
        'An empty string is the default exchange, where the routing key names the queue.',
      examples: ['amq.topic', 'webhooks', ''],
    },
    routingKey: {
      type: 'string',
      default: '{{ event.source }}.{{ event.type }}',
      description: 'Routing key (Liquid template; at most 255 bytes once rendered).',
      examples: ['{{ event.source }}.{{ event.type }}', 'documents.{{ payload.data.document.id }}', 'archivus-events'],
    },
    mandatory: {
      type: 'boolean',
      default: true,
      description:
        'Fail the attempt (and retry) when no queue is bound for the routing key, instead of the broker dropping the message.',
      examples: [true, false],
    },
    ...messageOptionSchemas('AMQP headers'),
  },
};

export const rabbitmq = definePlugin<RabbitmqOptions>({
  name: 'rabbitmq',
  description: 'Publishes the event to a RabbitMQ exchange as a persistent message, confirmed by the broker.',
  options,
  templates: ['exchange', 'routingKey', ...MESSAGE_TEMPLATES],
  transforms: [...MESSAGE_TRANSFORMS],
  target: (o) => `rabbitmq:${brokerName(o.url)}`,
  async create(config, ctx) {
    checkBodyOptions(config);
    const publisher = await amqpPublisher(config.url, ctx);
    return async (input) => {
      const { options: o, signal } = input;
      const target = { exchange: o.exchange, routingKey: o.routingKey, mandatory: o.mandatory };
      await publisher.publish(target, busMessage(o, input), signal);
      return { info: `confirmed on exchange ${JSON.stringify(o.exchange)} with routing key ${JSON.stringify(o.routingKey)}` };
    };
  },
});

export default rabbitmq;
