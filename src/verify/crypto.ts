// Shared by every scheme so the sharp edges (repeated headers, lenient
// decoders, length leaks, clock skew) are handled once.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { VerifyOutcome, VerifyRequest } from './types.js';

export type Algorithm = 'sha1' | 'sha256' | 'sha512';
export type Encoding = 'hex' | 'base64';

export function hmac(algorithm: Algorithm, key: Buffer, ...parts: Array<string | Buffer>): Buffer {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

export function sha256(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

/** timingSafeEqual throws on unequal lengths; a length mismatch is simply "no". */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Buffer.from silently drops bad characters, so a sloppy value could decode to a prefix: check first. */
export function decode(value: string, encoding: Encoding): Buffer | undefined {
  const valid = encoding === 'hex' ? HEX.test(value) : value !== '' && BASE64.test(value);
  return valid ? Buffer.from(value, encoding) : undefined;
}

export type HeaderValue = { ok: true; value: string } | { ok: false; reason: string };

/** A repeated header is refused: proxies disagree on which copy wins, and an attacker chooses. */
export function readHeader(req: VerifyRequest, name: string): HeaderValue {
  const values = req.headers[name.toLowerCase()];
  if (!values || values.length === 0) return { ok: false, reason: `missing ${name} header` };
  if (values.length > 1) return { ok: false, reason: `${name} header sent more than once` };
  return { ok: true, value: values[0] ?? '' };
}

/** For identify(): the header's value when sent exactly once. */
export function headerValue(req: VerifyRequest, name: string): string | undefined {
  const h = readHeader(req, name);
  return h.ok ? h.value : undefined;
}

/** A reason when `value` is not unix seconds within `toleranceSec` of `nowMs`, either way. */
export function checkTimestamp(value: string, nowMs: number, toleranceSec: number): string | undefined {
  if (!/^\d{1,12}$/.test(value)) return 'timestamp is not unix seconds';
  const age = Math.floor(nowMs / 1000) - Number(value);
  if (age > toleranceSec) return 'timestamp is too old';
  if (-age > toleranceSec) return 'timestamp is in the future';
  return undefined;
}

/** Tolerance in seconds; NaN would pass every age comparison, so anything but a positive finite number is refused. */
/** The `tolerance` option of timestamped schemes; `header` names what it bounds. */
export function toleranceOption(header: string): Record<string, unknown> {
  return {
    type: 'number',
    exclusiveMinimum: 0,
    default: 300,
    description: `Seconds ${header} may differ from now, either way (replay protection).`,
  };
}

export function toleranceOf(scheme: string, value: number | undefined, fallback: number): number {
  const t = value ?? fallback;
  if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) throw new Error(`${scheme}: tolerance must be a positive number of seconds`);
  return t;
}

/** Key bytes for each secret; an empty secret would make an HMAC anyone can compute. */
export function secretKeys(
  scheme: string,
  secrets: readonly string[],
  toKey: (secret: string) => Buffer | undefined = utf8,
): Buffer[] {
  if (!Array.isArray(secrets) || secrets.length === 0) throw new Error(`${scheme}: at least one secret is required`);
  return secrets.map((secret, i) => {
    const key = typeof secret === 'string' && secret !== '' ? toKey(secret) : undefined;
    if (!key || key.length === 0) throw new Error(`${scheme}: secrets[${i}] is empty or invalid`);
    return key;
  });
}

function utf8(secret: string): Buffer {
  return Buffer.from(secret, 'utf8');
}

/**
 * Tries every key (rotation) against every signature the sender offered.
 * Every key is tried even after a match so timing does not reveal which one matched.
 */
export function matchAny(
  keys: readonly Buffer[],
  given: readonly Buffer[],
  mac: (key: Buffer) => Buffer,
  reason = 'signature does not match',
): VerifyOutcome {
  let found = -1;
  keys.forEach((key, i) => {
    const expected = mac(key);
    if (found < 0 && given.some((sig) => safeEqual(sig, expected))) found = i;
  });
  return found >= 0 ? { ok: true, secret: found } : fail(reason);
}

export function fail(reason: string): VerifyOutcome {
  return { ok: false, reason };
}

/** Compares digests, not the values, so the length check does not reveal a token's length. */
export function tokenMatch(keys: readonly Buffer[], given: Buffer, reason: string): VerifyOutcome {
  return matchAny(keys, [sha256(given)], sha256, reason);
}

/** The first secret, for sign(): any configured secret verifies, and the first is the one the docs show. */
export function firstSecret(scheme: string, secrets: readonly string[]): string {
  const secret = secrets[0];
  if (!secret) throw new Error(`${scheme}: sign() needs a secret`);
  return secret;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
