import { describe, expect, it, vi } from 'vitest';
import { issuesOf } from '../helpers/config-errors.js';
import { compileGlobs } from '../../src/match/glob.js';
import { RuleSet, type RuleConfig } from '../../src/match/rules.js';

const ev = (type: string, payload: unknown = {}, source = 'github') => ({ type, source, payload });
const names = (rs: readonly { name: string }[]) => rs.map((r) => r.name);


describe('globs', () => {
  it.each<[string[], string, boolean]>([
    [['document.*'], 'document.processed', true],
    [['document.*'], 'document.', true],
    [['document.*'], 'document', false],
    [['document.*'], 'document.processed.v2', false],
    [['document.*'], 'documents.processed', false],
    [['pull_request.*'], 'pull_request.opened', true],
    [['pull_request.*'], 'pull_requestXopened', false],
    [['document.**'], 'document.processed.v2', true],
    [['**.failed'], 'a.b.failed', true],
    [['**.failed'], 'failed', false],
    [['*.failed'], 'a.b.failed', false],
    [['*'], 'a.b.c', true],
    [['**'], 'anything', true],
    [['a.*', 'b.*'], 'b.x', true],
    [['a+b.*'], 'aab.x', false],
    [['a+b.*'], 'a+b.x', true],
  ])('%j ~ %s => %s', (patterns, type, expected) => {
    expect(compileGlobs(patterns)(type)).toBe(expected);
  });
});

describe('RuleSet.match', () => {
  const rules: RuleConfig[] = [
    { name: 'docs', on: 'document.*' },
    { name: 'processed', on: ['document.processed', 'invoice.paid'] },
    { name: 'legal', on: 'document.processed', when: { path: '$.data.tags', contains: 'legal' } },
    { name: 'from-stripe', on: '**', source: 'stripe' },
    { name: 'prs', on: 'pull_request.*', source: ['github', 'gitea'] },
    { name: 'everything', on: '*' },
  ];
  const set = new RuleSet(rules);

  it('fans out to every matching rule, in config order', () => {
    expect(names(set.match(ev('document.processed', { data: { tags: ['legal'] } })))).toEqual(['docs', 'processed', 'legal', 'everything']);
    expect(names(set.match(ev('document.processed', { data: { tags: [] } })))).toEqual(['docs', 'processed', 'everything']);
    expect(names(set.match(ev('document.deleted')))).toEqual(['docs', 'everything']);
  });

  it('exact types are exact', () => {
    expect(names(set.match(ev('invoice.paid')))).toEqual(['processed', 'everything']);
    expect(names(set.match(ev('invoice.paid.x')))).toEqual(['everything']);
    expect(names(set.match(ev('Invoice.paid')))).toEqual(['everything']);
  });

  it('filters by source', () => {
    expect(names(set.match(ev('pull_request.opened')))).toEqual(['prs', 'everything']);
    expect(names(set.match(ev('pull_request.opened', {}, 'gitea')))).toEqual(['prs', 'everything']);
    expect(names(set.match(ev('pull_request.opened', {}, 'stripe')))).toEqual(['from-stripe', 'everything']);
  });

  it('stop: no later rule is evaluated once a stop rule matched', () => {
    const spy = vi.fn(() => false);
    const s = new RuleSet([
      { name: 'a', on: 'x' },
      { name: 'b', on: 'x', stop: true, when: { path: '$.go', equals: true } },
      { name: 'c', on: 'x', when: { path: '$.spy', exists: true } },
      { name: 'd', on: '*' },
    ]);
    // A non-matching stop rule does not stop anything.
    expect(names(s.match(ev('x', { go: false })))).toEqual(['a', 'd']);
    const payload = { go: true, get spy() { return spy(); } };
    expect(names(s.match(ev('x', payload)))).toEqual(['a', 'b']);
    expect(spy).not.toHaveBeenCalled();
    expect(names(s.match(ev('y', { go: true })))).toEqual(['d']);
  });

  it('a rule listing a type both exactly and by glob fires once', () => {
    const s = new RuleSet([{ name: 'a', on: ['doc.x', 'doc.*'] }, { name: 'b', on: 'doc.x' }]);
    expect(names(s.match(ev('doc.x')))).toEqual(['a', 'b']);
  });

  it('returns the same results from the per-type cache, even past its bound', () => {
    const s = new RuleSet([{ name: 'g', on: 't.*' }, { name: 'e', on: 't.5' }]);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 3000; i++) expect(names(s.match(ev(`t.${i}`)))).toEqual(i === 5 ? ['g', 'e'] : ['g']);
    }
    expect(s.match(ev('u.1'))).toHaveLength(0);
  });
});

