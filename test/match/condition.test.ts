import { Ajv } from 'ajv';
import { query } from 'jsonpath-rfc9535';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { issuesOf } from '../helpers/config-errors.js';
import {
  compileCondition,
  compileJsonPath,
  conditionSchema,
  deepEqual,
  whenSchema,
  type ConditionConfig,
} from '../../src/match/condition.js';

const payload = {
  data: {
    id: 'doc_1',
    count: 3,
    score: 0.5,
    at: '2024-05-01T10:00:00Z',
    flag: false,
    nothing: null,
    title: 'Quarterly report',
    meta: { lang: 'en', pages: [1, 2] },
    document: { ai_tags: ['legal', 'finance'] },
    items: [
      { sku: 'A-1', qty: 1, tags: ['x'] },
      { sku: 'B-2', qty: 5, tags: ['y', 'z'] },
    ],
  },
};

const holdsOn = (cond: ConditionConfig | ConditionConfig[], p: unknown): boolean => compileCondition(cond, ['when']).test(p);
const holds = (cond: ConditionConfig | ConditionConfig[]): boolean => holdsOn(cond, payload);


describe('operators', () => {
  it.each<[string, ConditionConfig, boolean]>([
    ['equals string', { path: '$.data.id', equals: 'doc_1' }, true],
    ['equals string (false)', { path: '$.data.id', equals: 'doc_2' }, false],
    ['equals number', { path: '$.data.count', equals: 3 }, true],
    ['equals false', { path: '$.data.flag', equals: false }, true],
    ['equals null', { path: '$.data.nothing', equals: null }, true],
    ['equals deep object', { path: '$.data.meta', equals: { pages: [1, 2], lang: 'en' } }, true],
    ['equals deep object (false)', { path: '$.data.meta', equals: { lang: 'en', pages: [2, 1] } }, false],
    ['equals type mismatch', { path: '$.data.count', equals: '3' }, false],
    ['notEquals', { path: '$.data.id', notEquals: 'doc_2' }, true],
    ['notEquals (false)', { path: '$.data.id', notEquals: 'doc_1' }, false],
    ['notEquals deep', { path: '$.data.meta.pages', notEquals: [1, 2] }, false],
    ['in', { path: '$.data.id', in: ['doc_0', 'doc_1'] }, true],
    ['in (false)', { path: '$.data.id', in: ['doc_0'] }, false],
    ['in deep', { path: '$.data.meta.pages', in: [[1], [1, 2]] }, true],
    ['notIn', { path: '$.data.id', notIn: ['doc_0'] }, true],
    ['notIn (false)', { path: '$.data.id', notIn: ['doc_1', 'x'] }, false],
    ['gt number', { path: '$.data.count', gt: 2 }, true],
    ['gt number (false: equal)', { path: '$.data.count', gt: 3 }, false],
    ['gte number', { path: '$.data.count', gte: 3 }, true],
    ['gte number (false)', { path: '$.data.count', gte: 4 }, false],
    ['lt number', { path: '$.data.score', lt: 1 }, true],
    ['lt number (false)', { path: '$.data.score', lt: 0.5 }, false],
    ['lte number', { path: '$.data.score', lte: 0.5 }, true],
    ['lte number (false)', { path: '$.data.score', lte: 0.4 }, false],
    ['gt ISO timestamp', { path: '$.data.at', gt: '2024-01-01T00:00:00Z' }, true],
    ['lt ISO timestamp (false)', { path: '$.data.at', lt: '2024-01-01T00:00:00Z' }, false],
    ['gt number vs string node', { path: '$.data.at', gt: 1 }, false],
    ['gt string vs number node', { path: '$.data.count', gt: '1' }, false],
    ['lt on null node', { path: '$.data.nothing', lt: 1 }, false],
    ['matches', { path: '$.data.title', matches: '^Quarterly\\s' }, true],
    ['matches unanchored', { path: '$.data.title', matches: 'report' }, true],
    ['matches (false)', { path: '$.data.title', matches: '^report' }, false],
    ['matches u flag', { path: '$.data.title', matches: '^\\p{Lu}' }, true],
    ['matches non-string node', { path: '$.data.count', matches: '3' }, false],
    ['contains substring', { path: '$.data.title', contains: 'report' }, true],
    ['contains substring (false)', { path: '$.data.title', contains: 'Report' }, false],
    ['contains array element', { path: '$.data.document.ai_tags', contains: 'legal' }, true],
    ['contains array element (false)', { path: '$.data.document.ai_tags', contains: 'contract' }, false],
    ['contains deep element', { path: '$.data.items', contains: { sku: 'A-1', qty: 1, tags: ['x'] } }, true],
    ['contains on number node', { path: '$.data.count', contains: 3 }, false],
    ['contains number in string', { path: '$.data.id', contains: 1 }, false],
    ['startsWith', { path: '$.data.id', startsWith: 'doc_' }, true],
    ['startsWith (false)', { path: '$.data.id', startsWith: 'x' }, false],
    ['startsWith non-string node', { path: '$.data.count', startsWith: '3' }, false],
    ['endsWith', { path: '$.data.id', endsWith: '_1' }, true],
    ['endsWith (false)', { path: '$.data.id', endsWith: '_2' }, false],
    ['exists true', { path: '$.data.nothing', exists: true }, true],
    ['exists true on missing', { path: '$.data.missing', exists: true }, false],
    ['exists false on missing', { path: '$.data.missing', exists: false }, true],
    ['exists false on present', { path: '$.data.id', exists: false }, false],
  ])('%s', (_name, cond, expected) => {
    expect(holds(cond)).toBe(expected);
  });

  it('a missing path is false for every operator but exists: false', () => {
    const ops: ConditionConfig[] = [
      { path: '$.nope', equals: 1 },
      { path: '$.nope', notEquals: 1 },
      { path: '$.nope', in: [1] },
      { path: '$.nope', notIn: [1] },
      { path: '$.nope', gt: 0 },
      { path: '$.nope', matches: '.*' },
      { path: '$.nope', contains: 'a' },
      { path: '$.nope.deeper[0]', startsWith: '' },
      { path: '$.nope', exists: true },
    ];
    for (const c of ops) expect(holds(c), JSON.stringify(c)).toBe(false);
    expect(holds({ path: '$.nope', exists: false })).toBe(true);
  });

  it('walking through the wrong type selects nothing and never throws', () => {
    for (const p of [null, undefined, 42, 'str', [], { data: 'x' }, { data: [1, 2] }]) {
      expect(holdsOn({ path: '$.data.id', equals: 'doc_1' }, p)).toBe(false);
      expect(holdsOn({ path: '$', exists: true }, p)).toBe(p !== undefined);
      expect(holdsOn({ path: '$.data[0]', exists: true }, p)).toBe(Array.isArray((p as { data?: unknown } | null)?.data));
    }
  });

  it('does not see inherited properties', () => {
    expect(holds({ path: '$.data.constructor', exists: true })).toBe(false);
    expect(holds({ path: '$.data.toString', exists: true })).toBe(false);
  });
});

