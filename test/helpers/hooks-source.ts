// A config with one `hooks` source verified by the generic hmac scheme and one
// rule forwarding everything, and a client that signs what it posts to it:
// for end-to-end tests about what forward sends.

import { createHmac } from 'node:crypto';
import { expect } from 'vitest';
import type { Relay } from '../../src/relay.js';

export const HOOKS_SECRET = 'hmac-secret-for-hooks-source';

/** `delivery` and the forward action's extra lines (indented to sit under `- use: forward`) are the test's. */
export function hooksConfig(o: { delivery: string; action: string; top?: string }): string {
  return `
server: { port: 0 }
delivery: ${o.delivery}
${o.top ?? ''}
sources:
  hooks:
    path: /webhooks/hooks
    verify: { scheme: hmac, header: X-Webhook-Signature, secret: ${HOOKS_SECRET} }
    event: { type: $.type, id: $.id }
rules:
  - name: fwd
    on: "**"
    actions:
      - use: forward
${o.action.replace(/^\n/, '')}
`;
}

/** Posts the payload, signed, and expects 202; returns the bytes sent. */
export async function postHook(relay: Relay, payload: object, headers: Record<string, string> = {}, secret = HOOKS_SECRET): Promise<string> {
  const body = JSON.stringify(payload);
  const res = await fetch(`${relay.url}/webhooks/hooks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-webhook-signature': createHmac('sha256', secret).update(body).digest('hex'), ...headers },
    body,
  });
  expect(res.status).toBe(202);
  return body;
}
