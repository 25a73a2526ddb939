// `slack`: posts a message to a Slack incoming webhook with @slack/webhook.
// The package (v8, fetch-based) reports HTTP failures without the response
// headers, so we hand it our own fetch that records Retry-After, joins
// Relay's abort signal and goes through Relay's dispatcher (the egress
// policy); an AsyncLocalStorage keeps concurrent sends apart.

import { AsyncLocalStorage } from 'node:async_hooks';
import type { FetchFunction, IncomingWebhookSendArguments } from '@slack/webhook';
import type { Dispatcher } from 'undici';
import { definePlugin, DeliveryError, EgressError, type JsonSchema, type JsonValue } from '../../src/index.js';

export interface SlackOptions {
  url: string;
  text?: string;
  blocks?: Array<{ [key: string]: JsonValue }>;
  username?: string;
  icon_emoji?: string;
  icon_url?: string;
  channel?: string;
  timeout: number;
}

const options: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  anyOf: [
    { type: 'object', required: ['text'] },
    { type: 'object', required: ['blocks'] },
  ],
  properties: {
    url: {
      type: 'string',
      pattern: '^https?://',
      description: 'The incoming webhook URL (a secret: use `${SLACK_WEBHOOK_URL}`). Not a template.',
      examples: ['https://hooks.slack.com/services/T000/B000/XXXX'],
    },
    text: {
      type: 'string',
      description:
        'Message text, mrkdwn (Liquid template). Required unless `blocks` is set; with blocks it is the notification fallback. ' +
        'A batch sends one message and the template sees `events`.',
      examples: [
        ':page_facing_up: *{{ payload.data.document.filename }}* processed',
        '{{ events | size }} documents processed: {% for e in events %}{{ e.payload.data.document.filename }}{% unless forloop.last %}, {% endunless %}{% endfor %}',
      ],
    },
    blocks: {
      type: 'array',
      minItems: 1,
      maxItems: 50,
      items: { type: 'object', required: ['type'] },
      description:
        'Block Kit blocks, written as YAML objects; every string inside is a Liquid template (a loop over `events` goes inside one text string).',
      examples: [[{ type: 'section', text: { type: 'mrkdwn', text: '*{{ event.type }}*: {{ payload.data.document.filename }}' } }]],
    },
    username: {
      type: 'string',
      description: 'Overrides the bot name, when the Slack app allows it (Liquid template).',
      examples: ['Relay'],
    },
    icon_emoji: {
      type: 'string',
      description: 'Overrides the bot icon with an emoji, when the Slack app allows it.',
      examples: [':inbox_tray:'],
    },
    icon_url: {
      type: 'string',
      description: 'Overrides the bot icon with an image URL, when the Slack app allows it.',
      examples: ['https://example.com/relay.png'],
    },
    channel: {
      type: 'string',
      description: 'Overrides the channel, for legacy webhooks that allow it (Liquid template).',
      examples: ['#ops'],
    },
    timeout: {
      type: 'integer',
      minimum: 1,
      default: 10000,
      description: 'Milliseconds for the request (the action timeout applies too).',
      examples: [10000],
    },
  },
};

/** What one send learns beyond what the package's errors carry. */
interface SendContext {
  signal: AbortSignal;
  retryAfter?: string | null;
}

const current = new AsyncLocalStorage<SendContext>();

const relayFetch =
  (dispatcher: Dispatcher, fetch: typeof import('undici').fetch): FetchFunction =>
  async (url, init) => {
    const ctx = current.getStore();
    const signals = [init?.signal, ctx?.signal].filter((s): s is AbortSignal => s !== undefined);
    const res = await fetch(url, {
      method: init?.method,
      headers: init?.headers,
      body: typeof init?.body === 'string' ? init.body : undefined,
      redirect: init?.redirect,
      signal: signals.length ? AbortSignal.any(signals) : undefined,
      dispatcher,
    });
    if (ctx) ctx.retryAfter = res.headers.get('retry-after');
    return res;
  };

/** Slack: 429 (with Retry-After) and 5xx are retryable, other 4xx (invalid_payload, channel_not_found...) are not. */
function classify(err: unknown, ctx: SendContext, ErrorCode: typeof import('@slack/webhook').ErrorCode): unknown {
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; original?: unknown };
  if (e?.code === ErrorCode.HTTPError && typeof e.statusCode === 'number') {
    return DeliveryError.fromStatus(e.statusCode, typeof e.body === 'string' ? e.body : undefined, ctx.retryAfter);
  }
  if (e?.code === ErrorCode.RequestError) {
    const blocked = EgressError.find(e.original);
    if (blocked) return blocked;
    const why = e.original instanceof Error ? e.original.message : String(e.original);
    return new DeliveryError(`Slack request failed: ${why}`, { retryable: true, cause: err });
  }
  return err;
}

export const slack = definePlugin<SlackOptions>({
  name: 'slack',
  description: 'Posts a message (text and/or Block Kit) to a Slack incoming webhook.',
  options,
  templates: ['text', 'blocks', 'username', 'icon_emoji', 'icon_url', 'channel'],
  urls: ['url'],
  async create(config, ctx) {
    // Loaded with the first slack action: a config without one never reads
    // @slack/webhook or undici (see egress.ts).
    const [{ IncomingWebhook, ErrorCode }, { fetch }] = await Promise.all([import('@slack/webhook'), import('undici')]);
    const webhook = new IncomingWebhook(config.url, { timeout: config.timeout, fetch: relayFetch(ctx.dispatcher, fetch) });

    return async ({ options: o, signal }) => {
      const message: IncomingWebhookSendArguments = {};
      if (o.text !== undefined) message.text = o.text;
      if (o.blocks) message.blocks = o.blocks as unknown as IncomingWebhookSendArguments['blocks'];
      if (o.username) message.username = o.username;
      if (o.icon_emoji) message.icon_emoji = o.icon_emoji;
      if (o.icon_url) message.icon_url = o.icon_url;
      if (o.channel) message.channel = o.channel;
      const ctx: SendContext = { signal };
      try {
        await current.run(ctx, () => webhook.send(message));
      } catch (err) {
        throw classify(err, ctx, ErrorCode);
      }
      return { status: 200 };
    };
  },
});

export default slack;
