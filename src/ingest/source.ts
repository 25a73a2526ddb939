// A source: a URL path, a verifier, and where its events keep their type and id.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigIssue } from '../errors.js';
import type { Scheme, SchemeOptionsBase, Verifier, VerifyRequest } from '../verify/types.js';
import type { IdSpec, SourceConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { compileAllowlist } from './allowlist.js';
import { createRateLimit, type LimiterFactory, type RateLimit } from './rate-limit.js';
import { DEFAULT_LIMITS, type IngestLimits } from './bounds.js';
import { toMs } from '../config/units.js';
import { compileJsonPath, type Select } from '../match/jsonpath.js';

/** How long identical id-less bodies count as one event, unless a source sets `dedupWindow`. */
export const DEFAULT_DEDUP_WINDOW = '1h';

export interface CompiledSource {
  name: string;
  path: string;
  scheme: Scheme;
  verifier: Verifier;
  /** The scheme's options with secrets resolved (for `relay send`). */
  options: SchemeOptionsBase;
  typeOf(req: VerifyRequest, payload: unknown): string | undefined;
  idOf(req: VerifyRequest, payload: unknown): string | undefined;
  /** Human description of where the type is read, for error answers. */
  typeFrom: string;
  /** Inbound protection, checked before the body is read. */
  allow?: (ip: string) => boolean;
  limit?: RateLimit;
  /** Bounds on type, id and payload depth (the config's `limits`). */
  limits: IngestLimits;
}

const SECRET_KEYS = new Set(['scheme', 'secret', 'secrets', 'secretFile']);

export function compileSource(
  name: string,
  cfg: SourceConfig,
  schemes: ReadonlyMap<string, Scheme>,
  baseDir: string,
  issues: ConfigIssue[],
  limiterFactory?: LimiterFactory,
  limits: IngestLimits = DEFAULT_LIMITS,
): CompiledSource | undefined {
  const at = ['sources', name];
  const scheme = schemes.get(cfg.verify.scheme);
  if (!scheme) return undefined; // the schema already reported it

  const secrets = [...(cfg.verify.secret !== undefined ? [cfg.verify.secret] : []), ...(cfg.verify.secrets ?? [])];
  if (cfg.verify.secretFile) {
    try {
      const text = readFileSync(resolve(baseDir, cfg.verify.secretFile), 'utf8');
      secrets.push(...text.split(/\r?\n/).map((s) => s.trim()));
    } catch (err) {
      issues.push({ path: [...at, 'verify', 'secretFile'], message: `cannot read secret file: ${(err as Error).message}` });
    }
  }
  const usable = secrets.filter((s) => s.trim() !== '');
  if (scheme.needsSecret && usable.length === 0) {
    issues.push({
      path: [...at, 'verify'],
      message: `source "${name}" verifies with ${scheme.name} but has no secret; Relay will not accept unverified events (set secret, secrets or secretFile)`,
    });
    return undefined;
  }
  if (scheme.name === 'none') {
    issues.push({ path: [...at, 'verify', 'scheme'], severity: 'warning', message: `source "${name}" accepts unsigned events from anyone` });
  }

  const options: SchemeOptionsBase & Record<string, unknown> = { secrets: usable };
  for (const [key, value] of Object.entries(cfg.verify)) if (!SECRET_KEYS.has(key)) options[key] = value;

  let verifier: Verifier;
  try {
    verifier = scheme.create(options);
  } catch (err) {
    issues.push({ path: [...at, 'verify'], message: (err as Error).message });
    return undefined;
  }

  const typeSpec = cfg.event?.type ?? scheme.defaults?.typePath;
  const idSpec = cfg.event?.id ?? scheme.defaults?.idPath;
  // An explicit `event:` setting wins; otherwise the scheme's headers, then its default path.
  const windowMs = Math.max(1, toMs(cfg.dedupWindow ?? DEFAULT_DEDUP_WINDOW));
  const typeOf = pick(cfg.event?.type, (req, payload) => scheme.identify?.(req, payload).type, scheme.defaults?.typePath, windowMs);
  const fromScheme = cfg.event?.id === undefined && scheme.unsignedId ? signedKey(scheme.unsignedId, typeOf) : undefined;
  const idOf = fromScheme ?? pick(cfg.event?.id, (req, payload) => scheme.identify?.(req, payload).id, scheme.defaults?.idPath, windowMs);

  let allow: ((ip: string) => boolean) | undefined;
  let limit: RateLimit | undefined;
  try {
    if (cfg.allowlist) allow = compileAllowlist(cfg.allowlist, [...at, 'allowlist']);
    if (cfg.rateLimit) limit = createRateLimit(cfg.rateLimit, [...at, 'rateLimit'], limiterFactory);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    issues.push(...err.issues);
    return undefined;
  }

  return {
    name,
    path: cfg.path,
    ...(allow && { allow }),
    ...(limit && { limit }),
    limits,
    scheme,
    verifier,
    options,
    typeOf,
    // Without an id anywhere, the body's hash still catches exact re-sends within dedupWindow.
    idOf: (req, payload) => idOf(req, payload) ?? windowedHash(req, windowMs),
    typeFrom: typeof typeSpec === 'string' ? typeSpec : typeSpec && 'header' in typeSpec ? `header ${typeSpec.header}` : 'the scheme',
  };
}

type Extract = (req: VerifyRequest, payload: unknown) => string | undefined;

function pick(explicit: IdSpec | undefined, fromScheme: Extract, defaultPath: string | undefined, windowMs: number): Extract {
  if (explicit !== undefined) return extractor(explicit, windowMs);
  const fallback = defaultPath ? extractor(defaultPath, windowMs) : () => undefined;
  return (req, payload) => fromScheme(req, payload) ?? fallback(req, payload);
}

function extractor(spec: IdSpec, windowMs: number): Extract {
  if (typeof spec === 'string') {
    const select = compiledPath(spec);
    return (_req, payload) => scalarAt(payload, select);
  }
  if ('header' in spec) {
    const name = spec.header.toLowerCase();
    return (req) => req.headers[name]?.[0];
  }
  return (req) => windowedHash(req, windowMs);
}

/**
 * The dedup key of a scheme whose id header is not signed (src/verify/types.ts):
 * what the signature covers, so a re-sent body is a duplicate whatever id or
 * (for `body`) type its headers claim.
 */
function signedKey(by: 'body' | 'type+body', typeOf: Extract): Extract {
  return (req, payload) => {
    const hash = createHash('sha256');
    if (by === 'type+body') hash.update(`${typeOf(req, payload) ?? ''}\n`);
    return `sha256:${hash.update(req.rawBody).digest('hex')}`;
  };
}

/**
 * The body's hash and the window it arrived in: identical bodies within one
 * window are one event, a body resent in a later window is a new one
 * (Alertmanager resends identical notifications on purpose). Windows are fixed
 * (multiples of windowMs since the epoch) so every instance agrees without a lookup.
 */
function windowedHash(req: VerifyRequest, windowMs: number): string {
  const start = Math.floor(req.now / windowMs) * windowMs;
  return `${sha256(req.rawBody)}@${start}`;
}

/** Compiled once per config: the library's own query re-parses the path on every event. */
function compiledPath(path: string): Select {
  try {
    return compileJsonPath(path);
  } catch {
    // Refused by validation already; a path that cannot parse selects nothing.
    return () => false;
  }
}

function scalarAt(payload: unknown, select: Select): string | undefined {
  if (payload === null || typeof payload !== 'object') return undefined;
  let found: string | undefined;
  select(payload, (node) => {
    if (typeof node === 'string' || typeof node === 'number') found = String(node);
    return true; // the first node only, as before
  });
  return found;
}

function sha256(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
