// Transforms: an action's message body built from the event, declared in the
// config rather than in code. Two forms, neither of which can run JavaScript:
//
//   transform: { jsonata: '{"text": data.document.filename, "at": $event.receivedAt}' }
//   transform: { template: { text: "{{ payload.data.document.filename }}", tags: "{{ payload.tags }}" } }
//
// Both are compiled at load, so a broken expression is a config error at its
// key path (and, for JSONata, the character it stopped at).

import { createRequire } from 'node:module';
import type jsonataType from 'jsonata';
import { ConfigError, configIssue, formatPath, type ConfigIssue } from '../errors.js';
import type { TemplateContext } from '../event.js';
import { DeliveryError, type JsonSchema, type JsonValue } from '../plugin.js';
import { compileTemplate } from './template.js';

type KeyPath = (string | number)[];

/** What the config holds under a transform option. */
export type TransformConfig = { jsonata: string } | { template: JsonValue };

/** Renders the transform for one delivery: the body to send, as a JSON value. */
export type CompiledTransform = (ctx: TemplateContext) => Promise<JsonValue>;

/**
 * Bounds on one JSONata evaluation. An expression from the config can still
 * recurse forever or build a huge sequence from a big payload; these turn
 * that into a failed attempt instead of a stuck worker.
 */
export const JSONATA_LIMITS = { timeout: 1_000, stack: 500, sequence: 100_000 } as const;

/** The option schema plugins declare (`transform` in forward and the bus actions). */
export const TRANSFORM_SCHEMA: JsonSchema = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: false,
  description:
    'Builds the body from the event, sent as JSON (application/json unless `headers` sets content-type); instead of `body`. ' +
    '`jsonata`: a JSONata expression over the payload (a batch: the array of payloads), with `$event` (id, type, source, receivedAt), ' +
    '`$headers` and, in a batch, `$events`. `template`: a JSON structure whose strings are Liquid templates; a string that is ' +
    'one `{{ }}` expression keeps the value\'s JSON type. No JavaScript runs. See docs/transforms.md.',
  examples: [
    { jsonata: '{"text": $event.type & ": " & data.document.filename, "tags": data.document.ai_tags}' },
    { template: { text: '{{ event.type }}: {{ payload.data.document.filename }}', tags: '{{ payload.data.document.ai_tags }}' } },
  ],
  properties: {
    jsonata: { type: 'string', minLength: 1, description: 'A JSONata expression (jsonata.org).', examples: ['{"id": $event.id, "file": data.document.filename}'] },
    template: {
      description: 'A JSON value (object, array, string, ...) whose strings are Liquid templates.',
      examples: [{ id: '{{ event.id }}', size: '{{ payload.data.document.size }}' }],
    },
  },
};

/** Compiles a transform option now; throws a ConfigError naming the key path. */
export function compileTransform(value: TransformConfig, path: KeyPath): CompiledTransform {
  if ('jsonata' in value) return compileJsonata(value.jsonata, [...path, 'jsonata']);
  return compileJsonTemplate(value.template, [...path, 'template']);
}

interface JsonataFailure {
  code?: string;
  position?: number;
  token?: string;
  message?: string;
}

// JSONata is one 300 kB file: required (not imported, which would also have
// Node's CommonJS lexer scan it) on the first transform a config has.
const require = createRequire(import.meta.url);
let jsonataLib: typeof jsonataType | undefined;
const jsonata = (...args: Parameters<typeof jsonataType>) => (jsonataLib ??= require('jsonata') as typeof jsonataType)(...args);

function compileJsonata(source: string, path: KeyPath): CompiledTransform {
  let expression: jsonataType.Expression;
  try {
    expression = jsonata(source, { ...JSONATA_LIMITS });
  } catch (err) {
    const e = err as JsonataFailure;
    const near = e.token !== undefined ? ` (near "${e.token}")` : '';
    const at = typeof e.position === 'number' ? ` at ${whereIn(source, e.position)}${near}` : '';
    throw configIssue(path, `invalid JSONata${at}: ${e.message ?? String(err)}`);
  }
  return async (ctx) => {
    const input = ctx.events ? ctx.events.map((e) => e.payload) : ctx.payload;
    const bindings = { event: ctx.event, headers: ctx.headers, ...(ctx.events && { events: ctx.events }) };
    let out: unknown;
    try {
      out = await expression.evaluate(input, bindings);
    } catch (err) {
      const e = err as JsonataFailure;
      // A timeout can come from a starved CPU, not the expression: worth another try. Anything else fails the same way every time.
      throw new TransformError(path, `${e.code ? `${e.code} ` : ''}${e.message ?? String(err)}`, e.code === 'D1012', err);
    }
    if (out === undefined) throw new TransformError(path, 'the expression matched nothing for this event (no body to send)', false);
    return toJson(out);
  };
}

/** JSONata positions are 1-based character offsets; a multi-line expression reads better as line and column. */
function whereIn(source: string, position: number): string {
  const before = source.slice(0, Math.max(0, position - 1));
  const lines = before.split('\n');
  if (lines.length === 1) return `character ${position}`;
  return `line ${lines.length}, column ${lines.at(-1)!.length + 1} of the expression`;
}

/** JSONata sequences are arrays with extra markers, and functions can be results: keep plain JSON only. */
function toJson(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value) ?? 'null') as JsonValue;
}

/** A JSON template: strings are Liquid; one that is a single `{{ }}` output keeps the value's type. */
function compileJsonTemplate(value: JsonValue, path: KeyPath): CompiledTransform {
  const issues: ConfigIssue[] = [];
  const render = compileNode(value, path, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return async (ctx) => render(ctx);
}

type Render = (ctx: TemplateContext) => JsonValue;

const WHOLE_OUTPUT = /^\{\{-?((?:(?!\}\}|\{\{)[\s\S])*?)-?\}\}$/;

function compileNode(value: JsonValue, path: KeyPath, issues: ConfigIssue[]): Render {
  const attempt = (fn: () => Render): Render => {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
      return () => null;
    }
  };
  if (typeof value === 'string') {
    const whole = WHOLE_OUTPUT.exec(value.trim());
    if (!whole) return attempt(() => compileTemplate(value, path));
    // Rendered through `| json` and parsed back, by the same locked-down engine: a number stays a number, a list a list.
    const typed = attempt(() => compileTemplate(`{{ ${whole[1]!.trim()} | json }}`, path));
    const at = [...path];
    return (ctx) => {
      const text = String(typed(ctx));
      if (text === '' || text === 'undefined') return null;
      try {
        return JSON.parse(text) as JsonValue;
      } catch {
        throw new TransformError(at, `rendered ${JSON.stringify(text.slice(0, 100))}, which is not JSON`, false);
      }
    };
  }
  if (Array.isArray(value)) {
    const items = value.map((v, i) => compileNode(v, [...path, i], issues));
    return (ctx) => items.map((r) => r(ctx));
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, compileNode(v, [...path, k], issues)] as const);
    // fromEntries defines own properties, so a `__proto__` key stays a plain key.
    return (ctx) => Object.fromEntries(entries.map(([k, r]) => [k, r(ctx)]));
  }
  return () => value;
}

/** A transform failed for this event. Like a template error, it is permanent unless it ran out of time. */
export class TransformError extends DeliveryError {
  readonly path: readonly (string | number)[];
  constructor(path: readonly (string | number)[], message: string, retryable: boolean, cause?: unknown) {
    super(`transform at ${formatPath(path)} failed: ${message}`, { retryable, cause });
    this.name = 'TransformError';
    this.path = path;
  }
}
