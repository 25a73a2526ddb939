import { describe, expect, it } from 'vitest';
import { backoffCap, backoffDelay, nextAttemptAt, RETRY_AFTER_CAP_MS } from '../../src/deliver/backoff.js';
import type { RetryPolicy } from '../../src/deliver/types.js';

const retry: RetryPolicy = { attempts: 10, initialDelayMs: 100, maxDelayMs: 1_000 };

describe('backoff', () => {
  it('doubles the window per attempt up to maxDelay', () => {
    expect([1, 2, 3, 4, 5, 6, 60, 2_000].map((a) => backoffCap(a, retry))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000]);
  });

  it('spreads delays over the whole window (full jitter)', () => {
    for (const attempt of [1, 2, 3, 4, 8]) {
      const cap = backoffCap(attempt, retry);
      const samples = Array.from({ length: 20_000 }, () => backoffDelay(attempt, retry));
      const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
      expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...samples)).toBeLessThanOrEqual(cap);
      // Full jitter, not equal jitter (which would never go below cap/2) nor a fixed delay.
      expect(Math.min(...samples)).toBeLessThan(cap * 0.05);
      expect(Math.max(...samples)).toBeGreaterThan(cap * 0.95);
      expect(mean).toBeGreaterThan(cap * 0.45);
      expect(mean).toBeLessThan(cap * 0.55);
    }
  });

  it('never exceeds maxDelay, even at the top of the random range', () => {
    expect(backoffDelay(50, retry, () => 0.999_999)).toBe(1_000);
    expect(backoffDelay(1, retry, () => 0)).toBe(0);
  });

  it('waits at least Retry-After, even beyond maxDelay', () => {
    expect(nextAttemptAt(5_000, 1, retry, 30_000, () => 0.5)).toBe(35_000);
    // the backoff wins when it is longer
    expect(nextAttemptAt(5_000, 9, retry, 10, () => 0.999_999)).toBe(6_000);
    expect(nextAttemptAt(5_000, 1, retry, undefined, () => 0)).toBe(5_000);
  });

  it('caps Retry-After at one hour', () => {
    expect(nextAttemptAt(0, 1, retry, 3 * RETRY_AFTER_CAP_MS, () => 0)).toBe(RETRY_AFTER_CAP_MS);
    expect(RETRY_AFTER_CAP_MS).toBe(3_600_000);
  });
});
