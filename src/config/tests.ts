// Config tests (`*.test.yaml`): events and what the config must do with them,
// checked through the dry run, the one matching path `relay test` and the
// admin API use too. No test framework: `relay test --all` runs them in CI.

import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { LineCounter, parseDocument } from './yaml.js';
import { ConfigError, formatIssue } from '../errors.js';
import { dryRun, DryRunError, type DryRunResult } from '../dry-run.js';
import type { JsonSchema, JsonValue } from '../plugin.js';
import type { LoadedConfig } from './load.js';
import { placeIssues } from './locate.js';
import { validateWith } from './validate.js';

export interface TestCase {
  name: string;
  source?: string;
  headers?: Record<string, string>;
  /** A JSON value (sent as its JSON text) or a string (sent as written). */
  body?: JsonValue;
  /** Relative to the test file. */
  bodyFile?: string;
  expect: Expectation;
}

export interface Expectation {
  type?: string;
  id?: string;
  /** Exactly the rules that match, in order. */
  match?: string[];
  /** `rule/action` → rendered fields that must be equal; other fields are not checked. */
  actions?: Record<string, Record<string, JsonValue>>;
  /** The dry run must refuse the event with a message containing this. */
  error?: string;
}

export interface TestFile {
  /** Relative to the test file; default: the config given to `relay test`. */
  config?: string;
  /** Laid over the process environment when loading the config. */
  env?: Record<string, string>;
  cases: TestCase[];
}

export interface Mismatch {
  /** What differs: `match`, `type`, `rule/action field`. */
  what: string;
  expected: unknown;
  actual: unknown;
}

export interface CaseResult {
  name: string;
  passed: boolean;
  mismatches: Mismatch[];
}

export interface FileResult {
  file: string;
  /** The config file the cases ran against. */
  config?: string;
  cases: CaseResult[];
  /** The file, its config or a body file could not be read; no case ran. */
  error?: string;
}

export type ConfigLoader = (path: string, env: NodeJS.ProcessEnv) => Promise<LoadedConfig>;

const scalarMap = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };

export const testFileSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['cases'],
  properties: {
    config: { type: 'string' },
    env: scalarMap,
    cases: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'expect'],
        properties: {
          name: { type: 'string', minLength: 1 },
          source: { type: 'string' },
          headers: scalarMap,
          body: {},
          bodyFile: { type: 'string' },
          expect: {
            type: 'object',
            additionalProperties: false,
            properties: {
              type: { type: 'string' },
              id: { type: 'string' },
              match: { type: 'array', items: { type: 'string' } },
              actions: { type: 'object', propertyNames: { pattern: '/' }, additionalProperties: { type: 'object' } },
              error: { type: 'string' },
            },
          },
        },
      },
    },
  },
};

/** Runs one `*.test.yaml`; never throws for a problem in the file, which is reported in the result. */
export async function runTestFile(file: string, defaultConfig: string, load: ConfigLoader, env: NodeJS.ProcessEnv = process.env): Promise<FileResult> {
  let spec: TestFile;
  try {
    spec = await readTestFile(file);
  } catch (err) {
    return { file, cases: [], error: err instanceof ConfigError ? err.issues.map(formatIssue).join('\n') : (err as Error).message };
  }
  const dir = dirname(resolve(file));
  const config = spec.config !== undefined ? resolve(dir, spec.config) : resolve(defaultConfig);
  let loaded: LoadedConfig;
  try {
    loaded = await load(config, { ...env, ...stringMap(spec.env) });
  } catch (err) {
    const message = err instanceof ConfigError ? err.issues.map(formatIssue).join('\n') : (err as Error).message;
    return { file, config, cases: [], error: `config does not load:\n${message}` };
  }
  const cases: CaseResult[] = [];
  for (const c of spec.cases) {
    let body: Buffer;
    try {
      body = c.bodyFile !== undefined ? await readFile(resolve(dir, c.bodyFile)) : Buffer.from(typeof c.body === 'string' ? c.body : JSON.stringify(c.body));
    } catch (err) {
      return { file, config, cases, error: `case "${c.name}": cannot read bodyFile: ${(err as Error).message}` };
    }
    cases.push(await runCase(loaded, c, body));
  }
  return { file, config, cases };
}

