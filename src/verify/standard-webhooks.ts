// Standard Webhooks (https://www.standardwebhooks.com), which Svix created and
// still sends under svix-* header names. Secrets are base64 key bytes.

import { randomUUID } from 'node:crypto';
import { checkTimestamp, decode, fail, firstSecret, hmac, matchAny, readHeader, secretKeys, toleranceOf, toleranceOption } from './crypto.js';
import type { Scheme, SchemeOptionsBase, VerifyRequest } from './types.js';

export interface StandardWebhooksOptions extends SchemeOptionsBase {
  tolerance?: number;
}

/** Header names as one set: a request mixing webhook-id with svix-signature is not accepted. */
function names(req: VerifyRequest): { id: string; timestamp: string; signature: string } {
  const svix = !['webhook-id', 'webhook-timestamp', 'webhook-signature'].some((h) => req.headers[h]?.length);
  const p = svix ? 'svix' : 'webhook';
  return { id: `${p}-id`, timestamp: `${p}-timestamp`, signature: `${p}-signature` };
}

/** The key bytes of a `whsec_<base64>` secret (the prefix is optional); undefined when not base64. */
export function standardWebhooksKey(secret: string): Buffer | undefined {
  const b64 = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
  return decode(b64.padEnd(Math.ceil(b64.length / 4) * 4, '='), 'base64');
}
const toKey = standardWebhooksKey;

const mac = (key: Buffer, id: string, ts: string, body: Buffer): Buffer => hmac('sha256', key, `${id}.${ts}.`, body);

/**
 * The `webhook-signature` value for a message: one `v1,<base64>` per key,
 * space-separated, so a receiver holding any of them (old or new, during a
 * rotation) accepts it. `timestamp` is unix seconds.
 */
export function standardWebhooksSignature(keys: readonly Buffer[], id: string, timestamp: string, body: Buffer): string {
  return keys.map((key) => `v1,${mac(key, id, timestamp, body).toString('base64')}`).join(' ');
}

export const standardWebhooksScheme: Scheme<StandardWebhooksOptions> = {
  name: 'standard-webhooks',
  description: 'Standard Webhooks and Svix: webhook-id/-timestamp/-signature (or svix-*), v1 HMAC-SHA256, whsec_ base64 secrets.',
  options: {
    type: 'object',
    properties: {
      tolerance: toleranceOption('webhook-timestamp'),
    },
  },
  needsSecret: true,
  defaults: { typePath: '$.type' },
  create(options) {
    const keys = secretKeys('standard-webhooks', options.secrets, toKey);
    const tolerance = toleranceOf('standard-webhooks', options.tolerance, 300);
    return {
      verify(req) {
        const n = names(req);
        const id = readHeader(req, n.id);
        if (!id.ok) return id;
        const ts = readHeader(req, n.timestamp);
        if (!ts.ok) return ts;
        const sig = readHeader(req, n.signature);
        if (!sig.ok) return sig;
        const given: Buffer[] = [];
        for (const entry of sig.value.split(' ')) {
          const comma = entry.indexOf(',');
          // v1a (asymmetric ed25519) and future versions are skipped, as the spec asks.
          if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
          const bytes = decode(entry.slice(comma + 1), 'base64');
          if (bytes) given.push(bytes);
        }
        if (given.length === 0) return fail(`${n.signature} has no valid v1 signature`);
        const stale = checkTimestamp(ts.value, req.now, tolerance);
        if (stale) return fail(stale);
        return matchAny(keys, given, (key) => mac(key, id.value, ts.value, req.rawBody));
      },
    };
  },
  identify(req) {
    const id = readHeader(req, names(req).id);
    return id.ok ? { id: id.value } : {};
  },
  sign(body, options, now) {
    const key = toKey(firstSecret('standard-webhooks', options.secrets));
    if (!key) throw new Error('standard-webhooks: secrets[0] is not base64');
    const id = `msg_${randomUUID().replaceAll('-', '')}`;
    const ts = String(Math.floor(now / 1000));
    return {
      'webhook-id': id,
      'webhook-timestamp': ts,
      'webhook-signature': standardWebhooksSignature([key], id, ts, body),
    };
  },
};
