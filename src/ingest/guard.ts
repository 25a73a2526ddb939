// The checks that run before a request's body is read, so a refused client
// costs no body read, parse or signature check. Free of Koa, so the server and
// the tests run the very same code.

import { ErrorCodes } from '../errors.js';
import { normalizeIp } from './allowlist.js';
import type { RateLimit } from './rate-limit.js';

export interface SourceGuards {
  /** From compileAllowlist; absent = every client allowed. */
  allow?: (ip: string) => boolean;
  /** From createRateLimit; absent = no limit. */
  limit?: RateLimit;
}

/** Shaped like handle.ts's Answer, so the server can send it as is. */
export interface Refusal {
  status: 403 | 429;
  body: { error: string };
  headers?: Record<string, string>;
}

export async function guard(source: SourceGuards, ip: string): Promise<Refusal | null> {
  // The allowlist goes first so refused strangers cannot drain a source-wide limit.
  if (source.allow && !source.allow(ip)) return { status: 403, body: { error: ErrorCodes.RELAY_ERR_FORBIDDEN } };
  if (source.limit) {
    const taken = await source.limit.take(source.limit.keyFor(ip));
    if (!taken.ok) {
      return {
        status: 429,
        body: { error: ErrorCodes.RELAY_ERR_RATE_LIMITED },
        headers: { 'retry-after': String(taken.retryAfterSeconds) },
      };
    }
  }
  return null;
}

/**
 * The client address, as Koa's `ctx.ip` finds it with `app.proxy = true`:
 * with trustProxy, the left-most X-Forwarded-For entry; otherwise the TCP peer.
 * The left-most entry is whatever the first hop wrote, so trustProxy is safe
 * only behind a proxy you run that overwrites the header (nginx:
 * `proxy_set_header X-Forwarded-For $remote_addr`). Behind one that appends
 * to it, a sender picks its own address and slips both checks.
 */
export function clientIp(
  remoteAddress: string | undefined,
  xForwardedFor: string | readonly string[] | undefined,
  trustProxy: boolean,
): string {
  const header = typeof xForwardedFor === 'string' ? xForwardedFor : xForwardedFor?.join(',');
  const forwarded = trustProxy && header ? header.split(',')[0]?.trim() : undefined;
  return normalizeIp(forwarded || remoteAddress || '');
}
