// Table-driven: every scheme configuration in cases.ts must accept what it
// signs and refuse each way a request can be wrong.

import { describe, expect, it } from 'vitest';
import { getScheme } from '../../src/verify/index.js';
import type { Scheme, VerifyOutcome } from '../../src/verify/types.js';
import { cases } from './cases.js';
import type { Case } from './cases.js';
import { NOW, headerName, request } from './helpers.js';

const BODY = Buffer.from('{"type":"document.processed","id":"evt_1","data":{"n":1}}');

function schemeOf(c: Case): Scheme {
  const scheme = getScheme(c.scheme);
  if (!scheme) throw new Error(`no scheme ${c.scheme}`);
  return scheme;
}

/** Headers for `body` signed with one secret at `now`, in the case's header names. */
function signed(c: Case, secret: string, body = BODY, now = NOW): Record<string, string> {
  const headers = schemeOf(c).sign!(body, { ...c.options, secrets: [secret] }, now);
  return c.transform ? c.transform(headers) : headers;
}

function verify(c: Case, headers: Record<string, string | string[]>, body = BODY, secrets = c.secrets.slice(0, 2)): VerifyOutcome {
  return schemeOf(c).create({ ...c.options, secrets }).verify(request(headers, body));
}

function refused(out: VerifyOutcome): string {
  expect(out.ok).toBe(false);
  return out.ok ? '' : out.reason;
}

describe.each(cases)('$label', (c) => {
  const good = () => signed(c, c.secrets[0]);
  const sigName = () => headerName(good(), c.signature);

  it('accepts what sign() produces', () => {
    expect(verify(c, good())).toEqual({ ok: true, secret: 0 });
  });

  it('refuses a wrong secret, without echoing the expected signature', () => {
    const reason = refused(verify(c, signed(c, c.secrets[2])));
    const expected = good()[sigName()]!;
    expect(reason).not.toContain(expected.slice(-12));
  });

  if (c.coversBody) {
    it('refuses a body changed by one byte', () => {
      const changed = Buffer.from(BODY);
      changed.writeUInt8(changed.readUInt8(10) ^ 1, 10);
      refused(verify(c, good(), changed));
    });
  }

  it('refuses a truncated signature', () => {
    const h = good();
    refused(verify(c, { ...h, [sigName()]: h[sigName()]!.slice(0, -4) }));
  });

  it('refuses a wrong algorithm or prefix', () => {
    const h = good();
    refused(verify(c, { ...h, [sigName()]: c.wrongAlgorithm(h[sigName()]!, BODY, c.secrets[0]) }));
  });

  if (c.tolerance !== undefined) {
    const tol = c.tolerance * 1000;
    it('refuses stale and future timestamps, accepts the edge', () => {
      expect(refused(verify(c, signed(c, c.secrets[0], BODY, NOW - tol - 1000)))).toMatch(/too old/);
      expect(refused(verify(c, signed(c, c.secrets[0], BODY, NOW + tol + 1000)))).toMatch(/future/);
      expect(verify(c, signed(c, c.secrets[0], BODY, NOW - tol)).ok).toBe(true);
      expect(verify(c, signed(c, c.secrets[0], BODY, NOW + tol)).ok).toBe(true);
    });
  }

  it.each(c.required)('refuses a missing %s header', (name) => {
    const h = good();
    delete h[headerName(h, name)];
    expect(refused(verify(c, h))).toMatch(/missing/i);
  });

  it.each(c.required)('refuses %s sent twice, even with the same valid value', (name) => {
    const h: Record<string, string | string[]> = good();
    const key = headerName(good(), name);
    h[key] = [h[key] as string, h[key] as string];
    expect(refused(verify(c, h))).toMatch(/more than once/);
  });

  it('rotation: either configured secret passes and reports its index; a retired one fails', () => {
    expect(verify(c, signed(c, c.secrets[0]))).toEqual({ ok: true, secret: 0 });
    expect(verify(c, signed(c, c.secrets[1]))).toEqual({ ok: true, secret: 1 });
    refused(verify(c, signed(c, c.secrets[0]), BODY, [c.secrets[1]]));
  });
});
