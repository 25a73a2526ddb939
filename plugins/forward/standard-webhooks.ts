// Standard Webhooks signing for `forward` (https://www.standardwebhooks.com).
// The id is the delivery key, not a fresh random id: it must be the same on
// every retry so the receiver can drop a copy it already processed. The
// timestamp is the attempt's, so a receiver's replay window (usually five
// minutes) is measured from when this copy was sent.

import { standardWebhooksKey, standardWebhooksSignature } from '../../src/index.js';

/** The spec's minimum key size (24 bytes; Svix generates 24 or 32). */
const MIN_KEY_BYTES = 24;

export type StandardWebhooksSigner = (id: string, nowMs: number, body: Buffer) => Record<string, string>;

/** Decodes the secrets once, at load: a malformed one rejects the config rather than failing every attempt. */
export function standardWebhooksSigner(secrets: readonly string[]): StandardWebhooksSigner {
  const keys = secrets.map((secret, i) => {
    if (!secret.startsWith('whsec_')) throw new Error(`standardWebhooks.secrets[${i}] must start with "whsec_" (the spec's form: whsec_<base64 key>)`);
    const key = standardWebhooksKey(secret);
    if (!key) throw new Error(`standardWebhooks.secrets[${i}] is not base64 after "whsec_"`);
    if (key.length < MIN_KEY_BYTES) throw new Error(`standardWebhooks.secrets[${i}] is ${key.length} bytes; the spec asks for at least ${MIN_KEY_BYTES}`);
    return key;
  });
  return (id, nowMs, body) => {
    const timestamp = String(Math.floor(nowMs / 1000));
    return {
      'webhook-id': id,
      'webhook-timestamp': timestamp,
      'webhook-signature': standardWebhooksSignature(keys, id, timestamp, body),
    };
  };
}
