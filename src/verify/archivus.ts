// Archivus, our own provider: the reference shape other providers are compared to.

import { hmacSign, hmacVerifier } from './hmac.js';
import type { HmacOptions } from './hmac.js';
import type { Scheme, SchemeOptionsBase } from './types.js';

export type ArchivusOptions = SchemeOptionsBase;

const fixed = (secrets: string[]): HmacOptions => ({ secrets, header: 'X-Archivus-Signature', prefix: 'sha256=' });

export const archivusScheme: Scheme<ArchivusOptions> = {
  name: 'archivus',
  description: 'Archivus: X-Archivus-Signature: sha256=<hex HMAC-SHA256 of the body>.',
  options: { type: 'object', properties: {} },
  needsSecret: true,
  defaults: { typePath: '$.type', idPath: '$.id' },
  create: (options) => hmacVerifier('archivus', fixed(options.secrets)),
  sign: (body, options, now) => hmacSign('archivus', body, fixed(options.secrets), now),
};
