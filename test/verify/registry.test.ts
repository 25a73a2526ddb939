// The registry, option schemas, and the option combinations create() refuses.

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { githubScheme } from '../../src/verify/github.js';
import { hmacScheme } from '../../src/verify/hmac.js';
import { getScheme, schemes } from '../../src/verify/index.js';
import type { Scheme } from '../../src/verify/types.js';
import { cases } from './cases.js';
import { NOW, request } from './helpers.js';

const scheme = (name: string): Scheme => getScheme(name)!;

describe('registry', () => {
  it('every scheme is registered under its own name, and unknown names are undefined', () => {
    for (const [name, s] of schemes) expect(s.name).toBe(name);
    expect(getScheme('nope')).toBeUndefined();
    expect(getScheme('toString')).toBeUndefined();
  });

  it('every scheme but none has a row in the table-driven tests', () => {
    const tested = new Set(cases.map((c) => c.scheme));
    expect([...schemes.keys()].filter((n) => n !== 'none' && !tested.has(n))).toEqual([]);
  });

  it('every option has a description, and the schema is an object schema', () => {
    for (const s of schemes.values()) {
      expect(s.options.type, s.name).toBe('object');
      for (const [key, prop] of Object.entries((s.options.properties ?? {}) as Record<string, { description?: string }>)) {
        expect(prop.description, `${s.name}.${key}`).toBeTruthy();
      }
    }
  });

  it('schemes that need a secret refuse to start without one, or with an empty one', () => {
    for (const s of schemes.values()) {
      if (!s.needsSecret) continue;
      const base = s.name === 'hmac' ? { header: 'X-Sig' } : {};
      expect(() => s.create({ ...base, secrets: [] }), s.name).toThrow(/at least one secret/);
      expect(() => s.create({ ...base, secrets: [''] }), s.name).toThrow(/secrets\[0\]/);
    }
  });
});

describe('sign() round-trips through verify() for every registered scheme', () => {
  it.each([...schemes.keys()])('%s', (name) => {
    const c = cases.find((x) => x.scheme === name) ?? { options: {}, secrets: [] };
    const options = { ...c.options, secrets: c.secrets.slice(0, 1) };
    const body = Buffer.from('{"type":"t","id":"1"}\n');
    const headers = scheme(name).sign!(body, options, NOW);
    expect(scheme(name).create(options).verify(request(headers, body))).toMatchObject({ ok: true });
  });
});

describe('none', () => {
  it('accepts anything with secret -1 and signs nothing', () => {
    const v = scheme('none').create({ secrets: [] });
    expect(v.verify(request({ authorization: ['a', 'b'] }, 'x'))).toEqual({ ok: true, secret: -1 });
    expect(scheme('none').needsSecret).toBe(false);
    expect(scheme('none').sign!(Buffer.from('x'), { secrets: [] }, NOW)).toEqual({});
  });
});

describe('hmac option validation', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no header', {}, /header is required/],
    ['unknown algorithm', { header: 'X', algorithm: 'md5' }, /algorithm/],
    ['unknown encoding', { header: 'X', encoding: 'base32' }, /encoding/],
    ['unknown placeholder', { header: 'X', signed: '{ts}.{body}' }, /\{ts\}/],
    ['no {body}', { header: 'X', signed: '{timestamp}', timestampHeader: 'T' }, /\{body\} exactly once/],
    ['{body} twice', { header: 'X', signed: '{body}{body}' }, /\{body\} exactly once/],
    ['{timestamp} without its header', { header: 'X', signed: '{timestamp}.{body}' }, /timestampHeader is required/],
    ['tolerance over an unsigned timestamp', { header: 'X', timestampHeader: 'T', tolerance: 60 }, /tolerance needs \{timestamp\}/],
    ['zero tolerance', { header: 'X', signed: '{timestamp}.{body}', timestampHeader: 'T', tolerance: 0 }, /positive/],
    ['timestampHeader that is never used', { header: 'X', timestampHeader: 'T' }, /does not use \{timestamp\}/],
  ];
  it.each(bad)('refuses %s', (_label, options, message) => {
    expect(() => scheme('hmac').create({ secrets: ['s'], ...options })).toThrow(message);
  });

  it('a signed timestamp without tolerance is checked against 300 s (issue 12 item 7)', () => {
    const o = { secrets: ['s'], header: 'X-Sig', signed: '{timestamp}:{body}', timestampHeader: 'X-Ts' };
    const at = (ts: string) => request({ 'X-Sig': createHmac('sha256', 's').update(`${ts}:b`).digest('hex'), 'X-Ts': ts }, 'b');
    const now = Math.floor(NOW / 1000);
    expect(scheme('hmac').create(o).verify(at(String(now - 299))).ok).toBe(true);
    expect(scheme('hmac').create(o).verify(at(String(now - 301))).ok).toBe(false);
    expect(scheme('hmac').create(o).verify(at('978307200')).ok).toBe(false); // 2001
    expect(scheme('hmac').create(o).verify(at('not-a-time')).ok).toBe(false);
  });
});

