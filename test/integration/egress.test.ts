// Issue 12, items 1 and 5, end to end: Relay started in process, a real
// receiver as the forward target, events signed the way the generic hmac
// scheme expects, and the admin API for what the dashboard shows.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { ConfigError, formatIssue } from '../../src/errors.js';
import { MASK } from '../../src/admin/operations.js';
import { HOP_BY_HOP_HEADERS } from '../../plugins/forward/index.js';
import { startInProcess } from '../helpers/in-process.js';
import { loadYaml } from '../helpers/config.js';
import { postHook } from '../helpers/hooks-source.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { waitFor } from '../helpers/relay-process.js';

const TOKEN = 'egress-admin-token-0123456789abcdef';
const SECRET = 'hmac-secret-for-egress';
const bearer = { authorization: `Bearer ${TOKEN}` };

const yaml = (target: Receiver, egress = '') => `
server: { port: 0 }
delivery: { retry: { attempts: 3, initialDelay: 10ms, maxDelay: 20ms } }
${egress}
sources:
  hooks:
    path: /webhooks/hooks
    verify: { scheme: hmac, header: X-Webhook-Signature, secret: ${SECRET} }
    event: { type: $.type, id: $.id }
rules:
  - name: fwd
    on: "**"
    actions:
      - use: forward
        with: { url: "${target.url}/tenants/{{ payload.tenant }}/events" }
`;

const post = (relay: Relay, payload: object, headers: Record<string, string> = {}) => postHook(relay, payload, headers, SECRET);

async function admin<T>(relay: Relay, path: string): Promise<T> {
  const res = await fetch(`${relay.url}${path}`, { headers: bearer });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

let target: Receiver;
let relay: Relay | undefined;
beforeAll(async () => {
  target = await startReceiver();
});
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
  target.requests.length = 0;
});
afterAll(() => target.close());

describe('what a payload can steer (item 1)', () => {
  it('a tenant of ../../internal/admin/delete-all?x= stays one path segment on the configured host', async () => {
    relay = await startInProcess(yaml(target), { RELAY_ADMIN_TOKEN: TOKEN });
    await post(relay, { id: 'evt-1', type: 'doc.x', tenant: '../../internal/admin/delete-all?x=' });
    const [req] = await target.waitForRequests(1);
    expect(req?.url).toBe('/tenants/..%2F..%2Finternal%2Fadmin%2Fdelete-all%3Fx%3D/events');
  });

  it('a connection the egress policy refuses is dead after one attempt, with the reason', async () => {
    relay = await startInProcess(yaml(target, 'egress: { deny: [127.0.0.0/8] }'), { RELAY_ADMIN_TOKEN: TOKEN });
    await post(relay, { id: 'evt-denied', type: 'doc.x', tenant: 'acme' });
    type Deliveries = { deliveries: Array<{ status: string; lastError: string | null; attempts: unknown[] }> };
    const [delivery] = await waitFor(async () => {
      const { deliveries } = await admin<Deliveries>(relay!, '/admin/events/evt-denied/deliveries');
      return deliveries.every((d) => d.status === 'dead') && deliveries.length > 0 ? deliveries : undefined;
    }, 'the delivery to be dead');
    expect(delivery?.attempts).toHaveLength(1);
    expect(delivery?.lastError).toBe('egress policy: 127.0.0.1 is denied by egress.deny "127.0.0.0/8"');
    expect(target.requests).toHaveLength(0);
  });

  it('a template in the host is refused at load, at its file:line:col', async () => {
    const bad = yaml(target).replace(`${target.url}/tenants/`, 'https://{{ payload.tenant }}.example.com/');
    const err = await loadYaml(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    const [issue] = (err as ConfigError).issues.map((i) => formatIssue({ ...i, file: 'relay.config.yaml' }));
    expect(issue).toMatch(/^relay\.config\.yaml:15:22 rules\[0\]\.actions\[0\]\.with\.url: a template may not decide a URL's scheme, host or port/);
  });

  it('bad egress entries are refused at load, each at its line', async () => {
    const err = await loadYaml(yaml(target, 'egress:\n  allow: [10.0.0.1/8]\n  deny: ["no such host!"]')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => `${i.line}: ${i.path.join('.')}`)).toEqual(['5: egress.allow.0', '6: egress.deny.0']);
  });
});

describe('one list of sensitive headers (item 5)', () => {
  it('what the dashboard masks never reaches the forward target (issue 12 reproduction)', async () => {
    relay = await startInProcess(yaml(target), { RELAY_ADMIN_TOKEN: TOKEN });
    await post(relay, { id: 'evt-creds', type: 'doc.x', tenant: 'acme' }, { 'x-api-key': 'key-123', 'x-auth-token': 'tok-456', 'x-trace-id': 'keep-me' });
    const [req] = await target.waitForRequests(1);
    for (const name of ['x-webhook-signature', 'x-api-key', 'x-auth-token']) expect(req?.headers, name).not.toHaveProperty(name);
    expect(req?.headers['x-trace-id']).toBe('keep-me');

    const shown = (await admin<{ headers: Record<string, string> }>(relay, '/admin/events/evt-creds')).headers;
    expect(shown).toMatchObject({ 'x-webhook-signature': MASK, 'x-api-key': MASK, 'x-auth-token': MASK, 'x-trace-id': 'keep-me' });
    for (const [name, value] of Object.entries(shown).filter(([h]) => !HOP_BY_HOP_HEADERS.has(h))) {
      expect(value === MASK, name).toBe(!(name in (req?.headers ?? {})));
    }
  });
});
