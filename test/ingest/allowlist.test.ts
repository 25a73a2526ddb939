import { describe, expect, it } from 'vitest';
import { createAjv } from '../../src/config/validate.js';
import { ConfigError, formatIssue } from '../../src/errors.js';
import { allowlistSchema, compileAllowlist, normalizeIp } from '../../src/ingest/allowlist.js';

const at = ['sources', 'github', 'allowlist'];
const allow = (...cidrs: string[]) => compileAllowlist(cidrs, at);

function issueOf(cidrs: string[]) {
  try {
    compileAllowlist(cidrs, at);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('RELAY_ERR_CONFIG');
    expect(e.issues).toHaveLength(1);
    return e.issues[0]!;
  }
  throw new Error(`no error for ${JSON.stringify(cidrs)}`);
}

describe('compileAllowlist', () => {
  it('matches IPv4 ranges up to their edges', () => {
    const ok = allow('192.0.2.0/24');
    expect(['192.0.2.0', '192.0.2.77', '192.0.2.255'].map(ok)).toEqual([true, true, true]);
    expect(['192.0.1.255', '192.0.3.0', '10.0.0.1'].map(ok)).toEqual([false, false, false]);
  });

  it('reads a bare IPv4 address as /32', () => {
    const ok = allow('203.0.113.7');
    expect(ok('203.0.113.7')).toBe(true);
    expect(ok('203.0.113.6')).toBe(false);
    expect(ok('203.0.113.8')).toBe(false);
  });

  it('matches IPv6 ranges whatever the address spelling', () => {
    const ok = allow('2001:db8::/32');
    expect(ok('2001:db8::1')).toBe(true);
    expect(ok('2001:0DB8:ffff:0:0:0:0:1')).toBe(true);
    expect(ok('2001:db9::1')).toBe(false);
    expect(ok('2001:db7:ffff:ffff:ffff:ffff:ffff:ffff')).toBe(false);
  });

  it('reads a bare IPv6 address as /128', () => {
    const ok = allow('2001:db8::1');
    expect(ok('2001:db8:0:0::1')).toBe(true);
    expect(ok('2001:db8::2')).toBe(false);
    expect(ok('2001:db8::1:1')).toBe(false);
  });

  it('matches IPv4-mapped IPv6 clients against IPv4 ranges', () => {
    const ok = allow('10.0.0.0/8');
    expect(ok('::ffff:10.0.0.1')).toBe(true);
    expect(ok('::FFFF:10.255.0.1')).toBe(true);
    expect(ok('::ffff:a00:1')).toBe(true); // 10.0.0.1 in hex
    expect(ok('::ffff:11.0.0.1')).toBe(false);
  });

  it('unwraps IPv4-mapped ranges in the config too', () => {
    const ok = allow('::ffff:10.0.0.0/104');
    expect(ok('10.1.2.3')).toBe(true);
    expect(ok('::ffff:10.1.2.3')).toBe(true);
    expect(ok('11.1.2.3')).toBe(false);
  });

  it('keeps the families apart: ::/0 is not every IPv4 client, 0.0.0.0/0 not every IPv6 one', () => {
    expect(allow('::/0')('::ffff:192.0.2.1')).toBe(false);
    expect(allow('::/0')('2001:db8::1')).toBe(true);
    expect(allow('0.0.0.0/0')('2001:db8::1')).toBe(false);
    expect(allow('0.0.0.0/0')('::ffff:192.0.2.1')).toBe(true);
  });

  it('mixes families in one list', () => {
    const ok = allow('192.30.252.0/22', '2a0a:a440::/29');
    expect(ok('192.30.253.1')).toBe(true);
    expect(ok('2a0a:a441::1')).toBe(true);
    expect(ok('192.30.248.1')).toBe(false);
    expect(ok('2a0a:a450::1')).toBe(false);
  });

  it('refuses client text that is not an address, even with allow-all ranges', () => {
    const ok = allow('0.0.0.0/0', '::/0');
    for (const bad of ['', 'unknown', '10.1', '010.0.0.1', '10.0.0.1, 10.0.0.2', '10.0.0.1:443']) expect(ok(bad), bad).toBe(false);
  });

  it('throws a ConfigError at the entry path for an invalid entry', () => {
    const cases: Array<[string, RegExp]> = [
      ['not-an-ip', /is not an IP address or CIDR range/],
      ['10.0.0.0/33', /at most \/32/],
      ['2001:db8::/129', /at most \/128/],
      ['10.0.0.0/', /is not an IP address/],
      ['10.0.0.0/8/8', /is not an IP address/],
      ['10.0.0.0/-1', /is not an IP address/],
      ['300.0.0.1', /is not an IP address/],
      ['10.1/16', /is not an IP address/],
      ['10.0.0.1/8', /write the network \(10\.0\.0\.0\/8\)/],
      ['2001:db8::1/32', /write the network \(2001:db8::\/32\)/],
    ];
    for (const [entry, message] of cases) {
      const issue = issueOf(['192.0.2.0/24', entry]);
      expect(issue.path, entry).toEqual([...at, 1]);
      expect(issue.message, entry).toMatch(message);
    }
    expect(formatIssue(issueOf(['nope']))).toMatch(/^sources\.github\.allowlist\[0\]: "nope"/);
  });

  it('refuses an empty list instead of silently refusing every client', () => {
    const issue = issueOf([]);
    expect(issue.path).toEqual(at);
    expect(issue.message).toMatch(/empty allowlist/);
  });
});

describe('normalizeIp', () => {
  it('unwraps mapped IPv4 and compresses IPv6, leaving non-addresses alone', () => {
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('2001:0DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(normalizeIp('garbage')).toBe('garbage');
  });
});

describe('allowlistSchema', () => {
  const validate = createAjv().compile(allowlistSchema);
  it('accepts its examples and refuses empty or non-string lists', () => {
    for (const example of allowlistSchema.examples) expect(validate(example)).toBe(true);
    expect(validate([])).toBe(false);
    expect(validate('10.0.0.0/8')).toBe(false);
    expect(validate([10])).toBe(false);
  });

  it('has examples every one of which compiles', () => {
    for (const example of allowlistSchema.examples) expect(() => compileAllowlist(example, at)).not.toThrow();
  });
});
