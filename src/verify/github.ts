// GitHub: X-Hub-Signature-256, with the SHA-1 header only as an opt-in for old
// GitHub Enterprise Server installs that send nothing else.

import { headerValue, isRecord } from './crypto.js';
import { hmacSign, hmacVerifier } from './hmac.js';
import type { HmacOptions } from './hmac.js';
import type { Scheme, SchemeOptionsBase, VerifyRequest } from './types.js';

export interface GithubOptions extends SchemeOptionsBase {
  legacySha1?: boolean;
}

const sha256 = (secrets: string[]): HmacOptions => ({ secrets, header: 'X-Hub-Signature-256', prefix: 'sha256=' });
const sha1 = (secrets: string[]): HmacOptions => ({ secrets, header: 'X-Hub-Signature', prefix: 'sha1=', algorithm: 'sha1' });

export const githubScheme: Scheme<GithubOptions> = {
  name: 'github',
  description: 'GitHub webhooks: X-Hub-Signature-256; type from X-GitHub-Event (+ .action), id from X-GitHub-Delivery.',
  options: {
    type: 'object',
    properties: {
      legacySha1: {
        type: 'boolean',
        default: false,
        description: 'Also accept X-Hub-Signature (HMAC-SHA1) when X-Hub-Signature-256 is absent.',
      },
    },
  },
  needsSecret: true,
  create(options) {
    const modern = hmacVerifier('github', sha256(options.secrets));
    const legacy = options.legacySha1 ? hmacVerifier('github', sha1(options.secrets)) : undefined;
    return {
      // Fall back only when the 256 header is absent: a bad or repeated one must not be rescued by SHA-1.
      verify: (req: VerifyRequest) =>
        legacy && !req.headers['x-hub-signature-256']?.length ? legacy.verify(req) : modern.verify(req),
    };
  },
  // X-GitHub-Delivery and X-GitHub-Event are not signed; a body belongs to one event.
  unsignedId: 'body',
  identify(req, payload) {
    const event = headerValue(req, 'X-GitHub-Event');
    const action = isRecord(payload) && typeof payload.action === 'string' ? payload.action : undefined;
    return {
      type: event === undefined ? undefined : action === undefined ? event : `${event}.${action}`,
      id: headerValue(req, 'X-GitHub-Delivery'),
    };
  },
  sign: (body, options, now) => hmacSign('github', body, sha256(options.secrets), now),
};
