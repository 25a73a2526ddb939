// The scheme registry. Adding a scheme: one file beside this one, one line below.

import { archivusScheme } from './archivus.js';
import { basicScheme } from './basic.js';
import { bearerScheme } from './bearer.js';
import { githubScheme } from './github.js';
import { hmacScheme } from './hmac.js';
import { noneScheme } from './none.js';
import { shopifyScheme } from './shopify.js';
import { slackScheme } from './slack.js';
import { standardWebhooksScheme } from './standard-webhooks.js';
import { stripeScheme } from './stripe.js';
import type { Scheme } from './types.js';

// Scheme<X> widens to Scheme because create/sign are methods (bivariant); the
// loader validates options against `scheme.options` before calling create.
const all: Scheme[] = [
  archivusScheme,
  githubScheme,
  stripeScheme,
  slackScheme,
  shopifyScheme,
  standardWebhooksScheme,
  hmacScheme,
  basicScheme,
  bearerScheme,
  noneScheme,
];

export const schemes: ReadonlyMap<string, Scheme> = new Map(all.map((s) => [s.name, s]));

/** The scheme a source names, or undefined so the loader can report it with the config path. */
export function getScheme(name: string): Scheme | undefined {
  return schemes.get(name);
}

export type { Identity, Scheme, SchemeOptionsBase, Verifier, VerifyOutcome, VerifyRequest } from './types.js';
