// An example custom plugin, written the way a third party would write one:
// it is not built in; a config loads it with `plugins: [./plugins/discord/index.ts]`.
// A published plugin imports the same names from 'relay-webhooks' instead:
//   import { definePlugin, DeliveryError } from 'relay-webhooks';
import { request } from 'undici';
import { definePlugin, DeliveryError } from '../../src/index.js';

export interface DiscordOptions {
  url: string;
  content: string;
  username?: string;
  avatar_url?: string;
  timeout: number;
}

// Discord refuses longer messages with a 400.
const MAX_CONTENT = 2000;

export default definePlugin<DiscordOptions>({
  name: 'discord',
  description: 'Posts a message to a Discord channel webhook.',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['url', 'content'],
    properties: {
      url: {
        type: 'string',
        pattern: '^https?://',
        description: 'The channel webhook URL (a secret: use `${DISCORD_WEBHOOK_URL}`). Not a template.',
        examples: ['https://discord.com/api/webhooks/123/abc'],
      },
      content: {
        type: 'string',
        minLength: 1,
        description: 'Message text, Discord markdown (Liquid template); cut to 2000 characters.',
        examples: ['**{{ event.type }}**: {{ payload.data.document.filename }}'],
      },
      username: {
        type: 'string',
        description: 'Overrides the webhook\'s name (Liquid template).',
        examples: ['Relay'],
      },
      avatar_url: {
        type: 'string',
        description: 'Overrides the webhook\'s avatar.',
        examples: ['https://example.com/relay.png'],
      },
      timeout: {
        type: 'integer',
        minimum: 1,
        default: 10000,
        description: 'Milliseconds for the request (the action timeout applies too).',
        examples: [10000],
      },
    },
  },
  templates: ['content', 'username'],
  urls: ['url'],

  create(config, ctx) {
    return async ({ options: o, signal }) => {
      const content = o.content.length > MAX_CONTENT ? `${o.content.slice(0, MAX_CONTENT - 1)}…` : o.content;
      // ctx.dispatcher: Relay's connection pools, under the config's egress
      // policy. A refused connection rejects with an EgressError, which is
      // already a permanent DeliveryError: nothing to translate.
      const res = await request(config.url, {
        dispatcher: ctx.dispatcher,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          content,
          username: o.username || undefined,
          avatar_url: o.avatar_url || undefined,
          // Payload text must never ping @everyone or a role.
          allowed_mentions: { parse: [] },
        }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeout)]),
      });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) return { status: res.statusCode };

      const header = res.headers['retry-after'];
      const failure = DeliveryError.fromStatus(res.statusCode, text, Array.isArray(header) ? header[0] : header);
      if (res.statusCode !== 429) throw failure;
      // Discord's JSON `retry_after` is in seconds, with a fraction: more precise than the header.
      throw new DeliveryError(failure.message, {
        retryable: true,
        status: 429,
        retryAfterMs: retryAfterFromBody(text) ?? failure.retryAfterMs,
      });
    };
  },
});

function retryAfterFromBody(text: string): number | undefined {
  try {
    const value = (JSON.parse(text) as { retry_after?: unknown }).retry_after;
    return typeof value === 'number' && value >= 0 ? Math.ceil(value * 1000) : undefined;
  } catch {
    return undefined;
  }
}
