// Conditions of a rule's `when:`. Compiled once at load into closures, so the
// per-event path does no parsing, allocates nothing and never throws: a
// benchmark runs 50 failing rules per event and a bad payload must not take
// the pipeline down.

import { ConfigError, type ConfigIssue } from '../errors.js';
import type { JsonSchema, JsonValue } from '../plugin.js';
import { compileJsonPath, isObject, jsonPathProblem, type Select } from './jsonpath.js';

export { compileJsonPath };

type KeyPath = (string | number)[];
type Pred = (node: unknown) => boolean;
const ANY_NODE: Pred = () => true;

/** Deep JSON equality; `===` first so the common primitive case costs one compare. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  const ra = a as Record<string, unknown>, rb = b as Record<string, unknown>;
  for (const k of ka) if (!Object.hasOwn(rb, k) || !deepEqual(ra[k], rb[k])) return false;
  return true;
}

function includes(list: readonly unknown[], v: unknown): boolean {
  for (const x of list) if (deepEqual(x, v)) return true;
  return false;
}

/** The operators a leaf can use, with the type of their value. */
export interface Operators {
  equals: JsonValue;
  notEquals: JsonValue;
  in: JsonValue[];
  notIn: JsonValue[];
  gt: number | string;
  gte: number | string;
  lt: number | string;
  lte: number | string;
  matches: string;
  exists: boolean;
  contains: JsonValue;
  startsWith: string;
  endsWith: string;
}
export type Operator = keyof Operators;
type OneOperator = { [K in Operator]: Pick<Operators, K> & { [P in Exclude<Operator, K>]?: never } }[Operator];

// ajv's strict mode rejects `type: [a, b]`.
const ORDERED: JsonSchema = { anyOf: [{ type: 'number' }, { type: 'string' }] };

/** Schema and description of each operator's value; the keys are also the list of operators. */
const OPERATORS: Record<Operator, JsonSchema> = {
  equals: { description: 'A selected node is deep-equal to this JSON value.' },
  notEquals: { description: 'A selected node is not deep-equal to this value (a missing path is still false).' },
  in: { type: 'array', description: 'A selected node is deep-equal to one of these values.' },
  notIn: { type: 'array', description: 'A selected node is deep-equal to none of these values.' },
  gt: { ...ORDERED, description: 'A selected node is greater: number vs number, or string vs string (ISO timestamps compare).' },
  gte: { ...ORDERED, description: 'A selected node is greater or equal: number vs number, or string vs string.' },
  lt: { ...ORDERED, description: 'A selected node is smaller: number vs number, or string vs string.' },
  lte: { ...ORDERED, description: 'A selected node is smaller or equal: number vs number, or string vs string.' },
  matches: { type: 'string', description: 'A selected string node matches this JavaScript regular expression (u flag, unanchored).' },
  exists: { type: 'boolean', description: 'true: the path selects at least one node; false: it selects none.' },
  contains: { description: 'A selected string contains this substring, or a selected array has an element deep-equal to this value.' },
  startsWith: { type: 'string', description: 'A selected string node starts with this string.' },
  endsWith: { type: 'string', description: 'A selected string node ends with this string.' },
};

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(`expected ${what}`);
}
const equalTo = (v: unknown): Pred => (v === null || typeof v !== 'object' ? (n) => n === v : (n) => deepEqual(n, v));

/**
 * Checks an operator's value (the loader's schema should have, but this API
 * is public) and builds the node predicate. Predicates check the node's type
 * themselves: a mismatch is false, never a throw.
 */
function predicate(op: Operator, v: unknown): Pred {
  switch (op) {
    case 'equals':
      return equalTo(v);
    case 'notEquals': {
      const eq = equalTo(v);
      return (n) => !eq(n);
    }
    case 'in':
    case 'notIn': {
      expect(Array.isArray(v), 'a list of values');
      const list = v as unknown[];
      return op === 'in' ? (n) => includes(list, n) : (n) => !includes(list, n);
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      expect(typeof v === 'number' || typeof v === 'string', 'a number, or a string such as an ISO timestamp');
      const t = typeof v;
      // Typed as numbers for the compiler only: both are strings when t is 'string'.
      const b = v as number;
      if (op === 'gt') return (n) => typeof n === t && (n as number) > b;
      if (op === 'gte') return (n) => typeof n === t && (n as number) >= b;
      if (op === 'lt') return (n) => typeof n === t && (n as number) < b;
      return (n) => typeof n === t && (n as number) <= b;
    }
    case 'matches': {
      expect(typeof v === 'string', 'a regular expression string');
      let re: RegExp;
      try {
        re = new RegExp(v as string, 'u');
      } catch (err) {
        throw new Error(`expected a valid regular expression: ${(err as Error).message}`);
      }
      return (n) => typeof n === 'string' && re.test(n);
    }
    case 'exists':
      expect(typeof v === 'boolean', 'true or false');
      return ANY_NODE;
    case 'contains':
      return (n) => (typeof n === 'string' ? typeof v === 'string' && n.includes(v) : Array.isArray(n) && includes(n, v));
    case 'startsWith':
    case 'endsWith': {
      expect(typeof v === 'string', 'a string');
      const s = v as string;
      return op === 'startsWith' ? (n) => typeof n === 'string' && n.startsWith(s) : (n) => typeof n === 'string' && n.endsWith(s);
    }
  }
}