describe('the type index', () => {
  // 1,000 rules: 950 on other exact types, 50 on the hot type whose conditions fail.
  function bigSet(extra: RuleConfig[] = []) {
    const rules: RuleConfig[] = [];
    for (let i = 0; i < 950; i++) rules.push({ name: `other-${i}`, on: `other.type${i}`, when: { path: '$.probe', exists: true } });
    for (let i = 0; i < 50; i++) rules.push({ name: `hot-${i}`, on: 'hot.event', when: { path: '$.data.n', equals: -1 } });
    return new RuleSet([...rules, ...extra]);
  }

  it('returns the right rules among 1,000', () => {
    const s = bigSet([{ name: 'hit', on: 'hot.event', when: { path: '$.data.n', equals: 1 } }, { name: 'glob', on: 'hot.*' }]);
    expect(names(s.match(ev('hot.event', { data: { n: 1 } })))).toEqual(['hit', 'glob']);
    expect(names(s.match(ev('other.type7', { probe: 1 })))).toEqual(['other-7']);
    expect(s.candidates('hot.event')).toHaveLength(52);
    expect(s.candidates('other.type7')).toHaveLength(1);
  });

  it('never evaluates conditions of rules on other types', () => {
    const s = bigSet();
    // Every rule on another type reads `$.probe`; reading it calls the spy.
    const probe = vi.fn(() => true);
    const payload = { data: { n: 0 }, get probe() { return probe(); } };
    const spies = s.rules.map((r) => vi.spyOn(r.condition!, 'test'));
    expect(s.match(ev('hot.event', payload))).toHaveLength(0);
    expect(probe).not.toHaveBeenCalled();
    const called = spies.filter((sp) => sp.mock.calls.length > 0).length;
    expect(called).toBe(50);
  });

  it('checks globs once per type, not once per event', () => {
    const s = new RuleSet([{ name: 'g', on: 'doc.*' }, { name: 'e', on: 'doc.a' }]);
    const glob = vi.spyOn(s.rules[0]!, 'matchesType');
    for (let i = 0; i < 10; i++) s.match(ev('doc.a'));
    expect(glob).toHaveBeenCalledTimes(1);
  });
});

describe('RuleSet compile errors', () => {
  it('reports every issue at once, with key paths', () => {
    const issues = issuesOf(() => new RuleSet([
      { name: 'a', on: 'x', when: { path: 'nope', equals: 1 } },
      { name: 'a', on: [] },
      { name: 'c', on: 'x', source: [''], stop: 'yes' },
      { name: 'd', on: 'x', when: [{ path: '$.a', exists: true }, { all: [{ path: '$.a', exists: true }, { path: '$.b', matches: '(' }] }] },
    ] as unknown as RuleConfig[]));
    expect(issues.map((i) => i.path)).toEqual([
      ['rules', 0, 'when', 'path'],
      ['rules', 1, 'name'],
      ['rules', 1, 'on'],
      ['rules', 2, 'source'],
      ['rules', 2, 'stop'],
      ['rules', 3, 'when', 1, 'all', 1, 'matches'],
    ]);
    expect(issues[1]?.message).toMatch(/duplicate rule name 'a'/);
  });

  it('uses basePath', () => {
    const issues = issuesOf(() => new RuleSet([{ name: 'a', on: 'x', when: { path: '$', matches: '[' } }], ['pipelines', 'main', 'rules']));
    expect(issues[0]?.path).toEqual(['pipelines', 'main', 'rules', 0, 'when', 'matches']);
  });
});

describe('RuleSet.explain', () => {
  const s = new RuleSet([
    { name: 'docs', on: ['document.*', 'file.saved'] },
    { name: 'stripe-only', on: '**', source: 'stripe' },
    { name: 'legal', on: 'document.processed', when: { all: [{ path: '$.data.id', exists: true }, { path: '$.data.tags', contains: 'contract' }] } },
    { name: 'gate', on: 'document.processed', stop: true },
    { name: 'late', on: '*' },
  ]);

  it('gives every rule, in order, with reasons', () => {
    const out = s.explain(ev('document.processed', { data: { id: 1, tags: ['legal'] } }));
    expect(out.map((e) => [e.rule.name, e.matched, e.reason])).toEqual([
      ['docs', true, undefined],
      ['stripe-only', false, 'source "github" is not in source: ["stripe"]'],
      ['legal', false, '$.data.tags contains "contract": no selected node satisfied it (selected: ["legal"])'],
      ['gate', true, undefined],
      ['late', false, "not evaluated: rule 'gate' before it has stop: true"],
    ]);
    expect(out[2]?.path).toEqual(['rules', 2, 'when', 'all', 1]);
  });

  it('type mismatch', () => {
    const out = s.explain(ev('invoice.paid'));
    expect(out[0]?.reason).toBe('type "invoice.paid" is not in on: ["document.*", "file.saved"]');
    expect(out.filter((e) => e.matched).map((e) => e.rule.name)).toEqual(['late']);
  });

  it('agrees with match()', () => {
    for (const e of [ev('document.processed', { data: { id: 1, tags: ['contract'] } }), ev('file.saved', {}, 'stripe'), ev('x')]) {
      expect(names(s.explain(e).filter((x) => x.matched).map((x) => x.rule))).toEqual(names(s.match(e)));
    }
  });
});
