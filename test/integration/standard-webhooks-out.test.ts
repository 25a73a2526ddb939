// Issue 15 item 1: forward signs as Standard Webhooks. What the receiver got
// is checked with the `standardwebhooks` library (the reference verifier a
// real receiver would use), not with Relay's own verifier.

import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { ConfigError, formatIssue } from '../../src/errors.js';
import { startInProcess } from '../helpers/in-process.js';
import { loadYaml } from '../helpers/config.js';
import { hooksConfig, postHook } from '../helpers/hooks-source.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';

const NEW = `whsec_${randomBytes(32).toString('base64')}`;
const OLD = `whsec_${randomBytes(24).toString('base64')}`;

const yaml = (target: Receiver, secrets: string[] = [NEW, OLD], extra = '') =>
  hooksConfig({
    delivery: '{ retry: { attempts: 3, initialDelay: 10ms, maxDelay: 20ms } }',
    action: `        with:
          url: "${target.url}/in"
          standardWebhooks: { secrets: ${JSON.stringify(secrets)} }
          ${extra}`,
  });

const post = (relay: Relay, payload: object) => postHook(relay, payload);

let target: Receiver;
let relay: Relay | undefined;
beforeAll(async () => {
  target = await startReceiver();
});
afterEach(async () => {
  await relay?.stop();
  relay = undefined;
  target.requests.length = 0;
  target.respond({ status: 200, body: 'ok' });
});
afterAll(() => target.close());

describe('forward with standardWebhooks', () => {
  it('a retried delivery keeps its webhook-id and Idempotency-Key; each copy verifies with every configured secret', async () => {
    // The receiver is down for the first copy, as when it deploys.
    target.respond((_req, i) => (i === 0 ? { status: 503, body: 'deploying' } : { status: 200, body: 'ok' }));
    relay = await startInProcess(yaml(target, [NEW, OLD], 'idempotencyKey: true'));
    const body = await post(relay, { id: 'evt-sw-1', type: 'doc.x' });

    const [first, second] = await target.waitForRequests(2);
    for (const req of [first!, second!]) {
      expect(req.text).toBe(body);
      // Either secret verifies it: a receiver still on the old one during a rotation keeps working.
      for (const secret of [NEW, OLD]) expect(new Webhook(secret).verify(req.text, req.headers)).toEqual(JSON.parse(body));
      expect(() => new Webhook(`whsec_${randomBytes(32).toString('base64')}`).verify(req.text, req.headers)).toThrow(/No matching signature/);
      expect(req.headers['webhook-signature']?.split(' ')).toHaveLength(2);
      expect(req.headers['webhook-id']).toMatch(/^msg_[A-Za-z0-9_-]{32}$/);
    }
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(first!.headers['idempotency-key']).toBe(first!.headers['webhook-id']);
    expect(second!.headers['idempotency-key']).toBe(first!.headers['webhook-id']);

    // Another event is another message.
    await post(relay, { id: 'evt-sw-2', type: 'doc.x' });
    const third = (await target.waitForRequests(3))[2]!;
    expect(new Webhook(NEW).verify(third.text, third.headers)).toMatchObject({ id: 'evt-sw-2' });
    expect(third.headers['webhook-id']).not.toBe(first!.headers['webhook-id']);
  });

  it('a tampered body or a body signed for another id is refused by the receiver library', async () => {
    relay = await startInProcess(yaml(target, [NEW]));
    await post(relay, { id: 'evt-sw-3', type: 'doc.x' });
    const [req] = await target.waitForRequests(1);
    expect(req!.headers).not.toHaveProperty('idempotency-key');
    expect(() => new Webhook(NEW).verify(req!.text.replace('doc.x', 'doc.y'), req!.headers)).toThrow(/No matching signature/);
    expect(() => new Webhook(NEW).verify(req!.text, { ...req!.headers, 'webhook-id': 'msg_other' })).toThrow(/No matching signature/);
  });

  it('a secret not in whsec_ base64 form is a config error at its action', async () => {
    for (const [secret, why] of [
      ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', /must start with "whsec_"/],
      ['whsec_not base64!', /not base64/],
      [`whsec_${randomBytes(8).toString('base64')}`, /8 bytes; the spec asks for at least 24/],
    ] as const) {
      const err = await loadYaml(yaml(target, [NEW, secret])).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      const [issue] = (err as ConfigError).issues.map((i) => formatIssue(i));
      expect(issue).toMatch(/rules\[0\]\.actions\[0\]\.with/);
      expect(issue).toMatch(why);
    }
  });
});
