// `redis-stream`: appends each delivery to a Redis stream (XADD), optionally
// capped with MAXLEN, and succeeds once Redis returns the entry id. The
// client is loaded when a config uses this action, not before.

import { definePlugin, type JsonSchema } from '../../src/index.js';
import { busMessage, checkBodyOptions, MESSAGE_TEMPLATES, MESSAGE_TRANSFORMS, messageOptionSchemas, type BusMessageOptions } from '../bus/message.js';
import { brokerName } from '../bus/link.js';
import { redisPublisher } from './publisher.js';

export interface RedisStreamOptions extends BusMessageOptions {
  url: string;
  stream: string;
  maxlen?: number;
  approximate: boolean;
}

const options: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url', 'stream'],
  properties: {
    url: {
      type: 'string',
      pattern: '^rediss?://',
      description:
        'Redis URL with credentials and database number (a secret: use an environment variable). Not a template. ' +
        'Its host and database are the circuit-breaker key.',
      examples: ['redis://127.0.0.1:6379', 'rediss://relay:secret@redis.internal:6380/2'],
    },
    stream: {
      type: 'string',
      minLength: 1,
      description: 'Key of the stream to append to (Liquid template); created by the first XADD.',
      examples: ['webhooks:{{ event.source }}', 'events'],
    },
    maxlen: {
      type: 'integer',
      minimum: 1,
      description: 'Trim the stream to about this many entries on each append (XADD MAXLEN). Unbounded when absent.',
      examples: [100000],
    },
    approximate: {
      type: 'boolean',
      default: true,
      description:
        'Trim with `MAXLEN ~` (whole macro nodes: cheap, keeps at least `maxlen`). False trims to exactly `maxlen`.',
      examples: [true, false],
    },
    ...messageOptionSchemas('Stream entry fields'),
  },
};

export const redisStream = definePlugin<RedisStreamOptions>({
  name: 'redis-stream',
  description: 'Appends the event to a Redis stream (XADD, optionally MAXLEN-capped), confirmed by the entry id.',
  options,
  templates: ['stream', ...MESSAGE_TEMPLATES],
  transforms: [...MESSAGE_TRANSFORMS],
  target: (o) => `redis-stream:${brokerName(o.url)}`,
  async create(config, ctx) {
    checkBodyOptions(config);
    const publisher = await redisPublisher(config.url, ctx);
    return async (input) => {
      const { options: o, signal } = input;
      const target = { stream: o.stream, approximate: o.approximate, ...(o.maxlen !== undefined && { maxlen: o.maxlen }) };
      const id = await publisher.append(target, busMessage(o, input), signal);
      return { info: `${o.stream} ${id}` };
    };
  },
});

export default redisStream;