describe('multi-node paths: any selected node', () => {
  it.each<[ConditionConfig, boolean]>([
    [{ path: '$.data.items[*].sku', equals: 'B-2' }, true],
    [{ path: '$.data.items[*].sku', equals: 'C-3' }, false],
    [{ path: '$.data.items[*].qty', gt: 4 }, true],
    [{ path: '$.data.items[*].qty', gt: 5 }, false],
    [{ path: '$.data.items[*].tags', contains: 'z' }, true],
    [{ path: '$.data.items[-1].sku', equals: 'B-2' }, true],
    [{ path: "$.data.items[0]['sku','qty']", equals: 1 }, true],
    [{ path: '$.data.meta.*', equals: 'en' }, true],
    [{ path: '$.data.items[?@.qty > 2].sku', equals: 'B-2' }, true],
    [{ path: '$.data.items[?@.qty > 2].sku', equals: 'A-1' }, false],
    [{ path: '$..sku', startsWith: 'B' }, true],
    [{ path: '$.data.items[0:1].sku', equals: 'B-2' }, false],
    [{ path: '$.data.items[*].nope', exists: true }, false],
    [{ path: '$.data.items[*].sku', exists: true }, true],
  ])('%j => %s', (cond, expected) => {
    expect(holds(cond)).toBe(expected);
  });

  it('the fast path selects the same nodes as the library', () => {
    const paths = ['$', '$.data.items[*].sku', '$.data.meta.*', "$['data']['items'][-1]", '$.data.items[5]',
      "$.data.items[0]['sku','qty',*]", '$.data.*.*', '$.data.id.x', '$[0]', '$.data.meta.pages[-3]'];
    for (const p of paths) {
      const ours: unknown[] = [];
      compileJsonPath(p)(payload, (n) => (ours.push(n), false));
      expect(ours, p).toEqual(query(payload, p));
    }
  });
});