/** A leaf `{ path, <one operator> }`, or a combinator; nestable. */
export type LeafCondition = { path: string } & OneOperator;
export type ConditionConfig =
  | LeafCondition
  | { all: ConditionConfig[] }
  | { any: ConditionConfig[] }
  | { not: ConditionConfig };

/** `path` is the key path into the config of the condition that failed. */
export type Explanation = { ok: true } | { ok: false; path: KeyPath; reason: string };

export interface CompiledCondition {
  /** Hot path: allocation-free, never throws. */
  test(payload: unknown): boolean;
  /** Dry run: names the first condition that failed and why. Allocates; not for the hot path. */
  explain(payload: unknown): Explanation;
}

const OK: Explanation = { ok: true };


// ---- compiling --------------------------------------------------------------

function preview(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 120 ? `${s.slice(0, 117)}...` : s;
}

function compileLeaf(c: Record<string, unknown>, at: KeyPath, issues: ConfigIssue[]): CompiledCondition {
  const ops = Object.keys(c).filter((k) => k !== 'path');
  const strange = ops.filter((k) => !Object.hasOwn(OPERATORS, k));
  if (strange.length > 0 || ops.length !== 1) {
    const msg = strange.length > 0 ? `unknown operator ${strange.map((k) => `'${k}'`).join(', ')}` : `found ${ops.length}`;
    issues.push({ path: at, message: `a condition needs 'path' and exactly one operator (${Object.keys(OPERATORS).join(', ')}); ${msg}` });
    return NEVER;
  }
  const op = ops[0] as Operator;
  const source = c.path;
  const value = c[op];
  let select: Select = () => false;
  if (typeof source !== 'string') {
    issues.push({ path: [...at, 'path'], message: 'expected a JSONPath string, e.g. $.data.id' });
  } else {
    try {
      select = compileJsonPath(source);
    } catch (err) {
      issues.push({ path: [...at, 'path'], message: jsonPathProblem(source, err) });
    }
  }
  let pred: Pred;
  try {
    pred = predicate(op, value);
  } catch (err) {
    issues.push({ path: [...at, op], message: (err as Error).message });
    return NEVER;
  }
  const path = String(source);
  if (op === 'exists') {
    const want = value === true;
    const test = (p: unknown): boolean => select(p, ANY_NODE) === want;
    return {
      test,
      explain(p) {
        if (test(p)) return OK;
        if (want) return { ok: false, path: at, reason: `${path} exists: no node selected` };
        const nodes = collect(select, p);
        return { ok: false, path: at, reason: `${path} exists false: ${nodes.length} node(s) selected (${preview(nodes)})` };
      },
    };
  }
  const check = pred;
  const label = `${path} ${op} ${preview(value)}`;
  const test = (p: unknown): boolean => select(p, check);
  return {
    test,
    explain(p) {
      if (test(p)) return OK;
      const nodes = collect(select, p);
      if (nodes.length === 0) return { ok: false, path: at, reason: `${label}: no node selected` };
      const shown = nodes.length === 1 ? `selected: ${preview(nodes[0])}` : `selected ${nodes.length} nodes: ${preview(nodes)}`;
      return { ok: false, path: at, reason: `${label}: no selected node satisfied it (${shown})` };
    },
  };
}

function collect(select: Select, payload: unknown): unknown[] {
  const nodes: unknown[] = [];
  select(payload, (n) => (nodes.push(n), false));
  return nodes;
}

/** Stands in for a condition with a config error, so compiling can go on and report every issue. */
const NEVER: CompiledCondition = { test: () => false, explain: () => ({ ok: false, path: [], reason: 'invalid' }) };

function compileList(list: unknown, at: KeyPath, issues: ConfigIssue[]): CompiledCondition[] {
  if (!Array.isArray(list) || list.length === 0) {
    issues.push({ path: at, message: 'expected a non-empty list of conditions' });
    return [];
  }
  return list.map((c, i) => compileNode(c, [...at, i], issues));
}