describe('timestamps', () => {
  const o = { secrets: ['s'], header: 'X-Sig', signed: '{timestamp}.{body}', timestampHeader: 'X-Ts', tolerance: 300 };
  // Correctly signed, so only the timestamp check can refuse them.
  it.each(['NaN', 'Infinity', '1e9', ' 1736942400', '0x675f', '-1736942400', '1736942400.5', '', '99999999999999'])('refuses %j', (ts) => {
    const sig = createHmac('sha256', 's').update(`${ts}.b`).digest('hex');
    expect(hmacScheme.create(o).verify(request({ 'X-Sig': sig, 'X-Ts': ts }, 'b'))).toMatchObject({ ok: false });
  });

  it('refuses a correctly signed Stripe header whose t is not a number', () => {
    const sig = createHmac('sha256', 'whsec_x').update('NaN.b').digest('hex');
    expect(scheme('stripe').create({ secrets: ['whsec_x'] }).verify(request({ 'Stripe-Signature': `t=NaN,v1=${sig}` }, 'b'))).toEqual({
      ok: false,
      reason: 'timestamp is not unix seconds',
    });
  });
});

describe('tolerance', () => {
  it.each(['stripe', 'slack', 'standard-webhooks'])('%s refuses a tolerance that is not a positive finite number', (name) => {
    for (const tolerance of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, '300']) {
      expect(() => scheme(name).create({ secrets: ['whsec_AAAA'], tolerance } as never), String(tolerance)).toThrow(/tolerance/);
    }
  });
});

describe('rotation', () => {
  it('a secret configured twice reports the first index', () => {
    const h = scheme('archivus').sign!(Buffer.from('b'), { secrets: ['same'] }, NOW);
    expect(scheme('archivus').create({ secrets: ['other', 'same', 'same'] }).verify(request(h, 'b'))).toEqual({ ok: true, secret: 1 });
  });
});

describe('secret formats', () => {
  it('basic secrets must be user:pass; bearer tokens may not contain whitespace', () => {
    expect(() => scheme('basic').create({ secrets: ['nocolon'] })).toThrow(/user:pass/);
    expect(() => scheme('bearer').create({ secrets: ['two words'] })).toThrow(/whitespace/);
  });

  it('standard-webhooks secrets must be base64', () => {
    expect(() => scheme('standard-webhooks').create({ secrets: ['whsec_not base64!'] })).toThrow(/secrets\[0\]/);
  });
});

describe('github legacySha1', () => {
  const body = '{"zen":"Design for failure."}';
  const sha1 = hmacScheme.sign!(Buffer.from(body), { secrets: ['s'], header: 'X-Hub-Signature', prefix: 'sha1=', algorithm: 'sha1' }, NOW);

  it('accepts X-Hub-Signature only when enabled and the 256 header is absent', () => {
    expect(scheme('github').create({ secrets: ['s'] }).verify(request(sha1, body)).ok).toBe(false);
    expect(githubScheme.create({ secrets: ['s'], legacySha1: true }).verify(request(sha1, body))).toEqual({ ok: true, secret: 0 });
  });

  it('a broken 256 header is not rescued by a valid SHA-1 one', () => {
    const h = { ...sha1, 'X-Hub-Signature-256': `sha256=${'0'.repeat(64)}` };
    expect(githubScheme.create({ secrets: ['s'], legacySha1: true }).verify(request(h, body)).ok).toBe(false);
  });
});
