// HTTP Basic auth for senders that can only be given a URL with credentials.

import { decode, fail, firstSecret, readHeader, secretKeys, tokenMatch } from './crypto.js';
import type { Scheme, SchemeOptionsBase } from './types.js';

export type BasicOptions = SchemeOptionsBase;

export const basicScheme: Scheme<BasicOptions> = {
  name: 'basic',
  description: 'HTTP Basic authentication; secrets are `user:pass` strings.',
  options: { type: 'object', properties: {} },
  needsSecret: true,
  create(options) {
    const keys = secretKeys('basic', options.secrets);
    options.secrets.forEach((s, i) => {
      if (typeof s === 'string' && !s.includes(':')) throw new Error(`basic: secrets[${i}] must be user:pass`);
    });
    return {
      verify(req) {
        const auth = readHeader(req, 'Authorization');
        if (!auth.ok) return auth;
        // The scheme word is case-insensitive (RFC 7617); the credentials are not.
        const m = /^basic +(\S+) *$/i.exec(auth.value);
        if (!m) return fail('Authorization is not Basic');
        const credentials = decode(m[1] ?? '', 'base64');
        if (!credentials) return fail('Authorization Basic credentials are not base64');
        return tokenMatch(keys, credentials, 'credentials do not match');
      },
    };
  },
  sign(_body, options) {
    const credentials = Buffer.from(firstSecret('basic', options.secrets), 'utf8');
    return { Authorization: `Basic ${credentials.toString('base64')}` };
  },
};
