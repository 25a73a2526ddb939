// The config's `egress` policy: which hosts and addresses actions may
// connect to. Pure rules over a host name and the address it resolved to;
// src/deliver/egress.ts applies them to every connection as it is made.

import type { ConfigIssue } from '../errors.js';
import type { JsonSchema } from '../plugin.js';
import { parseIp, parseRange } from '../ingest/allowlist.js';

export interface EgressConfig {
  /** When non-empty, only these hosts and ranges may be reached. */
  allow?: string[];
  /** Never reached, whatever `allow` says. */
  deny?: string[];
}

type Address = NonNullable<ReturnType<typeof parseIp>>;
type Range = [Address, number];

const entry = { type: 'string', minLength: 1 };

export const egressSchema: JsonSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  description:
    'Where actions may connect, checked on the address each connection resolves to (so DNS cannot steer around it). ' +
    'Entries are host names (`hooks.slack.com`, `*.example.com` for any subdomain), IP addresses or CIDR ranges, IPv4 or IPv6. ' +
    'A denied connection fails the delivery for good. Link-local addresses (cloud metadata at 169.254.169.254) and ' +
    '0.0.0.0 are denied unless `allow` lists an address range containing them.',
  properties: {
    allow: {
      type: 'array',
      items: entry,
      description: 'When set, only these hosts and ranges may be reached.',
      examples: [['hooks.slack.com', 'smtp.example.com', '10.20.0.0/16']],
    },
    deny: {
      type: 'array',
      items: entry,
      description: 'Never reached, whatever `allow` says.',
      examples: [['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7', '127.0.0.0/8', '::1']],
    },
  },
};

/**
 * Denied without any policy: nothing a webhook should reach, and the first
 * thing a server-side request forgery goes for.
 */
const ALWAYS_DENIED: ReadonlyArray<[string, string]> = [
  ['169.254.0.0/16', 'link-local (cloud metadata lives at 169.254.169.254)'],
  ['fe80::/10', 'link-local'],
  ['fd00:ec2::254/128', 'the AWS metadata service'],
  ['100.100.100.200/32', 'the Alibaba Cloud metadata service'],
  // Connecting to 0.0.0.0 reaches this host: a way around a denied 127.0.0.0/8.
  ['0.0.0.0/8', 'the unspecified address'],
  ['::/128', 'the unspecified address'],
];

interface Rules {
  /** Entry text with each matcher, for messages. */
  names: Array<[string, (host: string) => boolean]>;
  ranges: Array<[string, Range]>;
}

const HOST_NAME = /^(\*\.)?[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\.?$/i;

function normalizeName(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

function compileRules(list: readonly string[] | undefined, path: Array<string | number>, issues: ConfigIssue[]): Rules {
  const rules: Rules = { names: [], ranges: [] };
  for (const [i, raw] of (list ?? []).entries()) {
    const text = raw.trim();
    const looksLikeAddress = text.includes(':') || text.includes('/') || /^[\d.]+$/.test(text);
    if (looksLikeAddress) {
      const range = parseRange(text);
      if (typeof range === 'string') issues.push({ path: [...path, i], message: range });
      else rules.ranges.push([text, range]);
    } else if (HOST_NAME.test(text)) {
      const name = normalizeName(text);
      const match = name.startsWith('*.')
        ? ((suffix: string) => (host: string) => host.endsWith(suffix))(name.slice(1))
        : (host: string) => host === name;
      rules.names.push([text, match]);
    } else {
      issues.push({ path: [...path, i], message: `"${raw}" is not a host name, IP address or CIDR range (e.g. hooks.slack.com, *.example.com, 10.0.0.0/8, 2001:db8::/32)` });
    }
  }
  return rules;
}

function inRange(addr: Address, [net, bits]: Range): boolean {
  return addr.kind() === net.kind() && addr.match(net, bits);
}

const defaults: Array<[string, Range]> = ALWAYS_DENIED.map(([cidr, why]) => [why, parseRange(cidr) as Range]);

/** The compiled policy. Without a config, everything but the always-denied ranges is allowed. */
export class EgressPolicy {
  private constructor(
    private readonly allow: Rules,
    private readonly deny: Rules,
  ) {}

  /** Parses the config's `egress`; bad entries are issues at their key path. */
  static compile(config: EgressConfig | undefined, path: Array<string | number> = ['egress']): { policy: EgressPolicy; issues: ConfigIssue[] } {
    const issues: ConfigIssue[] = [];
    const allow = compileRules(config?.allow, [...path, 'allow'], issues);
    const deny = compileRules(config?.deny, [...path, 'deny'], issues);
    return { policy: new EgressPolicy(allow, deny), issues };
  }

  /** Why a host name is refused before it is even resolved, or undefined. */
  refuseName(host: string): string | undefined {
    const name = normalizeName(host);
    const hit = this.deny.names.find(([, match]) => match(name));
    return hit && `${host} is denied by egress.deny "${hit[0]}"`;
  }

  /**
   * Why connecting to `address` (resolved from `host`, when a name was
   * given) is refused, or undefined when it is allowed.
   */
  refuse(address: string, host?: string): string | undefined {
    const addr = parseIp(address);
    if (!addr) return `${address} is not an IP address`;
    const label = host !== undefined && host !== address ? `${host} (${addr.toString()})` : addr.toString();
    const byName = host !== undefined ? this.refuseName(host) : undefined;
    if (byName) return byName;
    const denied = this.deny.ranges.find(([, r]) => inRange(addr, r));
    if (denied) return `${label} is denied by egress.deny "${denied[0]}"`;
    const allowedRange = this.allow.ranges.some(([, r]) => inRange(addr, r));
    const always = defaults.find(([, r]) => inRange(addr, r));
    if (always && !allowedRange) return `${label} is ${always[0]}, denied unless egress.allow lists its address`;
    if (this.allow.names.length + this.allow.ranges.length === 0 || allowedRange) return undefined;
    const name = host !== undefined ? normalizeName(host) : undefined;
    if (name !== undefined && this.allow.names.some(([, match]) => match(name))) return undefined;
    return `${label} is not in egress.allow`;
  }
}
