import { describe, expect, it } from 'vitest';
import { compileAllowlist } from '../../src/ingest/allowlist.js';
import { clientIp, guard } from '../../src/ingest/guard.js';
import { createRateLimit, type RateLimitConfig } from '../../src/ingest/rate-limit.js';

const allow = (...cidrs: string[]) => compileAllowlist(cidrs, ['sources', 's', 'allowlist']);
const limit = (cfg: RateLimitConfig) => createRateLimit(cfg, ['sources', 's', 'rateLimit']);
const FORBIDDEN = { status: 403, body: { error: 'client address not allowed' } };

describe('guard', () => {
  it('lets everyone through when a source has neither check', async () => {
    expect(await guard({}, '198.51.100.1')).toBeNull();
  });

  it('answers 403 to a client outside the allowlist and nothing to one inside', async () => {
    const source = { allow: allow('10.0.0.0/8', '2001:db8::/32') };
    expect(await guard(source, '198.51.100.1')).toEqual(FORBIDDEN);
    expect(await guard(source, '2001:db9::1')).toEqual(FORBIDDEN);
    expect(await guard(source, '10.1.2.3')).toBeNull();
    expect(await guard(source, '::ffff:10.1.2.3')).toBeNull();
    expect(await guard(source, '2001:db8::7')).toBeNull();
  });

  it('answers 429 with Retry-After once the limit is spent', async () => {
    const source = { limit: limit({ rate: 2, per: '30s' }) };
    expect(await guard(source, '198.51.100.1')).toBeNull();
    expect(await guard(source, '198.51.100.2')).toBeNull();
    const refused = await guard(source, '198.51.100.3');
    expect(refused).toMatchObject({ status: 429, body: { error: 'too many requests' } });
    const wait = Number(refused?.headers?.['retry-after']);
    expect(wait).toBeGreaterThanOrEqual(29);
    expect(wait).toBeLessThanOrEqual(30);
  });

  it('limits each client on its own with by: ip', async () => {
    const source = { limit: limit({ rate: 1, per: '1m', by: 'ip' }) };
    expect(await guard(source, '198.51.100.1')).toBeNull();
    expect((await guard(source, '198.51.100.1'))?.status).toBe(429);
    expect(await guard(source, '198.51.100.2')).toBeNull();
  });

  it('spends no limit on refused strangers', async () => {
    const source = { allow: allow('10.0.0.1'), limit: limit({ rate: 1, per: '1m' }) };
    for (let i = 0; i < 5; i++) expect(await guard(source, `198.51.100.${i}`)).toEqual(FORBIDDEN);
    expect(await guard(source, '10.0.0.1')).toBeNull();
    expect((await guard(source, '10.0.0.1'))?.status).toBe(429);
  });
});

describe('clientIp', () => {
  it('is the TCP peer without trustProxy, whatever X-Forwarded-For claims', () => {
    expect(clientIp('192.0.2.10', '10.0.0.1', false)).toBe('192.0.2.10');
    expect(clientIp('192.0.2.10', ['10.0.0.1', '10.0.0.2'], false)).toBe('192.0.2.10');
    expect(clientIp('::ffff:192.0.2.10', undefined, false)).toBe('192.0.2.10');
    expect(clientIp(undefined, '10.0.0.1', false)).toBe('');
  });

  it('is the left-most X-Forwarded-For entry with trustProxy, like Koa ctx.ip', () => {
    expect(clientIp('10.9.9.9', '203.0.113.5, 10.0.0.2', true)).toBe('203.0.113.5');
    expect(clientIp('10.9.9.9', ['203.0.113.5,10.0.0.2', '10.0.0.3'], true)).toBe('203.0.113.5');
    expect(clientIp('10.9.9.9', ' 2001:DB8::1 ', true)).toBe('2001:db8::1');
    expect(clientIp('10.9.9.9', '::ffff:203.0.113.5', true)).toBe('203.0.113.5');
  });

  it('falls back to the peer when a trusted header is missing or starts empty', () => {
    expect(clientIp('10.9.9.9', undefined, true)).toBe('10.9.9.9');
    expect(clientIp('10.9.9.9', '', true)).toBe('10.9.9.9');
    expect(clientIp('10.9.9.9', ' , 203.0.113.5', true)).toBe('10.9.9.9');
  });

  it('makes a spoofed header useless without trustProxy: allowlist and per-ip limit see the peer', async () => {
    const source = { allow: allow('10.0.0.0/8') };
    expect(await guard(source, clientIp('198.51.100.1', '10.0.0.1', false))).toEqual(FORBIDDEN);
    expect(await guard(source, clientIp('10.0.0.5', '198.51.100.1', false))).toBeNull();

    const perIp = { limit: limit({ rate: 1, per: '1m', by: 'ip' }) };
    expect(await guard(perIp, clientIp('198.51.100.1', '203.0.113.1', false))).toBeNull();
    expect((await guard(perIp, clientIp('198.51.100.1', '203.0.113.2', false)))?.status).toBe(429);
  });

  it('honours the header with trustProxy', async () => {
    const source = { allow: allow('10.0.0.0/8') };
    expect(await guard(source, clientIp('198.51.100.1', '10.0.0.1', true))).toBeNull();
    expect(await guard(source, clientIp('10.0.0.5', '198.51.100.1', true))).toEqual(FORBIDDEN);
  });
});
