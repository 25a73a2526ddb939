import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAjv } from '../../src/config/validate.js';
import { ConfigError } from '../../src/errors.js';
import { createRateLimit, rateLimitSchema, type LimiterOptions, type RateLimitConfig } from '../../src/ingest/rate-limit.js';

const at = ['sources', 'github', 'rateLimit'];

async function takeN(limit: ReturnType<typeof createRateLimit>, key: string, n: number) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(await limit.take(key));
  return out;
}

// The memory limiter reads Date.now() and expires keys with setTimeout; fake
// both so window arithmetic is exact and a one-minute window takes no time.
beforeEach(() => {
  vi.useFakeTimers({ now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('createRateLimit', () => {
  it('lets `rate` requests through, then answers with Retry-After', async () => {
    const limit = createRateLimit({ rate: 3, per: '1m' }, at);
    expect(await takeN(limit, 'k', 3)).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
    expect(await limit.take('k')).toEqual({ ok: false, retryAfterSeconds: 60 });
  });

  it('counts Retry-After down with the window, rounding up and never below 1', async () => {
    const limit = createRateLimit({ rate: 1, per: '1m' }, at);
    await limit.take('k');
    vi.advanceTimersByTime(20_000);
    expect(await limit.take('k')).toEqual({ ok: false, retryAfterSeconds: 40 });
    vi.advanceTimersByTime(38_800); // 1.2 s left
    expect(await limit.take('k')).toEqual({ ok: false, retryAfterSeconds: 2 });
    vi.advanceTimersByTime(1_100); // 0.1 s left
    expect(await limit.take('k')).toEqual({ ok: false, retryAfterSeconds: 1 });
  });

  it('refills after the window, and refused requests do not extend it', async () => {
    const limit = createRateLimit({ rate: 2, per: '10s' }, at);
    await takeN(limit, 'k', 2);
    vi.advanceTimersByTime(9_999);
    expect((await takeN(limit, 'k', 5)).every((r) => !r.ok)).toBe(true);
    vi.advanceTimersByTime(1);
    expect(await takeN(limit, 'k', 3)).toEqual([{ ok: true }, { ok: true }, { ok: false, retryAfterSeconds: 10 }]);
  });

  it('keeps keys apart', async () => {
    const limit = createRateLimit({ rate: 1 }, at);
    expect(await limit.take('a')).toEqual({ ok: true });
    expect((await limit.take('a')).ok).toBe(false);
    expect(await limit.take('b')).toEqual({ ok: true });
  });

  it('defaults to 1 s windows shared by the whole source', async () => {
    const limit = createRateLimit({ rate: 1 }, at);
    expect(limit.by).toBe('source');
    expect(limit.keyFor('192.0.2.1')).toBe(limit.keyFor('198.51.100.1'));
    await limit.take(limit.keyFor('192.0.2.1'));
    expect(await limit.take(limit.keyFor('198.51.100.1'))).toEqual({ ok: false, retryAfterSeconds: 1 });
    vi.advanceTimersByTime(1_000);
    expect(await limit.take(limit.keyFor('198.51.100.1'))).toEqual({ ok: true });
  });

  it('by ip: one bucket per address, mapped IPv4 and spellings folded, IPv6 per /64', async () => {
    const limit = createRateLimit({ rate: 1, by: 'ip' }, at);
    expect(limit.keyFor('192.0.2.1')).not.toBe(limit.keyFor('192.0.2.2'));
    expect(limit.keyFor('::ffff:192.0.2.1')).toBe(limit.keyFor('192.0.2.1'));
    expect(limit.keyFor('2001:db8:1:2::1')).toBe(limit.keyFor('2001:DB8:1:2:ffff:ffff:ffff:ffff'));
    expect(limit.keyFor('2001:db8:1:2::1')).not.toBe(limit.keyFor('2001:db8:1:3::1'));

    await limit.take(limit.keyFor('192.0.2.1'));
    expect((await limit.take(limit.keyFor('::ffff:192.0.2.1'))).ok).toBe(false);
    expect(await limit.take(limit.keyFor('192.0.2.2'))).toEqual({ ok: true });
  });

  it('hands the store factory rate-limiter-flexible options with a per-source key prefix', async () => {
    const seen: LimiterOptions[] = [];
    const limit = createRateLimit({ rate: 100, per: 90_000 }, at, (options) => {
      seen.push(options);
      return new RateLimiterMemory(options);
    });
    expect(seen).toEqual([{ points: 100, duration: 90, keyPrefix: 'relay:sources.github.rateLimit' }]);
    expect(await limit.take('k')).toEqual({ ok: true });
  });

  it('reads the wait from whatever RateLimiterRes the store rejects with', async () => {
    const limit = createRateLimit({ rate: 5 }, at, () => ({ consume: () => Promise.reject(new RateLimiterRes(0, 2_500, 6)) }));
    expect(await limit.take('k')).toEqual({ ok: false, retryAfterSeconds: 3 });
  });

  it('passes a store failure on instead of reading it as "over the limit"', async () => {
    const down = new Error('connection refused');
    const limit = createRateLimit({ rate: 5 }, at, () => ({ consume: () => Promise.reject(down) }));
    await expect(limit.take('k')).rejects.toBe(down);
  });

  it('refuses settings it cannot honour, at their key path', () => {
    const cases: Array<[RateLimitConfig, string, RegExp]> = [
      [{ rate: 0 }, 'rate', /at least 1/],
      [{ rate: 1.5 }, 'rate', /whole number/],
      [{ rate: 10, per: '500ms' }, 'per', /whole number of seconds/],
      [{ rate: 10, per: '1500ms' }, 'per', /whole number of seconds/],
      [{ rate: 10, per: 0 }, 'per', /at least 1s/],
      [{ rate: 10, per: 'soon' }, 'per', /got soon/],
    ];
    for (const [cfg, key, message] of cases) {
      let thrown: unknown;
      try {
        createRateLimit(cfg, at);
      } catch (err) {
        thrown = err;
      }
      expect(thrown, JSON.stringify(cfg)).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).issues[0]).toMatchObject({ path: [...at, key], message: expect.stringMatching(message) });
    }
  });
});

describe('rateLimitSchema', () => {
  const validate = createAjv().compile(rateLimitSchema);

  it('accepts its examples and fills the documented defaults', () => {
    for (const example of rateLimitSchema.examples) expect(validate(structuredClone(example))).toBe(true);
    const cfg = { rate: 5 };
    expect(validate(cfg)).toBe(true);
    expect(cfg).toEqual({ rate: 5, per: '1s', by: 'source' });
  });

  it('refuses unknown keys (burst included), bad `by`, and a missing rate', () => {
    expect(validate({ rate: 5, burst: 10 })).toBe(false);
    expect(validate({ rate: 5, by: 'user' })).toBe(false);
    expect(validate({ per: '1s' })).toBe(false);
    expect(validate({ rate: 5, per: 'a while' })).toBe(false);
  });
});
