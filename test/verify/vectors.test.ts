// Published vectors and the providers' own signing libraries, so our idea of
// each scheme is checked against theirs rather than against itself.

import { sign as octokitSign, verify as octokitVerify } from '@octokit/webhooks-methods';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { hmacScheme } from '../../src/verify/hmac.js';
import { getScheme } from '../../src/verify/index.js';
import type { Scheme } from '../../src/verify/types.js';
import { request } from './helpers.js';

const scheme = (name: string): Scheme => getScheme(name)!;
const now = Date.now();

describe('github', () => {
  const secret = "It's a Secret to Everybody";
  const expected = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

  it('verifies the GitHub docs example and signs it identically', () => {
    const v = scheme('github').create({ secrets: [secret] });
    expect(v.verify(request({ 'X-Hub-Signature-256': expected }, 'Hello, World!'))).toEqual({ ok: true, secret: 0 });
    expect(scheme('github').sign!(Buffer.from('Hello, World!'), { secrets: [secret] }, now)).toEqual({ 'X-Hub-Signature-256': expected });
  });

  it('agrees with @octokit/webhooks-methods both ways', async () => {
    const body = JSON.stringify({ action: 'opened', number: 7, emoji: 'é✓' });
    const v = scheme('github').create({ secrets: ['s3cr3t'] });
    expect(v.verify(request({ 'X-Hub-Signature-256': await octokitSign('s3cr3t', body) }, body)).ok).toBe(true);
    const ours = scheme('github').sign!(Buffer.from(body), { secrets: ['s3cr3t'] }, now);
    expect(await octokitVerify('s3cr3t', body, ours['X-Hub-Signature-256']!)).toBe(true);
  });
});

describe('stripe', () => {
  const secret = 'whsec_test_0123456789abcdef';
  const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'invoice.paid' });
  const t = Math.floor(now / 1000);

  it('verifies generateTestHeaderString output', () => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: t });
    const v = scheme('stripe').create({ secrets: [secret] });
    expect(v.verify(request({ 'Stripe-Signature': header }, body, now))).toEqual({ ok: true, secret: 0 });
    expect(scheme('stripe').sign!(Buffer.from(body), { secrets: [secret] }, now)).toEqual({ 'Stripe-Signature': header });
  });

  it('our sign() passes stripe.webhooks.constructEvent', () => {
    const ours = scheme('stripe').sign!(Buffer.from(body), { secrets: [secret] }, now)['Stripe-Signature']!;
    expect(Stripe.webhooks.constructEvent(body, ours, secret, 300, undefined, now).id).toBe('evt_1');
  });

  it('accepts any of several v1 entries and ignores v0', () => {
    const real = Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: t }).split(',v1=')[1];
    const header = `t=${t},v0=${'ab'.repeat(32)},v1=${'cd'.repeat(32)},v1=${real}`;
    expect(scheme('stripe').create({ secrets: [secret] }).verify(request({ 'Stripe-Signature': header }, body, now)).ok).toBe(true);
    const twoTimes = `t=${t},t=${t + 1},v1=${real}`;
    expect(scheme('stripe').create({ secrets: [secret] }).verify(request({ 'Stripe-Signature': twoTimes }, body, now)).ok).toBe(false);
    const v0only = `t=${t},v0=${real}`;
    expect(scheme('stripe').create({ secrets: [secret] }).verify(request({ 'Stripe-Signature': v0only }, body, now)).ok).toBe(false);
  });
});

describe('slack', () => {
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const ts = '1531420618';
  const body =
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c';
  const sig = 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503';
  const headers = { 'X-Slack-Signature': sig, 'X-Slack-Request-Timestamp': ts };
  const fresh = Number(ts) * 1000 + 30_000;

  it('verifies the Slack docs example and signs it identically', () => {
    expect(scheme('slack').create({ secrets: [secret] }).verify(request(headers, body, fresh))).toEqual({ ok: true, secret: 0 });
    expect(scheme('slack').sign!(Buffer.from(body), { secrets: [secret] }, Number(ts) * 1000)).toEqual(headers);
  });

  it('refuses the same example once it is stale', () => {
    const out = scheme('slack').create({ secrets: [secret] }).verify(request(headers, body, Number(ts) * 1000 + 301_000));
    expect(out).toEqual({ ok: false, reason: 'timestamp is too old' });
  });

  it('the generic hmac scheme can express Slack', () => {
    const v = hmacScheme.create({
      secrets: [secret],
      header: 'X-Slack-Signature',
      prefix: 'v0=',
      signed: 'v0:{timestamp}:{body}',
      timestampHeader: 'X-Slack-Request-Timestamp',
      tolerance: 300,
    });
    expect(v.verify(request(headers, body, fresh)).ok).toBe(true);
  });
});

describe('standard-webhooks', () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const ts = 1614265330;
  const body = '{"test": 2432232314}';
  const expected = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

  it('verifies the spec vector, under both header spellings', () => {
    const v = scheme('standard-webhooks').create({ secrets: [secret] });
    const at = ts * 1000 + 5_000;
    for (const p of ['webhook', 'svix']) {
      const h = { [`${p}-id`]: id, [`${p}-timestamp`]: String(ts), [`${p}-signature`]: expected };
      expect(v.verify(request(h, body, at))).toEqual({ ok: true, secret: 0 });
    }
  });

  it('the library signs the vector the same, and what it signs verifies', () => {
    const lib = new Webhook(secret);
    expect(lib.sign(id, new Date(ts * 1000), body)).toBe(expected);
    const second = 'whsec_' + Buffer.from('another key, 32 bytes long......').toString('base64');
    const h = {
      'webhook-id': 'msg_2',
      'webhook-timestamp': String(Math.floor(now / 1000)),
      // Other versions and undecodable entries around the real one are skipped, not fatal.
      'webhook-signature': `v1a,xyz v1,AAAA ${new Webhook(second).sign('msg_2', new Date(now), body)}`,
    };
    const v = scheme('standard-webhooks').create({ secrets: [secret, second] });
    expect(v.verify(request(h, body, now))).toEqual({ ok: true, secret: 1 });
  });

  it('a secret without the whsec_ prefix is base64 too, as the library reads it', () => {
    const bare = secret.slice('whsec_'.length);
    const signature = new Webhook(bare).sign(id, new Date(ts * 1000), body);
    const h = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature };
    expect(scheme('standard-webhooks').create({ secrets: [bare] }).verify(request(h, body, ts * 1000)).ok).toBe(true);
  });

  it('our sign() passes the library verify', () => {
    const h = scheme('standard-webhooks').sign!(Buffer.from(body), { secrets: [secret] }, now);
    expect(new Webhook(secret).verify(body, h)).toEqual({ test: 2432232314 });
  });

  it('refuses a mix of webhook-* and svix-* headers', () => {
    const v = scheme('standard-webhooks').create({ secrets: [secret] });
    const h = { 'webhook-id': id, 'svix-timestamp': String(ts), 'svix-signature': expected };
    expect(v.verify(request(h, body, ts * 1000)).ok).toBe(false);
  });
});
