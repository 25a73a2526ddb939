// The build writes the validators of Relay's own schemas as ajv standalone
// code (scripts/build-validators.mjs) and validate.ts uses one only when its
// schema's hash matches. These check that the build covers every such schema
// and that a precompiled validator says exactly what ajv compiling the schema
// at run time says: verdict, errors (so every message, line:col and
// did-you-mean) and the defaults it fills in.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { precompiledSchemas } from '../../src/config/precompile.js';
import { createAjv, schemaKey, toIssues, type Validator } from '../../src/config/validate.js';
import type { JsonSchema } from '../../src/plugin.js';

const require = createRequire(import.meta.url);
// dist/ is what `relay` runs; `npm test` builds it first.
const built = require('../../dist/src/config/validators.generated.cjs') as Record<string, Validator>;
const schemas = precompiledSchemas();
const [configSchema] = schemas;

function outcome(validate: Validator, value: unknown) {
  const data = structuredClone(value);
  const ok = validate(data);
  const errors = validate.errors ?? [];
  return {
    ok,
    data,
    issues: toIssues(errors, []),
    errors: errors.map(({ keyword, instancePath, schemaPath, params, message, data: at }) => ({ keyword, instancePath, schemaPath, params, message, at })),
  };
}

function agree(schema: JsonSchema, values: unknown[]): void {
  const precompiled = built[schemaKey(schema)]!;
  const compiled = createAjv().compile(schema) as Validator;
  for (const value of values) expect(outcome(precompiled, value)).toEqual(outcome(compiled, value));
}

const scalar = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('1h', '-5', '1mb', '$.id', 'log', 'fifo', 'archivus', '^x'));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 3 })),
})).v;

describe('precompiled validators', () => {
  it('exist for every schema Relay ships (a miss means dist/ is older than the sources: npm run build)', () => {
    const missing = schemas.filter((s) => typeof built[schemaKey(s)] !== 'function').map((s) => (s.title ?? s.description ?? JSON.stringify(s).slice(0, 80)) as string);
    expect(missing).toEqual([]);
  });

  it('agree with the schema compiled at run time on the shipped config, broken variants of it, and arbitrary values', () => {
    const shipped = parse(readFileSync('relay.config.yaml', 'utf8')) as Record<string, unknown>;
    const broken = [
      { ...shipped, sourcse: {} },
      { ...shipped, storage: { driver: 'sqlit', retention: 'a week' } },
      { ...shipped, rules: [{ name: 'r', on: 'x', when: { path: '$.a', equal: 1 }, actions: [{ use: 'log', colour: 'red' }] }] },
      { ...shipped, delivery: { retry: { attempts: 0 }, circuit: { failures: 'many' } } },
      { ...shipped, sources: { a: { path: 'no-slash', verify: { scheme: 'stripe', secret: 's', tolerance: 'soon' } } } },
    ];
    const mutated = fc.sample(
      fc.tuple(fc.constantFrom('server', 'storage', 'delivery', 'sources', 'actions', 'rules', 'egress', 'limits', 'log'), value),
      { numRuns: 60, seed: 13 },
    ).map(([key, v]) => ({ ...shipped, [key]: v }));
    agree(configSchema!, [shipped, ...broken, ...mutated]);
  });

  it('agree on every plugin option schema and the config test-file schema', () => {
    const values = [{}, { url: 'http://x', text: 'hi' }, ...fc.sample(value, { numRuns: 20, seed: 14 })];
    for (const schema of schemas.slice(1)) agree(schema, values);
  });
});
