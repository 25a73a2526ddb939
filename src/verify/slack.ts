// Slack's v0 signing: HMAC over `v0:<timestamp>:<body>`, plus the one-off
// url_verification challenge Slack sends when an Events API URL is saved.

import { isRecord, toleranceOption } from './crypto.js';
import { hmacSign, hmacVerifier } from './hmac.js';
import type { HmacOptions } from './hmac.js';
import type { Scheme, SchemeOptionsBase } from './types.js';

export interface SlackOptions extends SchemeOptionsBase {
  tolerance?: number;
}

const fixed = (o: SlackOptions): HmacOptions => ({
  secrets: o.secrets,
  header: 'X-Slack-Signature',
  prefix: 'v0=',
  signed: 'v0:{timestamp}:{body}',
  timestampHeader: 'X-Slack-Request-Timestamp',
  tolerance: o.tolerance ?? 300,
});

export const slackScheme: Scheme<SlackOptions> = {
  name: 'slack',
  description: 'Slack signing secret (v0); answers url_verification challenges.',
  options: {
    type: 'object',
    properties: {
      tolerance: toleranceOption('X-Slack-Request-Timestamp'),
    },
  },
  needsSecret: true,
  create: (options) => hmacVerifier('slack', fixed(options)),
  identify(_req, payload) {
    if (!isRecord(payload)) return {};
    const event = isRecord(payload.event) ? payload.event : {};
    const type = typeof event.type === 'string' ? event.type : payload.type;
    return {
      type: typeof type === 'string' ? type : undefined,
      id: typeof payload.event_id === 'string' ? payload.event_id : undefined,
    };
  },
  intercept(payload) {
    if (!isRecord(payload) || payload.type !== 'url_verification' || typeof payload.challenge !== 'string') return undefined;
    return { status: 200, body: { challenge: payload.challenge } };
  },
  sign: (body, options, now) => hmacSign('slack', body, fixed(options), now),
};
