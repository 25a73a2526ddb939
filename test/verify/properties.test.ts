// Issue 12 item 5: property-based tests (fast-check) of every verifier.
// Whatever a sender posts, verify() answers {ok:false} and never throws; a
// correctly signed body verifies, and the same signature over any other body
// (for schemes that sign the body) does not. Seeded and bounded: a failure
// prints its seed and shrunk counterexample.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { getScheme } from '../../src/verify/index.js';
import { cases } from './cases.js';
import { NOW, request } from './helpers.js';

const RUNS = { numRuns: 100, seed: 12 };

const headerValue = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('sha256=', 'v1,', 't=1,v1=', 'Basic ', 'Bearer ', '', 'NaN', '-1', '1e999', '99999999999999999999'),
);
const body = fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b));

describe.each(cases)('$label', (c) => {
  const scheme = getScheme(c.scheme)!;
  const verifier = scheme.create({ ...c.options, secrets: c.secrets.slice(0, 2) });
  const sign = (b: Buffer, now: number) => {
    const signed = scheme.sign!(b, { ...c.options, secrets: [c.secrets[0]] }, now);
    return c.transform ? c.transform(signed) : signed;
  };

  it('never throws and never passes on arbitrary headers and bodies', () => {
    const headers = fc.dictionary(
      fc.constantFrom(...c.required, 'content-type', 'x-other'),
      fc.array(headerValue, { minLength: 0, maxLength: 3 }),
      { maxKeys: c.required.length + 2 },
    );
    fc.assert(
      fc.property(headers, body, fc.integer({ min: 0, max: 4_102_444_800_000 }), (h, b, now) => {
        const out = verifier.verify(request(h, b, now));
        expect(out).toMatchObject({ ok: false, reason: expect.any(String) });
      }),
      RUNS,
    );
  });

  it('accepts any body it signed itself, within tolerance', () => {
    fc.assert(
      fc.property(body, fc.integer({ min: -((c.tolerance ?? 300) - 1), max: (c.tolerance ?? 300) - 1 }), (b, skewSeconds) => {
        const headers = sign(b, NOW + skewSeconds * 1000);
        expect(verifier.verify(request(headers, b, NOW)).ok).toBe(true);
      }),
      RUNS,
    );
  });

  it.runIf(c.coversBody)('refuses a signature carried over to any other body', () => {
    fc.assert(
      fc.property(body, body, (a, b) => {
        fc.pre(!a.equals(b));
        expect(verifier.verify(request(sign(a, NOW), b, NOW)).ok).toBe(false);
      }),
      RUNS,
    );
  });
});
