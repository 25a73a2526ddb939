// One row per scheme configuration: what the table-driven tests need to know
// to sign, break and fuzz it. A scheme without a row fails registry.test.ts.

import { createHmac } from 'node:crypto';

export interface Case {
  label: string;
  scheme: string;
  options?: Record<string, unknown>;
  /** [current, next, unrelated]: the first two are configured, the third never is. */
  secrets: [string, string, string];
  /** Lower-case header holding the signature (or credentials). */
  signature: string;
  /** Every header verification needs, lower-case. */
  required: string[];
  /** Seconds of tolerance, for schemes that check a timestamp. */
  tolerance?: number;
  /** False for basic/bearer, which authenticate the sender but not the body. */
  coversBody: boolean;
  /** A signature header the right secret produced, relabelled or recomputed with another algorithm. */
  wrongAlgorithm(value: string, body: Buffer, secret: string): string;
  /** Rewrites sign() output, e.g. to Svix's header names. */
  transform?(headers: Record<string, string>): Record<string, string>;
}

const swap = (from: string, to: string) => (value: string) => {
  if (!value.includes(from)) throw new Error(`test bug: ${from} not in ${value}`);
  return value.replace(from, to);
};
const b64 = (s: string) => Buffer.from(s).toString('base64');

export const cases: Case[] = [
  {
    label: 'archivus',
    scheme: 'archivus',
    secrets: ['arch-old', 'arch-new', 'arch-other'],
    signature: 'x-archivus-signature',
    required: ['x-archivus-signature'],
    coversBody: true,
    wrongAlgorithm: swap('sha256=', 'sha1='),
  },
  {
    label: 'github',
    scheme: 'github',
    options: { legacySha1: true },
    secrets: ['gh-old', 'gh-new', 'gh-other'],
    signature: 'x-hub-signature-256',
    required: ['x-hub-signature-256'],
    coversBody: true,
    wrongAlgorithm: swap('sha256=', 'sha512='),
  },
  {
    label: 'stripe',
    scheme: 'stripe',
    secrets: ['whsec_old', 'whsec_new', 'whsec_other'],
    signature: 'stripe-signature',
    required: ['stripe-signature'],
    tolerance: 300,
    coversBody: true,
    wrongAlgorithm: swap(',v1=', ',v0='),
  },
  {
    label: 'slack',
    scheme: 'slack',
    secrets: ['slack-old', 'slack-new', 'slack-other'],
    signature: 'x-slack-signature',
    required: ['x-slack-signature', 'x-slack-request-timestamp'],
    tolerance: 300,
    coversBody: true,
    wrongAlgorithm: swap('v0=', 'v1='),
  },
  {
    label: 'shopify',
    scheme: 'shopify',
    secrets: ['shp-old', 'shp-new', 'shp-other'],
    signature: 'x-shopify-hmac-sha256',
    required: ['x-shopify-hmac-sha256'],
    coversBody: true,
    wrongAlgorithm: (_v, body, secret) => createHmac('sha1', secret).update(body).digest('base64'),
  },
  {
    label: 'standard-webhooks',
    scheme: 'standard-webhooks',
    secrets: [`whsec_${b64('sw-old-key-0123456789')}`, b64('sw-new-key-0123456789'), `whsec_${b64('sw-other')}`],
    signature: 'webhook-signature',
    required: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    tolerance: 300,
    coversBody: true,
    wrongAlgorithm: swap('v1,', 'v1a,'),
  },
  {
    label: 'standard-webhooks (svix names)',
    scheme: 'standard-webhooks',
    options: { tolerance: 60 },
    secrets: [`whsec_${b64('svix-old-key')}`, `whsec_${b64('svix-new-key')}`, `whsec_${b64('svix-other')}`],
    signature: 'svix-signature',
    required: ['svix-id', 'svix-timestamp', 'svix-signature'],
    tolerance: 60,
    coversBody: true,
    wrongAlgorithm: swap('v1,', 'v2,'),
    transform: (h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.replace('webhook-', 'svix-'), v])),
  },
  {
    label: 'hmac (timestamped, hex, prefixed)',
    scheme: 'hmac',
    options: { header: 'X-Signature', prefix: 'sha256=', signed: '{timestamp}.{body}', timestampHeader: 'X-Timestamp', tolerance: 120 },
    secrets: ['h-old', 'h-new', 'h-other'],
    signature: 'x-signature',
    required: ['x-signature', 'x-timestamp'],
    tolerance: 120,
    coversBody: true,
    wrongAlgorithm: swap('sha256=', 'sha512='),
  },
  {
    label: 'hmac (sha512, base64, body only)',
    scheme: 'hmac',
    options: { header: 'X-Sig', algorithm: 'sha512', encoding: 'base64' },
    secrets: ['h5-old', 'h5-new', 'h5-other'],
    signature: 'x-sig',
    required: ['x-sig'],
    coversBody: true,
    wrongAlgorithm: (_v, body, secret) => createHmac('sha256', secret).update(body).digest('base64'),
  },
  {
    label: 'basic',
    scheme: 'basic',
    secrets: ['alice:old-pass', 'alice:new-pass', 'mallory:guess'],
    signature: 'authorization',
    required: ['authorization'],
    coversBody: false,
    wrongAlgorithm: swap('Basic ', 'Bearer '),
  },
  {
    label: 'bearer',
    scheme: 'bearer',
    secrets: ['tok-old-abcdef', 'tok-new-abcdef', 'tok-other-abcdef'],
    signature: 'authorization',
    required: ['authorization'],
    coversBody: false,
    wrongAlgorithm: swap('Bearer ', 'Basic '),
  },
];