function allOf(children: CompiledCondition[]): CompiledCondition {
  if (children.length === 1) return children[0] as CompiledCondition;
  return {
    test(p) {
      for (const c of children) if (!c.test(p)) return false;
      return true;
    },
    explain(p) {
      for (const c of children) {
        const e = c.explain(p);
        if (!e.ok) return e;
      }
      return OK;
    },
  };
}

function compileNode(c: unknown, at: KeyPath, issues: ConfigIssue[]): CompiledCondition {
  if (!isObject(c)) {
    issues.push({ path: at, message: 'expected a condition: {path, <operator>}, {all: [...]}, {any: [...]} or {not: {...}}' });
    return NEVER;
  }
  if ('path' in c) return compileLeaf(c, at, issues);
  const keys = Object.keys(c);
  const kind = keys[0];
  if (keys.length !== 1 || (kind !== 'all' && kind !== 'any' && kind !== 'not')) {
    issues.push({ path: at, message: `expected {path, <operator>} or exactly one of all/any/not; found keys: ${keys.join(', ') || 'none'}` });
    return NEVER;
  }
  if (kind === 'all') return allOf(compileList(c.all, [...at, 'all'], issues));
  if (kind === 'not') {
    const inner = compileNode(c.not, [...at, 'not'], issues);
    return {
      test: (p) => !inner.test(p),
      explain: (p) => (inner.test(p) ? { ok: false, path: [...at, 'not'], reason: "'not' failed: the inner condition held" } : OK),
    };
  }
  const children = compileList(c.any, [...at, 'any'], issues);
  const test = (p: unknown): boolean => {
    for (const ch of children) if (ch.test(p)) return true;
    return false;
  };
  return {
    test,
    explain(p) {
      if (test(p)) return OK;
      const first = children[0]?.explain(p);
      const why = first && !first.ok ? `; first: ${first.reason}` : '';
      return { ok: false, path: [...at, 'any'], reason: `none of the ${children.length} 'any' conditions held${why}` };
    },
  };
}

/**
 * Compiles a `when:` (a list means all of them). Throws a ConfigError listing
 * every problem, each at its key path under `basePath`.
 */
export function compileCondition(cond: ConditionConfig | ConditionConfig[], basePath: KeyPath): CompiledCondition {
  const issues: ConfigIssue[] = [];
  const compiled = Array.isArray(cond) ? allOf(compileList(cond, basePath, issues)) : compileNode(cond, basePath, issues);
  if (issues.length > 0) throw new ConfigError(issues);
  return compiled;
}

export const CONDITION_SCHEMA_ID = 'https://relay.dev/schemas/condition.json';
const ref = (name: string): JsonSchema => ({ $ref: `#/definitions/${name}` });
const list = (description: string): JsonSchema => ({ type: 'array', minItems: 1, items: { $ref: '#' }, description });
const only = (key: string, schema: JsonSchema): JsonSchema =>
  ({ type: 'object', required: [key], additionalProperties: false, properties: { [key]: schema } });

/**
 * Draft-07 schema of one condition. Its `$id` makes `#` and `#/definitions/...`
 * resolve inside it wherever it sits, so embed it ONCE (ajv rejects a repeated
 * `$id`), e.g. under the root's `definitions`, or `ajv.addSchema()` it; then
 * refer to it as `whenSchema` does. A leaf is `path` plus exactly one
 * operator: `required: [path]` and min/maxProperties 2.
 */
export const conditionSchema: JsonSchema = {
  $id: CONDITION_SCHEMA_ID,
  description: 'A condition on the payload: {path, <operator>}, or all/any/not of conditions.',
  oneOf: [ref('leaf'), ref('all'), ref('any'), ref('not')],
  definitions: {
    leaf: {
      type: 'object',
      description: 'A JSONPath and exactly one operator. Holds when any selected node satisfies it; a missing path is false (except exists: false).',
      required: ['path'],
      minProperties: 2,
      maxProperties: 2,
      additionalProperties: false,
      properties: {
        path: { type: 'string', description: 'RFC 9535 JSONPath into the payload.', examples: ['$.data.id', '$.items[*].sku'] },
        ...OPERATORS,
      },
    },
    all: only('all', list('Holds when every condition holds.')),
    any: only('any', list('Holds when at least one condition holds.')),
    not: only('not', { $ref: '#', description: 'Holds when the condition does not.' }),
  },
};

/** A rule's `when:`: one condition or a list (all). Needs `conditionSchema` embedded or added once. */
export const whenSchema: JsonSchema = {
  description: 'Conditions on the payload; a list means all of them.',
  oneOf: [{ $ref: CONDITION_SCHEMA_ID }, { type: 'array', minItems: 1, items: { $ref: CONDITION_SCHEMA_ID } }],
};

