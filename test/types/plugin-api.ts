// Compiled by `npm test` (tsc -p tsconfig.test.json): the public plugin API's
// types must accept what the docs show and reject what they forbid.

import { request } from 'undici';
import { definePlugin, DeliveryError, EgressError, httpResponse, type ActionInput, type ActionPlugin, type DeliveryRequest, type DeliveryResponse } from '../../src/index.js';

interface TeamsOptions {
  url: string;
  text: string;
  retries?: number;
}

export const teams: ActionPlugin<TeamsOptions> = definePlugin<TeamsOptions>({
  name: 'teams',
  description: 'Posts to Microsoft Teams.',
  options: { type: 'object', required: ['url', 'text'], properties: { url: { type: 'string' }, text: { type: 'string' } } },
  templates: ['text'],
  urls: ['url'],
  target: (o) => new URL(o.url).host,
  create(options, ctx) {
    ctx.onClose(() => undefined);
    const url: string = options.url;
    const pool = ctx.egress.agent({ connections: 4, connectTimeout: 5000 });
    ctx.onClose(() => pool.close());
    return async (input: ActionInput<TeamsOptions>) => {
      const res = await request(url, { dispatcher: ctx.dispatcher, signal: input.signal });
      await res.body.dump();
      const smtp = await ctx.egress.connect({ host: 'smtp.example.com', port: 587 });
      smtp.destroy();
      const secret: boolean = ctx.isSensitiveHeader('x-api-key');
      if (secret && EgressError.find(new Error('x'))) throw new DeliveryError('blocked', { retryable: false });
      const text: string = input.options.text;
      input.signal.throwIfAborted();
      input.logger.info({ url, text, attempt: input.attempt, delivery: input.delivery.id, key: input.delivery.key, id: input.event.id, n: input.batch?.length });
      if (text === '') throw new DeliveryError('empty', { retryable: false });
      throw DeliveryError.fromStatus(503, 'busy', '2');
    };
  },
});

definePlugin<TeamsOptions>({
  name: 'bad-templates',
  description: 'x',
  options: {},
  // @ts-expect-error: only option names can be templates
  templates: ['nope'],
  create: () => async () => undefined,
});

definePlugin<TeamsOptions>({
  name: 'bad-urls',
  description: 'x',
  options: {},
  // @ts-expect-error: only string options can be URLs
  urls: ['retries'],
  create: () => async () => undefined,
});

definePlugin<TeamsOptions>({
  name: 'bad-runner',
  description: 'x',
  options: {},
  // @ts-expect-error: a runner returns a result or nothing, not a string
  create: () => async () => 'done',
});

// @ts-expect-error: `retryable` is required, so every failure says whether to retry
new DeliveryError('x', {});

// An HTTP plugin reports what it sent and what came back, on success and on failure.
definePlugin<TeamsOptions>({
  name: 'exchange',
  description: 'x',
  options: {},
  create: () => async ({ options }) => {
    const request: DeliveryRequest = { method: 'POST', url: options.url, headers: { 'content-type': 'application/json' } };
    const response: DeliveryResponse = httpResponse(503, { 'retry-after': '2', 'x-many': ['a', 'b'] }, 'busy');
    if (response.status >= 500) throw DeliveryError.fromStatus(response.status, response.body, '2', { response, request });
    return { status: 200, response: { status: 200, statusText: 'OK' }, request };
  },
});

definePlugin<TeamsOptions>({
  name: 'bad-response',
  description: 'x',
  options: {},
  // @ts-expect-error: a response needs its status code
  create: () => async () => ({ response: { body: 'ok' } }),
});
