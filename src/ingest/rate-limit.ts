// Inbound rate limits per source, on rate-limiter-flexible so a shared store
// (RateLimiterPostgres, for several Relay instances) can replace the memory
// one through `storeFactory` without touching callers.
//
// The library counts in fixed windows that open at a key's first request
// ("flexible fixed window"); it is not a token bucket. So `rate` requests may
// come all at once, and a sender straddling a window's end can get up to
// 2 x rate through within one `per`. There is no `burst` setting: the
// library's BurstyRateLimiter is a second window, not a bucket's capacity, and
// a `burst:` key that behaved unlike a token bucket would mislead.

import { createRequire } from 'node:module';
import ipaddr from 'ipaddr.js';
import type { RateLimiterRes } from 'rate-limiter-flexible';
import { durationSchema, toMs } from '../config/units.js';
import { configIssue, formatPath } from '../errors.js';
import { parseIp } from './allowlist.js';

export interface RateLimitConfig {
  /** Requests allowed per window. */
  rate: number;
  /** Window length: milliseconds or a duration string; whole seconds. Default 1s. */
  per?: number | string;
  /** One bucket for the whole source, or one per client address. Default source. */
  by?: 'source' | 'ip';
}

export const rateLimitSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['rate'],
  description:
    'Accept at most `rate` requests per `per`; more get 429 with Retry-After. Windows are fixed and open at the first ' +
    'request (not a token bucket): all `rate` requests may arrive at once, and up to twice `rate` can pass across a window boundary.',
  properties: {
    rate: { type: 'integer', minimum: 1, description: 'Requests allowed per window.', examples: [100] },
    per: {
      ...durationSchema,
      default: '1s',
      description: 'Window length in whole seconds: 1s, 30s, 1m, 1h (or milliseconds, a multiple of 1000).',
    },
    by: {
      enum: ['source', 'ip'],
      default: 'source',
      description: '`source`: one limit shared by every sender; `ip`: one per client address (IPv6 clients per /64).',
    },
  },
  examples: [{ rate: 100, per: '1s' }, { rate: 600, per: '1m', by: 'ip' }],
} as const;

/** What a store factory gets: rate-limiter-flexible's own options, duration in seconds. */
export interface LimiterOptions {
  points: number;
  duration: number;
  /** Unique per source, so limits in a shared store (one table) stay apart. */
  keyPrefix: string;
}
/**
 * The part of RateLimiterAbstract used here, so any of the library's limiters
 * (RateLimiterMemory, RateLimiterPostgres, …) fits; spelled out to keep the
 * library's `any`-typed options out of Relay's types.
 */
export interface Limiter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
}
export type LimiterFactory = (options: LimiterOptions) => Limiter;

export type Take = { ok: true } | { ok: false; retryAfterSeconds: number };

export interface RateLimit {
  readonly by: 'source' | 'ip';
  /** The bucket key for a client (see `by`). */
  keyFor(clientIp: string): string;
  /** Spends one request; a store failure rejects (the server answers 503, senders retry). */
  take(key: string): Promise<Take>;
}

// Loaded on the first limit a config sets: the library's index requires
// every limiter it has (36 modules), which `relay validate` and a config
// without limits do not need.
const require = createRequire(import.meta.url);
const library = () => require('rate-limiter-flexible') as typeof import('rate-limiter-flexible');

export const memoryLimiter: LimiterFactory = (options) => new (library().RateLimiterMemory)(options);

/**
 * In-memory limiters that outlive a reload: a source whose limit is unchanged
 * gets back the limiter it had, counters and all, so a reload (SIGHUP, a file
 * save) cannot hand every sender a fresh window. A changed limit starts anew.
 */
export function reloadSafeMemoryLimiters(): LimiterFactory {
  const byPrefix = new Map<string, { points: number; duration: number; limiter: Limiter }>();
  return (options) => {
    const kept = byPrefix.get(options.keyPrefix);
    if (kept && kept.points === options.points && kept.duration === options.duration) return kept.limiter;
    const limiter = new (library().RateLimiterMemory)(options);
    byPrefix.set(options.keyPrefix, { points: options.points, duration: options.duration, limiter });
    return limiter;
  };
}

export function createRateLimit(
  cfg: RateLimitConfig,
  path: ReadonlyArray<string | number>,
  storeFactory: LimiterFactory = memoryLimiter,
): RateLimit {
  if (!Number.isInteger(cfg.rate) || cfg.rate < 1) throw configIssue([...path, 'rate'], `must be a whole number of requests, at least 1 (got ${cfg.rate})`);
  const perMs = durationMs(cfg.per ?? '1s');
  // Whole seconds: the library's windows are in seconds, Retry-After is in
  // seconds, and ms/1000*1000 round-off would reach a store's integer columns.
  if (!(perMs >= 1000 && perMs % 1000 === 0)) {
    throw configIssue([...path, 'per'], `must be a whole number of seconds, at least 1s (got ${String(cfg.per)})`);
  }
  const by = cfg.by ?? 'source';
  const { RateLimiterRes: Rejection } = library();
  const limiter = storeFactory({ points: cfg.rate, duration: perMs / 1000, keyPrefix: `relay:${formatPath(path)}` });
  return {
    by,
    keyFor: (clientIp) => (by === 'source' ? 'source' : ipKey(clientIp)),
    async take(key) {
      try {
        await limiter.consume(key);
        return { ok: true };
      } catch (rejection) {
        // Over the limit rejects with a RateLimiterRes; anything else is a store failure.
        if (!(rejection instanceof Rejection)) throw rejection;
        return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
      }
    },
  };
}

function durationMs(value: number | string): number {
  try {
    return toMs(value);
  } catch {
    return Number.NaN;
  }
}

/**
 * One key per IPv4 address, one per IPv6 /64: a single IPv6 host usually holds
 * a whole /64 and could otherwise rotate addresses to get a fresh limit each time.
 */
function ipKey(clientIp: string): string {
  const addr = parseIp(clientIp);
  if (!addr) return clientIp;
  if (!(addr instanceof ipaddr.IPv6)) return addr.toString();
  return `${new ipaddr.IPv6([...addr.parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}