describe('combinators', () => {
  const yes: ConditionConfig = { path: '$.data.id', equals: 'doc_1' };
  const no: ConditionConfig = { path: '$.data.id', equals: 'nope' };
  it.each<[string, ConditionConfig | ConditionConfig[], boolean]>([
    ['all true', { all: [yes, yes] }, true],
    ['all false', { all: [yes, no] }, false],
    ['any true', { any: [no, yes] }, true],
    ['any false', { any: [no, no] }, false],
    ['not', { not: no }, true],
    ['not (false)', { not: yes }, false],
    ['when list is all', [yes, yes], true],
    ['when list is all (false)', [yes, no], false],
    ['nested', { all: [{ any: [no, { not: no }] }, { not: { all: [yes, no] } }] }, true],
    ['nested (false)', { any: [{ all: [yes, no] }, { not: { any: [no, yes] } }] }, false],
  ])('%s', (_name, cond, expected) => {
    expect(holds(cond)).toBe(expected);
  });
});

describe('compile errors', () => {
  it('an invalid JSONPath is a ConfigError at the path key', () => {
    const issues = issuesOf(() => compileCondition({ all: [{ path: '$.a', exists: true }, { path: 'data.x', equals: 1 }] }, ['rules', 2, 'when']));
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual(['rules', 2, 'when', 'all', 1, 'path']);
    expect(issues[0]?.message).toMatch(/invalid JSONPath "data\.x"/);
  });

  it('an invalid regex is a ConfigError at the matches key', () => {
    const issues = issuesOf(() => compileCondition({ all: [{ path: '$.a', exists: true }, { path: '$.b', matches: '(' }] }, ['rules', 2, 'when']));
    expect(issues[0]?.path).toEqual(['rules', 2, 'when', 'all', 1, 'matches']);
    expect(issues[0]?.message).toMatch(/regular expression/);
  });

  it('collects every issue, in lists and nested combinators', () => {
    const bad = [
      { path: '$[', equals: 1 },
      { any: [{ not: { path: '$.a', matches: '[' } }] },
      { path: '$.a', equals: 1, exists: true },
      { path: '$.a', like: 'x' },
      { path: '$.a', in: 'x' },
      { path: '$.a', gt: true },
      { all: [] },
      { all: [], any: [] },
      'nope',
    ] as unknown as ConditionConfig[];
    const issues = issuesOf(() => compileCondition(bad, ['w']));
    expect(issues.map((i) => i.path)).toEqual([
      ['w', 0, 'path'],
      ['w', 1, 'any', 0, 'not', 'matches'],
      ['w', 2],
      ['w', 3],
      ['w', 4, 'in'],
      ['w', 5, 'gt'],
      ['w', 6, 'all'],
      ['w', 7],
      ['w', 8],
    ]);
    expect(issues[3]?.message).toMatch(/unknown operator 'like'/);
    expect(issues[4]?.message).toMatch(/expected a list/);
  });
});