export async function runCase(config: LoadedConfig, c: TestCase, body: Buffer): Promise<CaseResult> {
  const headers = { 'content-type': 'application/json', ...lowerKeys(stringMap(c.headers)) };
  const mismatches: Mismatch[] = [];
  let result: DryRunResult | undefined;
  try {
    result = await dryRun(config, { ...(c.source !== undefined && { source: c.source }), headers, body });
  } catch (err) {
    if (!(err instanceof DryRunError)) throw err;
    const expected = c.expect.error;
    if (expected === undefined || !err.message.includes(expected)) mismatches.push({ what: 'error', expected: expected ?? 'no error', actual: err.message });
  }
  if (result) {
    const e = c.expect;
    if (e.error !== undefined) mismatches.push({ what: 'error', expected: e.error, actual: 'no error' });
    if (e.type !== undefined && e.type !== result.event.type) mismatches.push({ what: 'type', expected: e.type, actual: result.event.type });
    if (e.id !== undefined && e.id !== result.event.id) mismatches.push({ what: 'id', expected: e.id, actual: result.event.id });
    const matched = result.rules.filter((r) => r.matched).map((r) => r.rule);
    if (e.match && !isDeepStrictEqual(e.match, matched)) mismatches.push({ what: 'match', expected: e.match, actual: matched });
    for (const [key, fields] of Object.entries(e.actions ?? {})) mismatches.push(...checkAction(result, key, fields));
  }
  return { name: c.name, passed: mismatches.length === 0, mismatches };
}

function checkAction(result: DryRunResult, key: string, fields: Record<string, JsonValue>): Mismatch[] {
  // Split at the last slash: action names are plugin-like, rule names are free text.
  const at = key.lastIndexOf('/');
  const [ruleName, actionName] = [key.slice(0, at), key.slice(at + 1)];
  const rule = result.rules.find((r) => r.rule === ruleName);
  if (!rule) return [{ what: key, expected: `rule "${ruleName}"`, actual: `no such rule (rules: ${result.rules.map((r) => r.rule).join(', ')})` }];
  if (!rule.matched) return [{ what: key, expected: 'rule matches', actual: `rule does not match: ${rule.reason ?? 'no match'}` }];
  // `#N` (the rule's Nth action, from 0) still names an unnamed inline action
  // here: a test file is read with its config, so a position cannot go stale.
  const position = /^#(\d+)$/.exec(actionName);
  const action = position ? rule.actions?.[Number(position[1])] : rule.actions?.find((a) => a.action === actionName);
  if (!action) return [{ what: key, expected: `action "${actionName}"`, actual: `no such action (actions: ${(rule.actions ?? []).map((a) => a.action).join(', ')})` }];
  return Object.entries(fields)
    .filter(([field, value]) => !isDeepStrictEqual(action.rendered[field], value))
    .map(([field, value]) => ({ what: `${key} ${field}`, expected: value, actual: action.rendered[field] }));
}

async function readTestFile(file: string): Promise<TestFile> {
  const text = await readFile(file, 'utf8');
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const syntax = doc.errors[0];
  if (syntax) throw new Error(`${file}:${lines.linePos(syntax.pos[0]).line}: ${syntax.message.split('\n')[0] ?? ''}`);
  const value: unknown = doc.toJS();
  const issues = validateWith(testFileSchema, value, []);
  const spec = value as TestFile;
  if (issues.length === 0) {
    spec.cases.forEach((c, i) => {
      if ((c.body === undefined) === (c.bodyFile === undefined)) issues.push({ path: ['cases', i], message: 'give exactly one of body and bodyFile' });
    });
  }
  if (issues.length) throw new ConfigError(placeIssues(issues, file, doc, lines));
  return spec;
}

// YAML makes `id: 123` a number; header and env values are strings on the wire.
function stringMap(map: Record<string, unknown> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).map(([k, v]) => [k, String(v)]));
}

function lowerKeys(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k.toLowerCase(), v]));
}
