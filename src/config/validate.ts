// ajv, configured once, and its errors turned into ConfigIssues that say what
// was expected in words a config author uses.
//
// Compiling the config schema took most of `relay validate`'s time and left
// tens of MB of garbage in a fresh `relay serve`. The build therefore writes
// the validators of the schemas Relay ships (scripts/build-validators.mjs,
// from precompiledSchemas()) as ajv standalone code, keyed by a hash of each
// schema's JSON: a schema that changed since the build, or a custom plugin's,
// has no entry and is compiled here as before, so the schema stays the one
// source of truth. ajv itself is loaded only for such a compile.

import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Ajv, ErrorObject, Options } from 'ajv';
import type { ConfigIssue } from '../errors.js';
import type { JsonSchema } from '../plugin.js';
import { didYouMean } from './suggest.js';

// useDefaults fills in documented defaults, so the rest of Relay never guesses them.
// Validators compiled at run time are used once per config load, never per
// event, so ajv's code optimisation passes cost more than they save.
const AJV_OPTIONS: Options = { allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true, verbose: true, code: { optimize: false } };

/** The file the build writes beside this module (dist/src/config/). */
export const PRECOMPILED_FILE = 'validators.generated.cjs';

const require = createRequire(import.meta.url);

/** `standalone`: keep the generated source for the build, optimised there since it is written once. */
export function createAjv(options: { standalone?: boolean } = {}): Ajv {
  // ajv is CommonJS: a synchronous require keeps validateWith synchronous.
  const { Ajv: AjvClass } = require('ajv') as typeof import('ajv');
  return new AjvClass(options.standalone ? { ...AJV_OPTIONS, code: { optimize: true, source: true } } : AJV_OPTIONS);
}

export type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };

/** What the precompiled table is keyed by: the schema's content, so a stale entry can never match. */
export function schemaKey(schema: JsonSchema): string {
  return `s${createHash('sha256').update(JSON.stringify(schema)).digest('hex')}`;
}

let precompiled: Record<string, Validator> | undefined;
function precompiledTable(): Record<string, Validator> {
  if (!precompiled) {
    try {
      precompiled = require(`./${PRECOMPILED_FILE}`) as Record<string, Validator>;
    } catch (err) {
      // Not built (the sources run under the test runner or tsx): compile everything.
      const missing = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && (err as Error).message.includes(PRECOMPILED_FILE);
      if (!missing) throw err;
      precompiled = {};
    }
  }
  return precompiled;
}

const cache = new WeakMap<JsonSchema, Validator>();
let shared: Ajv | undefined;

/** The validator of `schema`: the build's when it has one, else compiled (once per schema object). */
export function validatorFor(schema: JsonSchema): Validator {
  let validate = cache.get(schema);
  if (!validate) {
    validate = precompiledTable()[schemaKey(schema)];
    // A schema with an $id (the config's) gets an ajv of its own: one ajv refuses a second schema with the same $id.
    validate ??= (schema.$id !== undefined ? createAjv() : (shared ??= createAjv())).compile(schema) as Validator;
    cache.set(schema, validate);
  }
  return validate;
}

/** Validates (and fills defaults into) `value`; issues are prefixed with `basePath`. */
export function validateWith(schema: JsonSchema, value: unknown, basePath: ReadonlyArray<string | number>): ConfigIssue[] {
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  return toIssues(validate.errors ?? [], basePath);
}

