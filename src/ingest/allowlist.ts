// Per-source client address allowlists. Addresses are compared as parsed
// values, never as text, so `2001:DB8::1` and `2001:db8:0::1` are one address
// and an IPv4 client seen by a dual-stack socket as `::ffff:10.0.0.1` is
// treated as the IPv4 client it is.

import ipaddr from 'ipaddr.js';
import { configIssue } from '../errors.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

export const allowlistSchema = {
  type: 'array',
  minItems: 1,
  items: { type: 'string', minLength: 1 },
  description:
    'Client addresses allowed to post to this source; everyone else gets 403. IPv4 or IPv6 CIDR ranges, or single ' +
    'addresses (read as /32 or /128). IPv4 clients reaching a dual-stack socket as ::ffff:a.b.c.d match IPv4 ranges. ' +
    'The client address is the TCP peer, or the first X-Forwarded-For entry when server.trustProxy is set. Omit to allow everyone.',
  examples: [['192.30.252.0/22', '185.199.108.0/22', '140.82.112.0/20', '2a0a:a440::/29'], ['10.0.0.7', '2001:db8::/32']],
} as const;

/**
 * Parses one address strictly. ipaddr.js alone also reads legacy IPv4 forms
 * (`10.1`, `0x0a.0.0.1`, `010.0.0.1`) that no socket reports and that would
 * make a config entry mean an address its author did not write.
 */
export function parseIp(text: string): Address | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!ipaddr.IPv6.isValid(text)) return null;
  const v6 = ipaddr.IPv6.parse(text);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** Canonical text of an address (mapped IPv4 unwrapped); unparsable text is returned as is. */
export function normalizeIp(text: string): string {
  return parseIp(text)?.toString() ?? text;
}

export function compileAllowlist(cidrs: readonly string[], path: ReadonlyArray<string | number>): (ip: string) => boolean {
  if (cidrs.length === 0) {
    throw configIssue(path, 'an empty allowlist would refuse every client; list addresses or ranges, or remove allowlist to allow everyone');
  }
  const ranges = cidrs.map((entry, i) => {
    const range = parseRange(entry.trim());
    if (typeof range === 'string') throw configIssue([...path, i], range);
    return range;
  });
  const v4 = ranges.filter((r): r is [ipaddr.IPv4, number] => r[0].kind() === 'ipv4');
  const v6 = ranges.filter((r): r is [ipaddr.IPv6, number] => r[0].kind() === 'ipv6');
  return (ip) => {
    const addr = parseIp(ip);
    // Anything unparsable (empty peer address, a garbled header) is refused.
    if (!addr) return false;
    return addr.kind() === 'ipv4' ? v4.some((r) => addr.match(r)) : v6.some((r) => addr.match(r));
  };
}

/** A range, or why the entry is not one. */
export function parseRange(entry: string): [Address, number] | string {
  const [host = '', bits, ...rest] = entry.split('/');
  const example = '(e.g. 192.0.2.0/24, 203.0.113.7, 2001:db8::/32)';
  const v6 = ipaddr.IPv6.isValid(host) ? ipaddr.IPv6.parse(host) : null;
  const addr = ipaddr.IPv4.isValidFourPartDecimal(host) ? ipaddr.IPv4.parse(host) : v6;
  if (!addr || rest.length > 0 || (bits !== undefined && !/^\d{1,3}$/.test(bits))) {
    return `"${entry}" is not an IP address or CIDR range ${example}`;
  }
  const max = addr.kind() === 'ipv4' ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return `"${entry}": a ${addr.kind() === 'ipv4' ? 'IPv4' : 'IPv6'} prefix is at most /${max}`;
  if (hasHostBits(addr, prefix)) {
    // 10.0.0.1/8 is usually a typo for /32 or for 10.0.0.0/8; guessing either would be wrong half the time.
    return `"${entry}" has bits set after the /${prefix} prefix; write the network (${network(addr, prefix)}/${prefix}) or a single address`;
  }
  // Mapped clients are unwrapped to IPv4 (parseIp), so a mapped range must be too, or it could never match.
  if (v6?.isIPv4MappedAddress() && prefix >= 96) return [v6.toIPv4Address(), prefix - 96];
  return [addr, prefix];
}

function hasHostBits(addr: Address, prefix: number): boolean {
  return addr.toByteArray().some((byte, i) => (byte & hostMask(i, prefix)) !== 0);
}

function network(addr: Address, prefix: number): string {
  const bytes = addr.toByteArray().map((byte, i) => byte & ~hostMask(i, prefix) & 0xff);
  return ipaddr.fromByteArray(bytes).toString();
}

/** The bits of byte `i` that lie after the prefix. */
function hostMask(i: number, prefix: number): number {
  const inPrefix = Math.min(Math.max(prefix - i * 8, 0), 8);
  return 0xff >> inPrefix;
}
