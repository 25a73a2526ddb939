// Addresses that come from templates. A payload value lands in a header of
// its own (To, Cc, From...) and in the SMTP envelope, so a value such as
// `a@example.com, everyone@example.com` or one with a line break would add
// recipients or headers nobody configured. Each templated item must render
// to exactly one address, or nothing; otherwise the delivery is dead with
// the reason. Items written out in the config are the operator's and pass
// as written (one string may list several, comma-separated).

import { createRequire } from 'node:module';
import type { fullFormats as Formats } from 'ajv-formats/dist/formats.js';
import type addressparserType from 'nodemailer/lib/addressparser';
import { DeliveryError } from '../../src/index.js';

const FIELDS = ['from', 'to', 'cc', 'bcc', 'replyTo'] as const;
type Field = (typeof FIELDS)[number];

export type AddressOptions = { from: string } & { [K in Exclude<Field, 'from'>]?: string | string[] };

export interface CheckedAddresses {
  from: string;
  to: string[];
  cc: string[];
  bcc: string[];
  replyTo: string[];
}

// Required on the first rendered address, not at start-up: every config
// loads the built-in plugins, few send email.
const require = createRequire(import.meta.url);
let parser: { addressparser: typeof addressparserType; email: RegExp } | undefined;
const lib = () =>
  (parser ??= {
    addressparser: require('nodemailer/lib/addressparser') as typeof addressparserType,
    email: (require('ajv-formats/dist/formats.js') as { fullFormats: typeof Formats }).fullFormats.email as RegExp,
  });

const isTemplate = (s: string) => s.includes('{{') || s.includes('{%');
const quote = (s: string) => JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);

/** Why a rendered value is not one address, or undefined when it is. */
export function addressProblem(value: string): string | undefined {
  if (/[\u0000-\u001f\u007f]/.test(value)) return `${quote(value)} contains a control character (a line break would start a new header)`;
  const { addressparser, email: EMAIL } = lib();
  const parsed = addressparser(value);
  if (parsed.length !== 1) {
    return `${quote(value)} is ${parsed.length} addresses; a templated item takes exactly one (list several addresses as several items)`;
  }
  const [one] = parsed;
  if (!one || one.group) return `${quote(value)} is an address group; a templated item takes exactly one address`;
  if (!EMAIL.test(one.address)) return `${quote(value)} is not an email address (name@example.com)`;
  return undefined;
}

/**
 * Built once from the options as configured (templates unrendered); checks
 * the rendered options of each delivery. An item counts as written out when
 * it is one of the configured items without markup.
 */
export function addressChecker(configured: AddressOptions): (rendered: AddressOptions) => CheckedAddresses {
  const literal = new Map<Field, Set<string>>(
    FIELDS.map((f) => [f, new Set([configured[f] ?? []].flat().filter((item) => !isTemplate(item)))]),
  );
  const items = (rendered: AddressOptions, field: Field): string[] => {
    const value = rendered[field];
    const list = [value ?? []].flat();
    return list.flatMap((item, i) => {
      if (literal.get(field)?.has(item)) return [item];
      // A template over an absent value leaves the item out (an optional cc), never an empty address.
      if (item.trim() === '') return [];
      const problem = addressProblem(item);
      if (problem) throw new DeliveryError(`${Array.isArray(value) ? `${field}[${i}]` : field}: ${problem}`, { retryable: false });
      return [item.trim()];
    });
  };
  return (rendered) => {
    const [from] = items(rendered, 'from');
    if (from === undefined) throw new DeliveryError('from: rendered empty; a message needs a sender', { retryable: false });
    return { from, to: items(rendered, 'to'), cc: items(rendered, 'cc'), bcc: items(rendered, 'bcc'), replyTo: items(rendered, 'replyTo') };
  };
}