export function toIssues(errors: ErrorObject[], basePath: ReadonlyArray<string | number>): ConfigIssue[] {
  const kept = collapseAlternatives(errors);
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const err of kept) {
    // if/then wrappers repeat what their branches already said.
    if (err.keyword === 'if' || err.keyword === 'allOf') continue;
    const path = [...basePath, ...pointerToPath(err.instancePath)];
    const { message, key } = describe(err);
    if (key !== undefined) path.push(key);
    const id = `${path.join('.')}|${message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    issues.push({ path, message });
  }
  return issues;
}

/**
 * A failed anyOf/oneOf reports every branch's errors (one `equal:` typo in a
 * condition gave a dozen lines). Its branches' errors are the run of errors
 * on its value just before it (ajv evaluates branches in turn; with `$ref`
 * branches their schema paths do not say which branch they came from), and
 * of those we keep what the author most likely meant:
 * - a branch of another type (an array where an object was written) was not meant;
 * - of object branches, the one whose keys cover most of the value's keys;
 * - when what is left is only format noise, the alternative's own description.
 * Innermost alternatives first, as ajv reports them.
 */
function collapseAlternatives(errors: ErrorObject[]): ErrorObject[] {
  const dropped = new Set<ErrorObject>();
  for (const [index, alt] of errors.entries()) {
    if (alt.keyword !== 'anyOf' && alt.keyword !== 'oneOf') continue;
    const under = (e: ErrorObject) => e.instancePath === alt.instancePath || e.instancePath.startsWith(`${alt.instancePath}/`);
    const run: ErrorObject[] = [];
    for (let i = index - 1; i >= 0 && under(errors[i]!); i--) run.push(errors[i]!);
    const live = () => run.filter((e) => !dropped.has(e));
    if (run.length === 0) continue;

    const wrongType = live().filter((e) => e.keyword === 'type' && e.instancePath === alt.instancePath);
    if (wrongType.length < live().length) for (const e of wrongType) dropped.add(e);

    const data = alt.data;
    if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
      const keys = Object.keys(data);
      const shapes = new Map<unknown, ErrorObject[]>();
      for (const e of live()) {
        if (e.instancePath !== alt.instancePath || (e.keyword !== 'required' && e.keyword !== 'additionalProperties')) continue;
        shapes.set(e.parentSchema, [...(shapes.get(e.parentSchema) ?? []), e]);
      }
      const score = (schema: unknown) => {
        const props = ((schema as JsonSchema | undefined)?.properties ?? {}) as object;
        return keys.filter((k) => k in props).length;
      };
      const ranked = [...shapes.keys()].map((schema) => ({ schema, score: score(schema) })).sort((x, y) => y.score - x.score);
      if (ranked.length > 1 && ranked[0]!.score > ranked[1]!.score) {
        for (const { schema } of ranked.slice(1)) for (const e of shapes.get(schema)!) dropped.add(e);
      }
    }

    const left = live();
    const described = Boolean((alt.parentSchema as JsonSchema | undefined)?.['x-expected'] ?? (alt.parentSchema as JsonSchema | undefined)?.description);
    const noise = left.every((e) => e.keyword === 'pattern' && !(e.parentSchema as JsonSchema | undefined)?.['x-expected']);
    const ambiguous = left.some((e) => e.keyword === 'required' && e.instancePath === alt.instancePath) && left.length > 1 && new Set(left.map((e) => e.parentSchema)).size > 1;
    if (left.length === 0 || (described && (noise || ambiguous))) {
      for (const e of left) dropped.add(e);
    } else {
      dropped.add(alt);
    }
  }
  return errors.filter((e) => !dropped.has(e));
}

function describe(err: ErrorObject): { message: string; key?: string } {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return { message: `missing required key "${String(p.missingProperty)}"` };
    case 'additionalProperties': {
      const known = Object.keys(((err.parentSchema as JsonSchema | undefined)?.properties as object) ?? {});
      const key = String(p.additionalProperty);
      return { key, message: `unknown key "${key}"${didYouMean(key, known)}${known.length ? ` (known: ${known.join(', ')})` : ''}` };
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      const got = typeof err.data === 'string' ? err.data : undefined;
      return { message: `${got !== undefined ? `"${got}" is not one of` : 'expected one of'}: ${allowed.join(', ')}${got !== undefined ? didYouMean(got, allowed) : ''}` };
    }
    case 'const':
      return { message: `expected ${JSON.stringify(p.allowedValue)}` };
    case 'type':
      return { message: `expected ${String(p.type)}` };
    case 'pattern': {
      const expected = (err.parentSchema as JsonSchema | undefined)?.['x-expected'];
      return { message: expected ? `expected ${String(expected)}` : patternInWords(String(p.pattern)) };
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum': {
      const words = { minimum: 'at least', maximum: 'at most', exclusiveMinimum: 'more than', exclusiveMaximum: 'less than' }[err.keyword];
      return { message: `must be ${words} ${String(p.limit)}` };
    }
    case 'minItems':
      return { message: `needs at least ${String(p.limit)} item(s)` };
    case 'minLength':
      return { message: Number(p.limit) === 1 ? 'must not be empty' : `needs at least ${String(p.limit)} characters` };
    case 'anyOf': {
      // `x-expected` survives `{...durationSchema, description}` spreads; descriptions do not.
      const parent = err.parentSchema as JsonSchema | undefined;
      const expected = parent?.['x-expected'] ?? parent?.description;
      return { message: `expected ${expected ? String(expected).replace(/\.$/, '') : 'one of the allowed forms'}` };
    }
    default:
      return { message: err.message ?? err.keyword };
  }
}

function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

/**
 * The prefix patterns schemas use (`^/`, `^https?://`, `^(mqtts?|wss?)://`)
 * read as "must start with /" or "must start with http:// or https://".
 * Anything else is not shown as a regex either.
 */
export function patternInWords(pattern: string): string {
  const prefixes = pattern.startsWith('^') && !pattern.endsWith('$') ? expand(pattern.slice(1)) : undefined;
  if (!prefixes || prefixes.length === 0 || prefixes.length > 8) return 'is not in the expected form (see the documentation of this key)';
  const quoted = prefixes.map((x) => `"${x}"`);
  return `must start with ${quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`}`;
}

/** Every string a small regex (literals, `\x` escapes, `c?`, `(a|b)` groups) matches, or undefined. */
function expand(re: string): string[] | undefined {
  let out = [''];
  let i = 0;
  const optional = () => re[i] === '?' && (i++, true);
  while (i < re.length) {
    let options: string[] | undefined;
    const ch = re[i]!;
    if (ch === '\\') {
      options = [re[i + 1] ?? ''];
      i += 2;
    } else if (ch === '(') {
      const close = re.indexOf(')', i);
      if (close < 0) return undefined;
      const body = re.slice(re[i + 1] === '?' && re[i + 2] === ':' ? i + 3 : i + 1, close);
      const parts = body.split('|').map(expand);
      if (parts.some((p) => p === undefined)) return undefined;
      options = parts.flat() as string[];
      i = close + 1;
    } else if (/[A-Za-z0-9/:._-]/.test(ch)) {
      options = [ch];
      i++;
    } else return undefined;
    if (optional()) options = ['', ...options];
    out = out.flatMap((o) => options!.map((x) => o + x));
  }
  return out;
}
