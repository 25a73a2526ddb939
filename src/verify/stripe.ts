// Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`. Several v1 entries
// appear while a secret is being rolled on Stripe's side; any may match.

import { checkTimestamp, decode, fail, firstSecret, hmac, matchAny, readHeader, secretKeys, toleranceOf, toleranceOption } from './crypto.js';
import type { Scheme, SchemeOptionsBase } from './types.js';

export interface StripeOptions extends SchemeOptionsBase {
  tolerance?: number;
}

const HEADER = 'Stripe-Signature';

/** The `whsec_...` secret is the HMAC key as written, not decoded (unlike Standard Webhooks). */
const mac = (key: Buffer, t: string, body: Buffer): Buffer => hmac('sha256', key, `${t}.`, body);

export const stripeScheme: Scheme<StripeOptions> = {
  name: 'stripe',
  description: 'Stripe webhooks: Stripe-Signature with a timestamp and v1 HMAC-SHA256 signatures.',
  options: {
    type: 'object',
    properties: {
      tolerance: toleranceOption('the signed timestamp'),
    },
  },
  needsSecret: true,
  defaults: { typePath: '$.type', idPath: '$.id' },
  create(options) {
    const keys = secretKeys('stripe', options.secrets);
    const tolerance = toleranceOf('stripe', options.tolerance, 300);
    return {
      verify(req) {
        const header = readHeader(req, HEADER);
        if (!header.ok) return header;
        const times: string[] = [];
        const given: Buffer[] = [];
        for (const item of header.value.split(',')) {
          const eq = item.indexOf('=');
          const [key, value] = eq < 0 ? [item, ''] : [item.slice(0, eq), item.slice(eq + 1)];
          if (key === 't') times.push(value);
          // Other schemes (v0 is Stripe's test-mode SHA-1 form) are not signatures we accept.
          if (key !== 'v1') continue;
          const sig = decode(value, 'hex');
          if (sig) given.push(sig);
        }
        const t = times[0];
        if (times.length !== 1 || t === undefined) return fail(`${HEADER} must carry exactly one t=`);
        if (given.length === 0) return fail(`${HEADER} has no valid v1 signature`);
        const stale = checkTimestamp(t, req.now, tolerance);
        if (stale) return fail(stale);
        return matchAny(keys, given, (key) => mac(key, t, req.rawBody));
      },
    };
  },
  sign(body, options, now) {
    const t = String(Math.floor(now / 1000));
    const sig = mac(Buffer.from(firstSecret('stripe', options.secrets), 'utf8'), t, body).toString('hex');
    return { [HEADER]: `t=${t},v1=${sig}` };
  },
};
