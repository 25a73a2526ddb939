// A static bearer token: the weakest scheme that still needs a secret.

import { fail, firstSecret, readHeader, secretKeys, tokenMatch } from './crypto.js';
import type { Scheme, SchemeOptionsBase } from './types.js';

export type BearerOptions = SchemeOptionsBase;

export const bearerScheme: Scheme<BearerOptions> = {
  name: 'bearer',
  description: 'A static token in Authorization: Bearer <token>; secrets are the accepted tokens.',
  options: { type: 'object', properties: {} },
  needsSecret: true,
  create(options) {
    const keys = secretKeys('bearer', options.secrets);
    options.secrets.forEach((s, i) => {
      if (typeof s === 'string' && /\s/.test(s)) throw new Error(`bearer: secrets[${i}] contains whitespace`);
    });
    return {
      verify(req) {
        const auth = readHeader(req, 'Authorization');
        if (!auth.ok) return auth;
        const m = /^bearer +(\S+) *$/i.exec(auth.value);
        if (!m) return fail('Authorization is not Bearer');
        return tokenMatch(keys, Buffer.from(m[1] ?? '', 'utf8'), 'token does not match');
      },
    };
  },
  sign: (_body, options) => ({ Authorization: `Bearer ${firstSecret('bearer', options.secrets)}` }),
};
