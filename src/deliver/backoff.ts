// When to try a failed delivery again. Full jitter (AWS Architecture Blog,
// "Exponential Backoff and Jitter"): spreading retries uniformly over the whole
// window de-synchronises a burst of failures better than equal or no jitter.

import type { RetryPolicy } from './types.js';

/**
 * A destination's Retry-After is honoured even past `maxDelayMs` (it knows
 * its own outage better than our policy does), but bounded so that a bogus
 * header (a date years ahead) cannot park a delivery forever.
 */
export const RETRY_AFTER_CAP_MS = 60 * 60 * 1000;

/** The largest backoff after attempt `attempt` (1-based): initial * 2^(attempt-1), at most maxDelay. */
export function backoffCap(attempt: number, retry: RetryPolicy): number {
  const exponent = Math.max(0, attempt - 1);
  // 2 ** 1100 is Infinity, which Math.min turns back into maxDelay: no overflow to worry about.
  return Math.max(0, Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** exponent));
}

/** A random delay in [0, backoffCap]. `random` returns [0, 1), like Math.random. */
export function backoffDelay(attempt: number, retry: RetryPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * (backoffCap(attempt, retry) + 1));
}

/** When attempt `attempt + 1` may run: after the jittered backoff, and never before Retry-After. */
export function nextAttemptAt(
  now: number,
  attempt: number,
  retry: RetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const backoff = backoffDelay(attempt, retry, random);
  const asked = retryAfterMs !== undefined && retryAfterMs > 0 ? Math.min(retryAfterMs, RETRY_AFTER_CAP_MS) : 0;
  return now + Math.max(backoff, asked);
}
