// Liquid templates in action options (`text: "New doc {{ payload.data.id }}"`).
// Parsed at load so a broken template is a config error with its key path;
// rendered synchronously per event from the parsed form. Options a plugin
// declares as URLs are rendered URL-aware: see compileUrlTemplate.

import { createRequire } from 'node:module';
import type { Liquid, Template } from 'liquidjs';
import { ConfigError, configIssue, formatPath, type ConfigIssue } from '../errors.js';
import type { TemplateContext } from '../event.js';
import { DeliveryError, type JsonValue } from '../plugin.js';

// Required, not imported: an import of this CommonJS bundle also has Node's
// lexer scan its 180 kB for export names, a cost every start paid.
const { Drop, Liquid: LiquidEngine } = createRequire(import.meta.url)('liquidjs') as typeof import('liquidjs');

type KeyPath = (string | number)[];

/** Objects and arrays print as JSON (Liquid would print `[object Object]`). */
function printable(v: unknown): unknown {
  return v !== null && typeof v === 'object' && !(v instanceof Drop) ? JSON.stringify(v) : v;
}

/**
 * A locked-down engine. Payloads are untrusted: `ownPropertyOnly` hides
 * prototypes (`{{ payload.constructor }}` is empty). `strictFilters` makes a
 * misspelt filter a load-time error instead of a silent no-op. The limits
 * bound what one render can cost. Every output goes through `escape`.
 */
function engine(escape: (v: unknown) => unknown): Liquid {
  const liquid = new LiquidEngine({
    ownPropertyOnly: true,
    strictFilters: true,
    strictVariables: false,
    renderLimit: 1_000,
    memoryLimit: 1e8,
    outputEscape: escape as (v: unknown) => string,
  });
  // Templates come from the config, not from files: no tag may read the disk,
  // and using one is a parse error at load.
  for (const tag of ['include', 'render', 'layout']) delete liquid.tags[tag];
  return liquid;
}

/** Text options: `| json` prints JSON explicitly, `| join: ", "` lists an array, `| raw` opts out. */
const liquid = engine(printable);

/**
 * URL options: every output is percent-encoded as a URI component, so a
 * value can never add a `/`, `?`, `#`, `&` or `@` of its own. There is no
 * opting out: `| raw` is not a filter here.
 */
const urlLiquid = engine((v) => (v === undefined || v === null ? '' : encodeURIComponent(String(printable(v)))));
delete urlLiquid.filters.raw;

/**
 * A render failed (a filter threw, a limit was hit, a URL came out unsafe);
 * `path` is the template's key path. The same event fails the same way on
 * every attempt, so it is not retried; except the render-time limit, which a
 * stalled process (a long GC pause, a starved CPU) can hit on any event.
 */
export class TemplateError extends DeliveryError {
  readonly path: readonly (string | number)[];
  constructor(path: readonly (string | number)[], message: string, cause?: unknown) {
    super(`template at ${formatPath(path)} failed to render: ${message}`, { retryable: /render limit exceeded/.test(message), cause });
    this.name = 'TemplateError';
    this.path = path;
  }
}