describe('explain', () => {
  const explain = (cond: ConditionConfig | ConditionConfig[]) => compileCondition(cond, ['rules', 0, 'when']).explain(payload);

  it('ok when it holds', () => {
    expect(explain({ path: '$.data.id', equals: 'doc_1' })).toEqual({ ok: true });
  });

  it('names the leaf, the selected nodes and the key path', () => {
    expect(explain({ all: [{ path: '$.data.id', exists: true }, { path: '$.data.document.ai_tags', contains: 'contract' }] })).toEqual({
      ok: false,
      path: ['rules', 0, 'when', 'all', 1],
      reason: '$.data.document.ai_tags contains "contract": no selected node satisfied it (selected: ["legal","finance"])',
    });
    expect(explain({ path: '$.data.items[*].qty', gt: 9 })).toMatchObject({ reason: '$.data.items[*].qty gt 9: no selected node satisfied it (selected 2 nodes: [1,5])' });
  });

  it('missing paths and exists', () => {
    expect(explain({ path: '$.data.x', exists: true })).toMatchObject({ reason: '$.data.x exists: no node selected' });
    expect(explain({ path: '$.data.x', equals: 1 })).toMatchObject({ reason: '$.data.x equals 1: no node selected' });
    expect(explain({ path: '$.data.id', exists: false })).toMatchObject({ reason: '$.data.id exists false: 1 node(s) selected (["doc_1"])' });
  });

  it('any and not', () => {
    expect(explain([{ path: '$.data.id', exists: true }, { any: [{ path: '$.data.a', equals: 1 }, { path: '$.data.b', equals: 2 }] }])).toEqual({
      ok: false,
      path: ['rules', 0, 'when', 1, 'any'],
      reason: "none of the 2 'any' conditions held; first: $.data.a equals 1: no node selected",
    });
    expect(explain({ not: { path: '$.data.id', equals: 'doc_1' } })).toEqual({
      ok: false,
      path: ['rules', 0, 'when', 'not'],
      reason: "'not' failed: the inner condition held",
    });
  });
});

describe('deepEqual', () => {
  it('compares JSON values structurally', () => {
    expect(deepEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(deepEqual([1], { 0: 1 })).toBe(false);
    expect(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true);
    expect(deepEqual(null, {})).toBe(false);
  });
});

describe('conditionSchema', () => {
  const ajv = new Ajv({ allErrors: true, strict: true });
  // Embedded once in a bigger document, as the loader would, and used via whenSchema.
  const validate = ajv.compile({
    type: 'object',
    properties: { when: whenSchema, other: { $ref: '#/definitions/x' } },
    definitions: { condition: conditionSchema, x: { type: 'string' } },
  });
  it.each<[unknown, boolean]>([
    [{ path: '$.a', equals: 1 }, true],
    [{ all: [{ path: '$.a', exists: true }, { not: { any: [{ path: '$.b', in: [1, 2] }] } }] }, true],
    [[{ path: '$.a', matches: 'x' }, { path: '$.b', gte: '2024' }], true],
    [{ path: '$.a' }, false],
    [{ equals: 1 }, false],
    [{ path: '$.a', equals: 1, notEquals: 2 }, false],
    [{ path: '$.a', like: 1 }, false],
    [{ path: '$.a', exists: 'yes' }, false],
    [{ path: '$.a', gt: {} }, false],
    [{ all: [] }, false],
    [{ all: [{ path: '$.a' }] }, false],
    [{ not: { path: '$.a', equals: 1 }, any: [] }, false],
    [[], false],
  ])('%j valid: %s', (when, ok) => {
    expect(validate({ when })).toBe(ok);
  });

  it('describes every operator', () => {
    const leaf = (conditionSchema.definitions as Record<string, { properties: Record<string, { description?: string }> }>).leaf;
    for (const [key, prop] of Object.entries(leaf?.properties ?? {})) expect(prop.description, key).toBeTruthy();
    expect(Object.keys(leaf?.properties ?? {})).toHaveLength(14);
  });

  it('can be added to ajv on its own and referenced by id', () => {
    const own = new Ajv({ strict: true });
    own.addSchema(conditionSchema);
    const v = own.compile({ type: 'array', items: { $ref: 'https://relay.dev/schemas/condition.json' } });
    expect(v([{ path: '$.a', equals: 1 }])).toBe(true);
    expect(v([{ path: '$.a' }])).toBe(false);
  });
});
