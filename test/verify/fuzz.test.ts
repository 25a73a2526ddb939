// Whatever a sender posts, verify() answers {ok:false}; it never throws.
// Seeded, so a failure reproduces.

import { describe, expect, it } from 'vitest';
import { getScheme } from '../../src/verify/index.js';
import { cases } from './cases.js';
import { NOW, request } from './helpers.js';

function prng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

const ROUNDS = 300;

describe.each(cases)('$label under garbage', (c) => {
  const scheme = getScheme(c.scheme)!;
  const verifier = scheme.create({ ...c.options, secrets: c.secrets.slice(0, 2) });
  const signed = scheme.sign!(Buffer.from('{}'), { ...c.options, secrets: [c.secrets[0]] }, NOW);
  const valid = Object.fromEntries(Object.entries(c.transform ? c.transform(signed) : signed).map(([k, v]) => [k.toLowerCase(), v]));

  it(`${ROUNDS} random header sets never throw and never pass`, () => {
    const rand = prng(c.label.length * 7919);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    const garbage = (): string => {
      const n = pick([0, 1, 2, 7, 32, 64, 65, 200, 20_000]);
      const alphabet = pick(['0123456789abcdef', 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=', ' ,=.:;vtx1\u00e9\u0000\ud800\uffff']);
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
      const prefix = pick(['', 'sha256=', 'sha1=', 'v0=', 'v1,', 't=', 't=1,v1=', 'Basic ', 'Bearer ', '-1', '1e9', 'NaN', '99999999999999999999']);
      return prefix + s;
    };
    for (let i = 0; i < ROUNDS; i++) {
      const headers: Record<string, string[]> = {};
      for (const name of c.required) {
        const count = pick([0, 1, 1, 1, 2, 3]);
        headers[name] = Array.from({ length: count }, () => (rand() < 0.3 && valid[name] ? valid[name]!.slice(0, -1) + 'x' : garbage()));
      }
      const body = Buffer.from(garbage(), 'latin1');
      let out;
      expect(() => (out = verifier.verify(request(headers, body, NOW + Math.floor(rand() * 1e6))))).not.toThrow();
      expect(out).toMatchObject({ ok: false, reason: expect.any(String) });
    }
  });
});
