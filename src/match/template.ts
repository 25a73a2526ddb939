// Liquid templates in action options (`text: "New doc {{ payload.data.id }}"`).
// Parsed at load so a broken template is a config error with its key path;
// rendered synchronously per event from the parsed form.

import { Drop, Liquid, type Template } from 'liquidjs';
import { ConfigError, configIssue, formatPath, type ConfigIssue } from '../errors.js';
import type { TemplateContext } from '../event.js';
import type { JsonValue } from '../plugin.js';

type KeyPath = (string | number)[];

/**
 * One shared, locked-down engine. Payloads are untrusted: `ownPropertyOnly`
 * hides prototypes (`{{ payload.constructor }}` is empty). `strictFilters`
 * makes a misspelt filter a load-time error instead of a silent no-op. The
 * limits bound what one render can cost. Objects and arrays print as JSON
 * (Liquid would print `[object Object]`); `| json` does the same explicitly,
 * `| join: ", "` lists an array, `| raw` opts out.
 */
const liquid = new Liquid({
  ownPropertyOnly: true,
  strictFilters: true,
  strictVariables: false,
  renderLimit: 1_000,
  memoryLimit: 1e8,
  outputEscape: (v: unknown) => (v !== null && typeof v === 'object' && !(v instanceof Drop) ? JSON.stringify(v) : v) as string,
});
// Templates come from the config, not from files: no tag may read the disk,
// and using one is a parse error at load.
for (const tag of ['include', 'render', 'layout']) delete liquid.tags[tag];

/** A render failed (a filter threw, a limit was hit); `path` is the template's key path. */
export class TemplateError extends Error {
  readonly path: readonly (string | number)[];
  constructor(path: readonly (string | number)[], message: string, cause: unknown) {
    super(`template at ${formatPath(path)} failed to render: ${message}`, { cause });
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
  let parsed: Template[];
  try {
    parsed = liquid.parse(source);
  } catch (err) {
    throw configIssue(path, `invalid template: ${errorMessage(err)}`);
  }
  const at = [...path];
  return (ctx) => {
    try {
      return String(liquid.renderSync(parsed, ctx));
    } catch (err) {
      throw new TemplateError(at, errorMessage(err), err);
    }
  };
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