/** Strings without Liquid markup skip the engine entirely (most option values). */
function isTemplate(source: string): boolean {
  return source.includes('{{') || source.includes('{%');
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Parses `source` now; the returned function renders it. Missing variables
 * render empty; a render error is thrown as a TemplateError, never a crash.
 */
export function compileTemplate(source: string, path: KeyPath): (ctx: TemplateContext) => string {
  if (!isTemplate(source)) return () => source;
  return parse(liquid, source, path);
}

function parse(engine: Liquid, source: string, path: KeyPath): (ctx: TemplateContext) => string {
  let parsed: Template[];
  try {
    parsed = engine.parse(source);
  } catch (err) {
    const hint = engine === urlLiquid && /undefined filter: raw/.test(errorMessage(err)) ? ' (values in a URL are always percent-encoded)' : '';
    throw configIssue(path, `invalid template: ${errorMessage(err)}${hint}`);
  }
  const at = [...path];
  return (ctx) => {
    try {
      return String(engine.renderSync(parsed, ctx));
    } catch (err) {
      throw new TemplateError(at, errorMessage(err), err);
    }
  };
}

// Scheme, `//`, then the authority (user info, host, port) up to the first
// delimiter. Backslash counts: URL parsers read it as `/` in http(s).
const LITERAL_ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/?#\\]*[/?#\\]/i;

/**
 * For editors (`relay schema`): a URL template whose scheme, user info, host
 * and port are written out, or one that comes whole from `${VAR}`.
 */
export const URL_TEMPLATE_PATTERN = '^(?:\\$\\{|[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#\\\\{]|\\{(?![{%]))*(?:[/?#\\\\]|$))';

/** Scheme, user info, host and port: what a template must never decide. */
function authorityOf(url: URL): string {
  return `${url.protocol}//${url.username}:${url.password}@${url.host}`;
}

/**
 * A URL option. A literal must parse as a URL. A template must write the
 * scheme, user info, host and port out, up to the first `/`, `?` or `#`
 * (refused at load otherwise); every value it interpolates is
 * percent-encoded as a URI component, so an event can change the path,
 * query or fragment but never where the request goes. A rendered path that
 * would climb with a `.` or `..` segment fails the delivery.
 */
export function compileUrlTemplate(source: string, path: KeyPath): (ctx: TemplateContext) => string {
  const markup = firstMarkup(source);
  if (markup === -1) {
    checkUrl(source, path);
    return () => source;
  }
  const origin = LITERAL_ORIGIN.exec(source.slice(0, markup))?.[0];
  if (origin === undefined || !URL.canParse(origin)) {
    throw configIssue(
      path,
      `a template may not decide a URL's scheme, host or port (it starts at character ${markup + 1}): ` +
        'write them out up to the first "/", "?" or "#", e.g. https://api.example.com/tenants/{{ payload.tenant }}',
    );
  }
  const expected = authorityOf(new URL(origin));
  const render = parse(urlLiquid, source, path);
  const at = [...path];
  return (ctx) => {
    const out = render(ctx);
    if (!URL.canParse(out) || authorityOf(new URL(out)) !== expected) {
      // Unreachable while outputs are encoded; kept so a future change cannot make it reachable unnoticed.
      throw new TemplateError(at, `the rendered URL does not keep ${origin.slice(0, -1)}`);
    }
    const dots = dotSegment(out.slice(origin.length - 1));
    if (dots !== undefined) throw new TemplateError(at, `the rendered path has a "${dots}" segment, which would leave the configured path`);
    return out;
  };
}

/** A URL option that is not a template: it must parse, as written. */
export function checkUrl(source: string, path: KeyPath): void {
  if (!URL.canParse(source)) throw configIssue(path, `"${source.slice(0, 200)}" is not a URL`);
}

function firstMarkup(source: string): number {
  const found = [source.indexOf('{{'), source.indexOf('{%')].filter((i) => i !== -1);
  return found.length ? Math.min(...found) : -1;
}

/** A `.` or `..` path segment (also written %2e, as URL parsers read it), if any. */
function dotSegment(rest: string): string | undefined {
  const pathPart = /^[^?#]*/.exec(rest)?.[0] ?? '';
  return pathPart.split(/[/\\]/).find((seg) => /^(?:\.|%2e){1,2}$/i.test(seg));
}

/**
 * Compiles every string leaf of an option value (objects and arrays too) and
 * reports every broken template at once. Keys are never templates. Subtrees
 * without templates are returned as the same object on every render, so
 * callers must not mutate the result.
 */
export function compileTemplates(value: JsonValue, path: KeyPath): (ctx: TemplateContext) => JsonValue {
  const issues: ConfigIssue[] = [];
  const render = compileValue(value, path, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return render ?? (() => value);
}

type Render = (ctx: TemplateContext) => JsonValue;

/** Returns undefined when `value` holds no template, so constant subtrees cost nothing. */
function compileValue(value: JsonValue, path: KeyPath, issues: ConfigIssue[]): Render | undefined {
  if (typeof value === 'string') {
    if (!isTemplate(value)) return undefined;
    try {
      return compileTemplate(value, path);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
      return undefined;
    }
  }
  if (Array.isArray(value)) {
    const items = value.map((v, i) => compileValue(v, [...path, i], issues));
    if (items.every((r) => r === undefined)) return undefined;
    return (ctx) => items.map((r, i) => (r ? r(ctx) : (value[i] as JsonValue)));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]): [string, JsonValue, Render | undefined] => [k, v, compileValue(v, [...path, k], issues)]);
    if (entries.every(([, , r]) => r === undefined)) return undefined;
    // fromEntries defines own properties, so a `__proto__` key stays a plain key.
    return (ctx) => Object.fromEntries(entries.map(([k, v, r]) => [k, r ? r(ctx) : v]));
  }
  return undefined;
}
