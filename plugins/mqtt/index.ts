// `mqtt`: publishes each delivery to an MQTT topic at QoS 1 and succeeds once
// the broker answers PUBACK. MQTT.js is loaded when a config uses this
// action, not before.

import { definePlugin, type JsonSchema } from '../../src/index.js';
import { brokerName } from '../bus/link.js';
import { busMessage, checkBodyOptions, MESSAGE_TEMPLATES, MESSAGE_TRANSFORMS, messageOptionSchemas, type BusMessageOptions } from '../bus/message.js';
import { mqttPublisher } from './publisher.js';

export interface MqttOptions extends BusMessageOptions {
  url: string;
  topic: string;
  qos: 1 | 2;
  retain: boolean;
  protocolVersion: 4 | 5;
  clientId?: string;
  username?: string;
  password?: string;
}

const options: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'topic'],
  properties: {
    url: {
      type: 'string',
      pattern: '^(mqtts?|wss?)://',
      description: 'Broker URL: `mqtt://`, `mqtts://` (TLS), `ws://` or `wss://`. Not a template. Its host is the circuit-breaker key.',
      examples: ['mqtt://127.0.0.1:1883', 'mqtts://broker.example.com:8883'],
    },
    topic: {
      type: 'string',
      minLength: 1,
      description: 'Topic to publish to (Liquid template; no `+` or `#` wildcards).',
      examples: ['webhooks/{{ event.source }}/{{ event.type }}', 'devices/{{ payload.device_id }}/events'],
    },
    qos: {
      type: 'integer',
      enum: [1, 2],
      default: 1,
      description:
        'Quality of service: 1 waits for PUBACK, 2 for PUBCOMP (the broker passes one publish on once; a retried delivery is a new publish).',
      examples: [1, 2],
    },
    retain: {
      type: 'boolean',
      default: false,
      description: 'Ask the broker to keep the message as the topic\'s last value for later subscribers.',
      examples: [false, true],
    },
    protocolVersion: {
      type: 'integer',
      enum: [4, 5],
      default: 5,
      description:
        'MQTT 5 (5) sends the event id, type and source as user properties and the content type; MQTT 3.1.1 (4) sends the body alone.',
      examples: [5, 4],
    },
    clientId: {
      type: 'string',
      minLength: 1,
      description: 'Client identifier. Default: `relay-` and random hex, new for each configured action.',
      examples: ['relay-webhooks'],
    },
    username: { type: 'string', description: 'User name, when the broker asks for one.', examples: ['relay'] },
    password: { type: 'string', description: 'Password (use an environment variable).', examples: ['${MQTT_PASSWORD}'] },
    ...messageOptionSchemas('MQTT 5 user properties'),
  },
};

export const mqtt = definePlugin<MqttOptions>({
  name: 'mqtt',
  description: 'Publishes the event to an MQTT topic at QoS 1 (or 2), acknowledged by the broker.',
  options,
  templates: ['topic', ...MESSAGE_TEMPLATES],
  transforms: [...MESSAGE_TRANSFORMS],
  target: (o) => `mqtt:${brokerName(o.url)}`,
  async create(config, ctx) {
    checkBodyOptions(config);
    const publisher = await mqttPublisher(config, ctx);
    return async (input) => {
      const { options: o, signal } = input;
      await publisher.publish({ topic: o.topic, qos: o.qos, retain: o.retain }, busMessage(o, input), signal);
      return { info: `acknowledged on ${o.topic}` };
    };
  },
});

export default mqtt;
