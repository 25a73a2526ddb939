// The generic HMAC scheme. Providers whose signature is one header holding one
// MAC (archivus, github, shopify, slack) are this scheme with fixed options.

import { checkTimestamp, decode, fail, firstSecret, hmac, matchAny, readHeader, secretKeys, toleranceOf } from './crypto.js';
import type { Algorithm, Encoding } from './crypto.js';
import type { Scheme, SchemeOptionsBase, Verifier, VerifyRequest } from './types.js';

export interface HmacOptions extends SchemeOptionsBase {
  algorithm?: Algorithm;
  header: string;
  prefix?: string;
  encoding?: Encoding;
  /** `body`, or a template over `{timestamp}` and `{body}` such as `{timestamp}.{body}`. */
  signed?: string;
  timestampHeader?: string;
  tolerance?: number;
}

type Part = { text: string } | 'body' | 'timestamp';

/** Seconds a signed timestamp may be off, either way, when `tolerance` is not set (as Stripe and Slack). */
export const DEFAULT_TOLERANCE = 300;

interface Compiled {
  algorithm: Algorithm;
  header: string;
  prefix: string;
  encoding: Encoding;
  parts: Part[];
  timestampHeader: string | undefined;
  tolerance: number | undefined;
}

/** Validates the combination up front so a mistake is a start-up error, not a stream of 401s. */
function compile(scheme: string, o: HmacOptions): Compiled {
  const bad = (message: string): never => {
    throw new Error(`${scheme}: ${message}`);
  };
  const algorithm = o.algorithm ?? 'sha256';
  const encoding = o.encoding ?? 'hex';
  if (!['sha1', 'sha256', 'sha512'].includes(algorithm)) bad('algorithm must be sha1, sha256 or sha512');
  if (!['hex', 'base64'].includes(encoding)) bad('encoding must be hex or base64');
  if (typeof o.header !== 'string' || o.header === '') bad('header is required');
  const signed = o.signed ?? 'body';
  const parts: Part[] = signed === 'body' ? ['body'] : [];
  if (signed !== 'body') {
    for (const [i, piece] of signed.split(/(\{body\}|\{timestamp\})/).entries()) {
      if (i % 2 === 1) parts.push(piece === '{body}' ? 'body' : 'timestamp');
      else if (/\{[^{}]*\}/.test(piece)) bad(`signed may only use {timestamp} and {body}, found "${piece}"`);
      else if (piece) parts.push({ text: piece });
    }
  }
  const count = (p: Part) => parts.filter((x) => x === p).length;
  if (count('body') !== 1) bad('signed must contain {body} exactly once');
  if (count('timestamp') > 1) bad('signed may contain {timestamp} at most once');
  const signsTimestamp = count('timestamp') === 1;
  if (signsTimestamp && !o.timestampHeader) bad('signed uses {timestamp}, so timestampHeader is required');
  // An unsigned timestamp can be refreshed by whoever replays the request, so checking it proves nothing.
  if (o.tolerance !== undefined && !signsTimestamp) bad('tolerance needs {timestamp} in signed, or a replay just sends a fresh timestamp');
  // A signed timestamp that is never checked lets a captured request be replayed forever: 300 s unless set.
  const tolerance = signsTimestamp ? toleranceOf(scheme, o.tolerance, DEFAULT_TOLERANCE) : undefined;
  if (o.timestampHeader && !signsTimestamp) bad('timestampHeader is set but signed does not use {timestamp}');
  const { header, timestampHeader } = o;
  return { algorithm, header, prefix: o.prefix ?? '', encoding, parts, timestampHeader, tolerance };
}

function content(c: Compiled, body: Buffer, timestamp: string): Array<string | Buffer> {
  return c.parts.map((p) => (p === 'body' ? body : p === 'timestamp' ? timestamp : p.text));
}

export function hmacVerifier(scheme: string, options: HmacOptions): Verifier {
  const c = compile(scheme, options);
  const keys = secretKeys(scheme, options.secrets);
  return {
    verify(req: VerifyRequest) {
      const sig = readHeader(req, c.header);
      if (!sig.ok) return sig;
      if (!sig.value.startsWith(c.prefix)) return fail(`${c.header} does not start with "${c.prefix}"`);
      const given = decode(sig.value.slice(c.prefix.length), c.encoding);
      if (!given) return fail(`${c.header} is not ${c.encoding}`);
      let timestamp = '';
      if (c.timestampHeader) {
        const ts = readHeader(req, c.timestampHeader);
        if (!ts.ok) return ts;
        const stale = c.tolerance === undefined ? undefined : checkTimestamp(ts.value, req.now, c.tolerance);
        if (stale) return fail(stale);
        timestamp = ts.value;
      }
      return matchAny(keys, [given], (key) => hmac(c.algorithm, key, ...content(c, req.rawBody, timestamp)));
    },
  };
}

export function hmacSign(scheme: string, body: Buffer, options: HmacOptions, now: number): Record<string, string> {
  const c = compile(scheme, options);
  const timestamp = String(Math.floor(now / 1000));
  const key = Buffer.from(firstSecret(scheme, options.secrets), 'utf8');
  const mac = hmac(c.algorithm, key, ...content(c, body, timestamp)).toString(c.encoding);
  const headers: Record<string, string> = { [c.header]: c.prefix + mac };
  if (c.timestampHeader) headers[c.timestampHeader] = timestamp;
  return headers;
}

export const hmacScheme: Scheme<HmacOptions> = {
  name: 'hmac',
  description: 'Any provider that sends an HMAC of the body (optionally with a timestamp) in one header.',
  options: {
    type: 'object',
    required: ['header'],
    properties: {
      algorithm: { type: 'string', enum: ['sha1', 'sha256', 'sha512'], default: 'sha256', description: 'HMAC hash function.' },
      header: { type: 'string', description: 'Header carrying the signature.', examples: ['X-Signature'] },
      prefix: { type: 'string', default: '', description: 'Text before the signature in the header.', examples: ['sha256='] },
      encoding: { type: 'string', enum: ['hex', 'base64'], default: 'hex', description: 'How the MAC is written.' },
      signed: {
        type: 'string',
        default: 'body',
        description: '`body`, or a template of what is signed using only {timestamp} and {body}.',
        examples: ['body', '{timestamp}.{body}'],
      },
      timestampHeader: {
        type: 'string',
        description: 'Header carrying the timestamp; required when signed uses {timestamp}.',
        examples: ['X-Timestamp'],
      },
      tolerance: {
        type: 'number',
        exclusiveMinimum: 0,
        // No schema default: with `signed: body` a tolerance is an error.
        description: 'With {timestamp} in signed: the timestamp must be unix seconds within this many seconds of now, either way (default 300).',
        examples: [300],
      },
    },
  },
  needsSecret: true,
  create: (options) => hmacVerifier('hmac', options),
  sign: (body, options, now) => hmacSign('hmac', body, options, now),
};
