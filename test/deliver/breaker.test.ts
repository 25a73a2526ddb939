import { describe, expect, it } from 'vitest';
import { BREAKER_DEFAULTS, MemoryBreaker } from '../../src/deliver/breaker.js';

const fail = (b: MemoryBreaker, target: string, times: number, now: number) => {
  for (let i = 0; i < times; i++) b.record(target, false, now);
};

describe('MemoryBreaker', () => {
  it('defaults to 5 failures, 30 s doubling up to 5 min', () => {
    expect(BREAKER_DEFAULTS).toEqual({ threshold: 5, cooldownMs: 30_000, maxCooldownMs: 300_000 });
    const b = new MemoryBreaker();
    fail(b, 't', 4, 0);
    expect(b.admit('t', 0)).toBe(true);
    const change = b.record('t', false, 0);
    expect(change?.to).toBe('open');
    expect(change?.circuit).toEqual({ target: 't', state: 'open', openedAt: 0, reopensAt: 30_000, failures: 5 });
  });

  it('opens only on consecutive failures', () => {
    const b = new MemoryBreaker({ threshold: 3 });
    fail(b, 't', 2, 0);
    b.record('t', true, 0);
    fail(b, 't', 2, 0);
    expect(b.blocked(0)).toEqual([]);
    fail(b, 't', 1, 0);
    expect(b.blocked(0)).toEqual(['t']);
  });

  it('blocks only the open target until the cool-down ends', () => {
    const b = new MemoryBreaker({ threshold: 1, cooldownMs: 1_000 });
    b.record('down', false, 0);
    expect(b.admit('down', 999)).toBe(false);
    expect(b.admit('up', 999)).toBe(true);
    expect(b.blocked(999)).toEqual(['down']);
    expect(b.nextReopenAt(0)).toBe(1_000);
    expect(b.circuits(999)[0]?.state).toBe('open');
    expect(b.circuits(1_000)[0]?.state).toBe('half-open');
  });

  it('admits one trial when half-open, and a success closes it', () => {
    const b = new MemoryBreaker({ threshold: 1, cooldownMs: 1_000 });
    b.record('t', false, 0);
    expect(b.blocked(1_000)).toEqual([]);
    expect(b.admit('t', 1_000)).toBe(true);
    expect(b.admit('t', 1_000)).toBe(false);
    expect(b.blocked(1_000)).toEqual(['t']);
    expect(b.record('t', true, 1_050)?.to).toBe('closed');
    expect(b.circuits(1_050)).toEqual([{ target: 't', state: 'closed', openedAt: null, reopensAt: null, failures: 0 }]);
    expect(b.admit('t', 1_050)).toBe(true);
    // the cool-down starts over after a close
    b.record('t', false, 2_000);
    expect(b.circuits(2_000)[0]?.reopensAt).toBe(3_000);
  });

  it('doubles the cool-down on each failed trial, up to the maximum', () => {
    const b = new MemoryBreaker({ threshold: 1, cooldownMs: 1_000, maxCooldownMs: 3_000 });
    let now = 0;
    b.record('t', false, now);
    const cooldowns: number[] = [];
    for (let i = 0; i < 4; i++) {
      const reopensAt = b.circuits(now)[0]!.reopensAt!;
      cooldowns.push(reopensAt - now);
      now = reopensAt;
      expect(b.admit('t', now)).toBe(true);
      expect(b.record('t', false, now)?.to).toBe('open');
    }
    expect(cooldowns).toEqual([1_000, 2_000, 3_000, 3_000]);
  });

  it('ignores results that arrive while open, and frees an abandoned trial', () => {
    const b = new MemoryBreaker({ threshold: 1, cooldownMs: 1_000 });
    b.record('t', false, 0);
    expect(b.record('t', true, 10)).toBeUndefined();
    expect(b.circuits(10)[0]?.state).toBe('open');
    expect(b.admit('t', 1_000)).toBe(true);
    b.abandon('t');
    expect(b.admit('t', 1_000)).toBe(true);
  });
});
